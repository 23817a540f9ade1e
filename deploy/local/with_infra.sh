#!/usr/bin/env bash
# Runs a command with real Kafka and Postgres: the given ones (KAFKA_BOOTSTRAP_SERVERS,
# DATABASE_URL) or local ones started here and stopped afterwards. What was already
# running before (e.g. `make up`) is used and left running.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/_lib.sh
source "$here/_lib.sh"
LOG_PREFIX=with-infra

started=()
cleanup() {
  local code=$?
  for component in "${started[@]}"; do
    "$here/$component.sh" stop || true
  done
  exit "$code"
}
trap cleanup EXIT INT TERM

if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  if ! "$here/kafka.sh" status >/dev/null 2>&1; then started+=(kafka); fi
  KAFKA_BOOTSTRAP_SERVERS="$("$here/kafka.sh" start)"
  export KAFKA_BOOTSTRAP_SERVERS
fi
if [[ -z "${DATABASE_URL:-}" ]]; then
  if ! "$here/postgres.sh" status >/dev/null 2>&1; then started+=(postgres); fi
  "$here/postgres.sh" start
  DATABASE_URL="$("$here/postgres.sh" url)"
  export DATABASE_URL
fi
log "kafka=$KAFKA_BOOTSTRAP_SERVERS database=${DATABASE_URL%%\?*}"
"$@"
