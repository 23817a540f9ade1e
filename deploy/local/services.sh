#!/usr/bin/env bash
# Starts and stops Activator's own processes in the background (make up / make down).
#   services.sh up     start every service that is not running (a crashed one included)
#   services.sh down   stop them all (SIGTERM, then SIGKILL after a grace period)
#   services.sh status one line per service
# Replicas: PUSH_WORKERS=N SYNC_WORKERS=N. Pid files in .activator/run, logs in .activator/log.
set -euo pipefail
# shellcheck source=deploy/local/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
LOG_PREFIX=services

PYTHON_BIN="${PYTHON:-$ACTIVATOR_REPO_ROOT/.venv/bin/python}"
GRACE_S="${ACTIVATOR_STOP_GRACE_S:-30}"
# Workers serve /metrics, /healthz and /readyz on METRICS_PORT: base + their place in the list.
METRICS_BASE="${ACTIVATOR_METRICS_BASE_PORT:-9101}"

# name -> activator subcommand
service_list() {
  echo "mock-platforms mock-platforms"
  echo "status-recorder status-recorder"
  echo "gateway gateway"
  echo "intake intake"
  local i
  for ((i = 1; i <= ${PUSH_WORKERS:-1}; i++)); do
    if ((i == 1)); then echo "push-worker push-worker"; else echo "push-worker-$i push-worker"; fi
  done
  for ((i = 1; i <= ${SYNC_WORKERS:-1}; i++)); do
    if ((i == 1)); then echo "sync-worker sync-worker"; else echo "sync-worker-$i sync-worker"; fi
  done
}

# metrics_port NAME: a worker's METRICS_PORT under `make up`; empty for the gateway (it serves its own).
metrics_port() {
  local name=$1 index=0 n _
  while read -r n _; do
    case "$n" in mock-platforms | gateway) continue ;; esac
    if [[ "$n" == "$name" ]]; then
      echo $((METRICS_BASE + index))
      return
    fi
    index=$((index + 1))
  done < <(service_list)
}

start_one() {
  local name=$1 command=$2 pidfile="$ACTIVATOR_RUN_DIR/$1.pid" pid
  pid=$(read_pid "$pidfile")
  if pid_alive "$pid"; then
    log "$name already running (pid $pid)"
    return
  fi
  local port
  port=$(metrics_port "$name")
  METRICS_PORT="${port:-0}" setsid "$PYTHON_BIN" -m services "$command" >>"$ACTIVATOR_LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  log "$name started (pid $!)"
}

stop_one() {
  local name=$1 pidfile="$ACTIVATOR_RUN_DIR/$1.pid" pid waited=0
  pid=$(read_pid "$pidfile")
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    while pid_alive "$pid" && ((waited < GRACE_S * 10)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if pid_alive "$pid"; then
      log "$name did not stop in ${GRACE_S}s, killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

wait_gateway() {
  local port=${ACTIVATOR_GATEWAY_PORT:-8080} i
  for ((i = 0; i < 600; i++)); do
    if port_open "$port"; then return 0; fi
    pid_alive "$(read_pid "$ACTIVATOR_RUN_DIR/gateway.pid")" || break
    sleep 0.1
  done
  tail -n 40 "$ACTIVATOR_LOG_DIR/gateway.log" >&2 || true
  die "the gateway did not start"
}

case "${1:-}" in
  up)
    mkdir -p "$ACTIVATOR_RUN_DIR" "$ACTIVATOR_LOG_DIR"
    # WARNING: the one "applied N migration(s)" line, not a JSON line per migration step.
    ACTIVATOR_LOG_LEVEL=WARNING "$PYTHON_BIN" -m services migrate >&2
    while read -r name command; do start_one "$name" "$command"; done < <(service_list)
    wait_gateway
    ;;
  down)
    # Stop every service pid file present, replicas included, whatever N is now.
    for pidfile in "$ACTIVATOR_RUN_DIR"/*.pid; do
      [[ -e "$pidfile" ]] || continue
      name=$(basename "$pidfile" .pid)
      case "$name" in kafka | postgres) continue ;; esac
      stop_one "$name"
    done
    ;;
  status)
    while read -r name _; do
      pid=$(read_pid "$ACTIVATOR_RUN_DIR/$name.pid")
      port=$(metrics_port "$name")
      if pid_alive "$pid"; then
        echo "$name running (pid $pid)${port:+, probes http://127.0.0.1:$port/readyz}"
      else
        echo "$name stopped"
      fi
    done < <(service_list)
    ;;
  *)
    echo "usage: $0 {up|down|status}" >&2
    exit 2
    ;;
esac
