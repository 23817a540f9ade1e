#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for local runs and tests, without Docker.
#
#   deploy/local/postgres.sh start          # initdb (first time), start, create role+db activator with pgcrypto
#   deploy/local/postgres.sh stop           # pg_ctl stop -m fast, then remove the data dir
#   deploy/local/postgres.sh status         # exit 0 when running, 3 when not
#   deploy/local/postgres.sh url            # prints the DATABASE_URL
#   deploy/local/postgres.sh createdb NAME  # an extra database owned by activator, with pgcrypto; prints its URL
#   deploy/local/postgres.sh dropdb NAME    # drops it again
#
# Diagnostics go to stderr; only `url` and `createdb` print on stdout.
#
# Environment (all optional):
#   DATABASE_URL             a database to use instead: start/stop do nothing
#                            (unless ACTIVATOR_PG_LOCAL=1, set by env.sh when it
#                            defaulted the variable to the local cluster)
#   ACTIVATOR_PG_PORT        default 15432 (listens on 127.0.0.1 only)
#   ACTIVATOR_PG_KEEP=1      keep the data dir on stop
#   ACTIVATOR_PG_SSL=1       TLS only: a throwaway CA and server certificate (127.0.0.1, localhost) made
#                            at initdb, plain TCP refused; `url` adds sslmode=verify-full&sslrootcert=<ca>
#   ACTIVATOR_PG_BIN         directory of initdb/pg_ctl (default: newest /usr/lib/postgresql/*/bin)
#   ACTIVATOR_STATE_DIR      default <repo>/.activator (data in pg/data, log in log/postgres.log)
set -euo pipefail

LOG_PREFIX=postgres
# shellcheck source=deploy/local/_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_lib.sh"

PORT="${ACTIVATOR_PG_PORT:-15432}"
DB_NAME=activator
DB_USER=activator
DB_PASSWORD=activator
LOCAL_URL="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
SSL="${ACTIVATOR_PG_SSL:-0}"
PID_FILE="$ACTIVATOR_RUN_DIR/postgres.pid"

usage() {
  echo "usage: $0 {start|stop|status|url|createdb NAME|dropdb NAME}" >&2
  exit 2
}

external_db() {
  [[ -n "${DATABASE_URL:-}" && "${ACTIVATOR_PG_LOCAL:-0}" != 1 ]]
}

