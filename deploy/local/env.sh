# shellcheck shell=sh
# Sourced, not run:  . deploy/local/env.sh
#
# For Makefile and CI recipes (POSIX sh: make's default /bin/sh is dash). It
# sets no shell options of its own, so it does not change the caller's
# errexit/nounset behaviour.
#
# Exports, without overriding values already given:
#   KAFKA_BOOTSTRAP_SERVERS  default 127.0.0.1:${ACTIVATOR_KAFKA_PORT:-19092}
#   DATABASE_URL             default postgresql://activator:activator@127.0.0.1:${ACTIVATOR_PG_PORT:-15432}/activator
#   ACTIVATOR_KAFKA_LOCAL    1 when KAFKA_BOOTSTRAP_SERVERS is the local broker of
#                            deploy/local/kafka.sh (defaulted here), 0 when it was given
#   ACTIVATOR_PG_LOCAL       the same for DATABASE_URL and deploy/local/postgres.sh
#   ACTIVATOR_KAFKA_STARTED  1 once activator_local_up started the local broker
#                            (it was not running before), else 0
#   ACTIVATOR_PG_STARTED     the same for the local PostgreSQL
#   ACTIVATOR_REPO_ROOT      the checkout these scripts belong to
#
# Defines:
#   activator_local_up     start the local Kafka/PostgreSQL that are in use and
#                          not running yet (both at once); records *_STARTED.
#                          Default ports held by another checkout: free ones instead
#   activator_local_down   stop only what activator_local_up started
#
# A test recipe that only stops what it started:
#   . deploy/local/env.sh && activator_local_up && \
#     { python -m pytest; rc=$?; activator_local_down; exit $rc; }

if [ -z "${ACTIVATOR_REPO_ROOT:-}" ]; then
  # bash tells where this file is; plain sh does not, and then the recipe's
  # working directory (the repo root, for make) is taken.
  # shellcheck disable=SC3028,SC3054
  if [ -n "${BASH_VERSION:-}" ] && [ -n "${BASH_SOURCE:-}" ]; then
    ACTIVATOR_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  else
    ACTIVATOR_REPO_ROOT=$(pwd)
  fi
fi
if [ ! -x "$ACTIVATOR_REPO_ROOT/deploy/local/kafka.sh" ]; then
  echo "env.sh: $ACTIVATOR_REPO_ROOT is not the Activator checkout (source deploy/local/env.sh from the repo root, or set ACTIVATOR_REPO_ROOT)" >&2
fi
export ACTIVATOR_REPO_ROOT

if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${ACTIVATOR_KAFKA_PORT:-19092}"
  ACTIVATOR_KAFKA_LOCAL=1
elif [ "${ACTIVATOR_KAFKA_LOCAL:-0}" != 1 ]; then
  # Given from outside (or sourced twice: then the 1 above is kept).
  ACTIVATOR_KAFKA_LOCAL=0
fi
export KAFKA_BOOTSTRAP_SERVERS ACTIVATOR_KAFKA_LOCAL

if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="postgresql://activator:activator@127.0.0.1:${ACTIVATOR_PG_PORT:-15432}/activator"
  ACTIVATOR_PG_LOCAL=1
elif [ "${ACTIVATOR_PG_LOCAL:-0}" != 1 ]; then
  ACTIVATOR_PG_LOCAL=0
fi
export DATABASE_URL ACTIVATOR_PG_LOCAL

ACTIVATOR_KAFKA_STARTED=${ACTIVATOR_KAFKA_STARTED:-0}
ACTIVATOR_PG_STARTED=${ACTIVATOR_PG_STARTED:-0}
export ACTIVATOR_KAFKA_STARTED ACTIVATOR_PG_STARTED

# A second checkout: the default ports are held by another checkout's broker or database (its `make
# up`), not by ours. Then this checkout's own get free ports, unless the ports were chosen explicitly.
activator_pick_free_ports() {
  _al_dir="$ACTIVATOR_REPO_ROOT/deploy/local"
  if [ "$ACTIVATOR_KAFKA_LOCAL" = 1 ] && [ -z "${ACTIVATOR_KAFKA_PORT:-}" ] \
    && ! "$_al_dir/kafka.sh" status >/dev/null 2>&1 && "$_al_dir/ports.sh" taken 19092 19093; then
    ACTIVATOR_KAFKA_PORT=$("$_al_dir/ports.sh" free-pair)
    KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$ACTIVATOR_KAFKA_PORT"
    echo "env.sh: port 19092 is another checkout's: this checkout's Kafka uses $KAFKA_BOOTSTRAP_SERVERS" >&2
    export ACTIVATOR_KAFKA_PORT KAFKA_BOOTSTRAP_SERVERS
  fi
  if [ "$ACTIVATOR_PG_LOCAL" = 1 ] && [ -z "${ACTIVATOR_PG_PORT:-}" ] \
    && ! "$_al_dir/postgres.sh" status >/dev/null 2>&1 && "$_al_dir/ports.sh" taken 15432; then
    ACTIVATOR_PG_PORT=$("$_al_dir/ports.sh" free)
    DATABASE_URL="postgresql://activator:activator@127.0.0.1:$ACTIVATOR_PG_PORT/activator"
    echo "env.sh: port 15432 is another checkout's: this checkout's PostgreSQL uses port $ACTIVATOR_PG_PORT" >&2
    export ACTIVATOR_PG_PORT DATABASE_URL
  fi
}

activator_local_up() {
  activator_pick_free_ports
  _al_dir="$ACTIVATOR_REPO_ROOT/deploy/local"
  _al_rc=0
  _al_kpid=""
  if [ "$ACTIVATOR_KAFKA_LOCAL" = 1 ] && ! "$_al_dir/kafka.sh" status >/dev/null 2>&1; then
    "$_al_dir/kafka.sh" start >/dev/null &
    _al_kpid=$!
  fi
  if [ "$ACTIVATOR_PG_LOCAL" = 1 ] && ! "$_al_dir/postgres.sh" status >/dev/null 2>&1; then
    if "$_al_dir/postgres.sh" start; then
      ACTIVATOR_PG_STARTED=1
    else
      _al_rc=1
    fi
  elif [ "$ACTIVATOR_PG_LOCAL" = 1 ]; then
    # Running already (make up, say): make sure its database exists; not ours to stop.
    "$_al_dir/postgres.sh" start || _al_rc=1
  fi
  if [ -n "$_al_kpid" ]; then
    if wait "$_al_kpid"; then
      ACTIVATOR_KAFKA_STARTED=1
    else
      _al_rc=1
    fi
  fi
  export ACTIVATOR_KAFKA_STARTED ACTIVATOR_PG_STARTED
  unset _al_dir _al_kpid
  return "$_al_rc"
}

activator_local_down() {
  _al_dir="$ACTIVATOR_REPO_ROOT/deploy/local"
  _al_rc=0
  if [ "${ACTIVATOR_KAFKA_STARTED:-0}" = 1 ]; then
    "$_al_dir/kafka.sh" stop || _al_rc=1
    ACTIVATOR_KAFKA_STARTED=0
  fi
  if [ "${ACTIVATOR_PG_STARTED:-0}" = 1 ]; then
    "$_al_dir/postgres.sh" stop || _al_rc=1
    ACTIVATOR_PG_STARTED=0
  fi
  export ACTIVATOR_KAFKA_STARTED ACTIVATOR_PG_STARTED
  unset _al_dir
  return "$_al_rc"
}
