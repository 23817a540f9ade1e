#!/usr/bin/env bash
# Runs a command with real Kafka and Postgres: the given ones (KAFKA_BOOTSTRAP_SERVERS,
# DATABASE_URL) or local ones started here (in parallel) and stopped afterwards. A local
# broker or database that was already running (e.g. `make up`) is used and left running.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/env.sh
source "$here/env.sh"

cleanup() {
  local code=$?
  activator_local_down || true
  exit "$code"
}
trap cleanup EXIT INT TERM

activator_local_up
echo "with-infra: kafka=$KAFKA_BOOTSTRAP_SERVERS database=${DATABASE_URL%%\?*}" >&2
"$@"