find_pg_bin() {
  if [[ -n "${ACTIVATOR_PG_BIN:-}" ]]; then
    echo "$ACTIVATOR_PG_BIN"
    return
  fi
  local dir best
  # The glob sorts 15 before 9: pick the highest major by number.
  best=$(for dir in /usr/lib/postgresql/*/bin; do
    if [[ -x "$dir/initdb" ]]; then echo "$dir"; fi
  done | sort -t/ -k5,5n | tail -n 1)
  if [[ -z "$best" ]] && command -v initdb >/dev/null; then
    best=$(dirname "$(command -v initdb)")
  fi
  [[ -n "$best" ]] || die "no PostgreSQL server binaries found (initdb); install postgresql or set ACTIVATOR_PG_BIN"
  echo "$best"
}

# Run a command as the cluster's owner: the `postgres` user when we are root
# (the server refuses to run as root), ourselves otherwise.
if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to run the server as"
  PG_OS_USER=postgres
  # From /: the server tools complain when they cannot read the cwd.
  as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
  PG_OS_USER=$(id -un)
  as_pg() { "$@"; }
fi

# Where the cluster lives: <state>/pg, unless the postgres user cannot reach
# it (a state dir under /root, say) or the socket path would be too long for
# a unix socket; then a private directory under /tmp keyed by the state dir.
choose_pg_dir() {
  local dir="$ACTIVATOR_STATE/pg" ok=1 parent
  if [[ "$PG_OS_USER" != "$(id -un)" ]]; then
    parent="$ACTIVATOR_STATE"
    while [[ ! -e "$parent" ]]; do parent=$(dirname "$parent"); done
    as_pg test -x "$parent" 2>/dev/null || ok=0
  fi
  # sun_path is 108 bytes: "<dir>/run/.s.PGSQL.<port>" must fit.
  ((${#dir} + 20 < 100)) || ok=0
  if ((ok)); then
    echo "$dir"
  else
    echo "${TMPDIR:-/tmp}/activator-pg-$(printf '%s' "$ACTIVATOR_STATE" | sha256sum | cut -c1-12)"
  fi
}

PG_BIN=$(find_pg_bin)
PG_DIR=$(choose_pg_dir)
DATA_DIR="$PG_DIR/data"
SOCKET_DIR="$PG_DIR/run"
TLS_DIR="$PG_DIR/tls"
if [[ "$SSL" == 1 ]]; then
  LOCAL_URL="$LOCAL_URL?sslmode=verify-full&sslrootcert=$TLS_DIR/ca.crt"
fi
if [[ "$PG_DIR" == "$ACTIVATOR_STATE/pg" ]]; then
  LOG_FILE="$ACTIVATOR_LOG_DIR/postgres.log"
else
  # The server cannot reach the state dir: its log stays beside its data.
  LOG_FILE="$PG_DIR/postgres.log"
fi

pg_ctl() { as_pg "$PG_BIN/pg_ctl" "$@"; }

# psql as the superuser over the unix socket (trust).
psql_admin() {
  local db=$1
  shift
  as_pg env PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U postgres -d "$db" "$@"
}

is_running() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] || return 1
  pg_ctl status -D "$DATA_DIR" >/dev/null 2>&1
}

is_ready() {
  as_pg "$PG_BIN/pg_isready" -q -h "$SOCKET_DIR" -p "$PORT" -d postgres -U postgres
}

make_dirs() {
  mkdir -p "$ACTIVATOR_LOG_DIR" "$ACTIVATOR_RUN_DIR" "$PG_DIR"
  if [[ "$PG_OS_USER" != "$(id -un)" ]]; then
    chown "$PG_OS_USER": "$PG_DIR"
    chmod 0700 "$PG_DIR"
  fi
  # The server appends to its log as $PG_OS_USER; the directory stays ours.
  touch "$LOG_FILE"
  [[ "$PG_OS_USER" == "$(id -un)" ]] || chown "$PG_OS_USER": "$LOG_FILE"
  as_pg mkdir -p "$SOCKET_DIR"
  as_pg chmod 0700 "$SOCKET_DIR"
}

init_cluster() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] && return 0
  as_pg rm -rf "$DATA_DIR"
  log "initdb in $DATA_DIR (owner $PG_OS_USER)"
  if ! as_pg "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2 || true
    as_pg rm -rf "$DATA_DIR"
    die "initdb failed"
  fi
  # Throwaway cluster: loopback only, no durability, enough connections for
  # every service's pool plus the tests.
  as_pg tee -a "$DATA_DIR/postgresql.conf" >/dev/null <<EOF

# --- deploy/local/postgres.sh ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
EOF
  if [[ "$SSL" == 1 ]]; then make_tls; fi
}

# TLS for the throwaway cluster: a CA of its own signs the server's certificate for 127.0.0.1 and
# localhost (verify-full works); the CA stays beside the data for clients (sslrootcert).
make_tls() {
  mkdir -p "$TLS_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=activator-local-ca" \
    -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" >/dev/null 2>&1 || die "openssl: CA"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" >/dev/null 2>&1 || die "openssl: server key"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$TLS_DIR/san.ext"
  openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
    -CAcreateserial -days 7 -extfile "$TLS_DIR/san.ext" -out "$TLS_DIR/server.crt" >/dev/null 2>&1 \
    || die "openssl: server certificate"
  chmod 0644 "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt"
  chmod 0600 "$TLS_DIR/server.key" "$TLS_DIR/ca.key"
  [[ "$PG_OS_USER" == "$(id -un)" ]] || chown -R "$PG_OS_USER": "$TLS_DIR"
  chmod 0755 "$TLS_DIR"
  printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$TLS_DIR/server.crt" "$TLS_DIR/server.key" \
    | as_pg tee -a "$DATA_DIR/postgresql.conf" >/dev/null
  # TCP without TLS is refused; the unix socket (the script's own admin path) stays trusted.
  as_pg sh -c "{ echo 'hostnossl all all 0.0.0.0/0 reject'; cat '$DATA_DIR/pg_hba.conf'; } >'$DATA_DIR/pg_hba.tmp' && mv '$DATA_DIR/pg_hba.tmp' '$DATA_DIR/pg_hba.conf'"
  log "TLS on: CA $TLS_DIR/ca.crt"
}

ensure_database() {
  psql_admin postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
SQL
  psql_admin "$DB_NAME" -c 'CREATE EXTENSION IF NOT EXISTS pgcrypto'
}

cmd_start() {
  if external_db; then
    log "DATABASE_URL is set: using the given database (nothing started)"
    return 0
  fi
  mkdir -p "$ACTIVATOR_RUN_DIR"
  # One start at a time (make test and make up may race here).
  exec 8>"$ACTIVATOR_RUN_DIR/.postgres-start.lock"
  flock -w 120 8 || die "another postgres.sh start holds $ACTIVATOR_RUN_DIR/.postgres-start.lock for over 120s"
  [[ "$PG_DIR" == "$ACTIVATOR_STATE/pg" ]] || log "the postgres user cannot use $ACTIVATOR_STATE/pg: the cluster lives in $PG_DIR"
  make_dirs
  if is_running; then
    log "already running on 127.0.0.1:$PORT (data $DATA_DIR)"
  else
    if port_open "$PORT"; then
      listeners_on "$PORT" >&2
      die "port $PORT is already taken by another process (set ACTIVATOR_PG_PORT to use another)"
    fi
    init_cluster
    log "starting PostgreSQL ($("$PG_BIN/postgres" --version)) on 127.0.0.1:$PORT, log $LOG_FILE"
    # 8>&-: the server must not inherit (and so hold) the start lock.
    if ! pg_ctl start -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 -s 8>&-; then
      tail -n 40 "$LOG_FILE" >&2 || true
      die "the server did not start"
    fi
  fi
  for _ in $(seq 100); do
    is_ready && break
    sleep 0.1
  done
  is_ready || { tail -n 40 "$LOG_FILE" >&2; die "the server does not accept connections"; }
  head -n 1 "$DATA_DIR/postmaster.pid" >"$PID_FILE"
  ensure_database
  log "ready: $LOCAL_URL"
  exec 8>&-
}

cmd_stop() {
  if external_db; then
    log "DATABASE_URL is set: the given database is used, nothing to stop"
    return 0
  fi
  if is_running; then
    log "stopping (pg_ctl stop -m fast)"
    if ! pg_ctl stop -D "$DATA_DIR" -m fast -w -t 30 -s; then
      log "fast shutdown did not finish in 30s: immediate"
      pg_ctl stop -D "$DATA_DIR" -m immediate -w -t 30 -s || true
    fi
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
  if [[ "${ACTIVATOR_PG_KEEP:-0}" != 1 && -d "$PG_DIR" ]]; then
    is_running && die "still running; data dir $DATA_DIR kept"
    rm -rf "$PG_DIR"
    log "removed $PG_DIR"
  fi
}

cmd_status() {
  if external_db; then
    echo "external database (DATABASE_URL)"
    return 0
  fi
  if is_running && is_ready; then
    echo "running: pid $(head -n 1 "$DATA_DIR/postmaster.pid") on 127.0.0.1:$PORT ($LOCAL_URL)"
    return 0
  fi
  echo "stopped"
  return 3
}

cmd_url() {
  if external_db; then
    echo "$DATABASE_URL"
  else
    echo "$LOCAL_URL"
  fi
}

# url_for NAME: the URL of database NAME on the same server as `url`.
url_for() {
  local base query=""
  base=$(cmd_url)
  if [[ "$base" == *\?* ]]; then
    query="?${base#*\?}"
    base=${base%%\?*}
  fi
  echo "${base%/*}/$1$query"
}

check_name() {
  [[ "${1:-}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "database name must match [a-z_][a-z0-9_]* (got '${1:-}')"
  [[ "$1" != "$DB_NAME" && "$1" != postgres && "$1" != template0 && "$1" != template1 ]] \
    || die "refusing to touch database '$1'"
}

cmd_createdb() {
  local name=$1
  check_name "$name"
  if external_db; then
    command -v psql >/dev/null || die "psql not found"
    psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" <<SQL
SELECT 'CREATE DATABASE $name' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$name') \gexec
SQL
    PGOPTIONS='-c client_min_messages=warning' \
      psql -X -q -v ON_ERROR_STOP=1 "$(url_for "$name")" -c 'CREATE EXTENSION IF NOT EXISTS pgcrypto'
  else
    is_running || die "not running (deploy/local/postgres.sh start)"
    psql_admin postgres <<SQL
SELECT 'CREATE DATABASE $name OWNER $DB_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$name') \gexec
SQL
    psql_admin "$name" -c 'CREATE EXTENSION IF NOT EXISTS pgcrypto'
  fi
  url_for "$name"
}

cmd_dropdb() {
  local name=$1
  check_name "$name"
  if external_db; then
    psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)"
  else
    is_running || die "not running"
    psql_admin postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)"
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  createdb) [[ $# -eq 2 ]] || usage; cmd_createdb "$2" ;;
  dropdb) [[ $# -eq 2 ]] || usage; cmd_dropdb "$2" ;;
  *) usage ;;
esac
