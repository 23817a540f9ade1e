# shellcheck shell=bash
# Helpers shared by deploy/local/*.sh. Sourced, never run.

ACTIVATOR_LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ACTIVATOR_REPO_ROOT="$(cd "$ACTIVATOR_LOCAL_DIR/../.." && pwd)"
ACTIVATOR_STATE="${ACTIVATOR_STATE_DIR:-$ACTIVATOR_REPO_ROOT/.activator}"
ACTIVATOR_CACHE="${ACTIVATOR_CACHE_DIR:-${HOME:-/root}/.cache/activator}"
# Absolute paths, so a relative setting means the same from every directory.
[[ "$ACTIVATOR_STATE" == /* ]] || ACTIVATOR_STATE="$PWD/$ACTIVATOR_STATE"
[[ "$ACTIVATOR_CACHE" == /* ]] || ACTIVATOR_CACHE="$PWD/$ACTIVATOR_CACHE"
# shellcheck disable=SC2034 # used by the scripts that source this file
ACTIVATOR_RUN_DIR="$ACTIVATOR_STATE/run"
# shellcheck disable=SC2034
ACTIVATOR_LOG_DIR="$ACTIVATOR_STATE/log"

# Diagnostics go to stderr; stdout is kept for what callers capture
# (bootstrap address, database URL).
log() { printf '%s: %s\n' "${LOG_PREFIX:-activator}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# port_open PORT [HOST]: true when something accepts TCP connections there.
port_open() {
  local port=$1 host=${2:-127.0.0.1}
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# pid_alive PID: true when the process exists (and is not a zombie).
pid_alive() {
  local pid=$1 state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/stat" ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$state" != "Z" ]]
}

# read_pid FILE: prints the pid stored in FILE, if any.
read_pid() {
  local file=$1 pid=""
  if [[ -f "$file" ]]; then read -r pid <"$file" || true; fi
  printf '%s' "$pid"
}

# listeners_on PORT: the `ss` lines of TCP listeners on PORT (for diagnostics).
listeners_on() {
  ss -Hltnp "sport = :$1" 2>/dev/null || true
}
