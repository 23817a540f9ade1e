#!/usr/bin/env bash
# Port helpers for env.sh (which is POSIX sh and cannot probe ports itself).
#   ports.sh taken PORT...   exit 0 when something listens on any of them
#   ports.sh free-pair       print a port P with P and P+1 free (a broker and its controller)
#   ports.sh free            print one free port
set -euo pipefail
# shellcheck source=deploy/local/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

free_from() {
  local width=$1 port i ok
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 30000))
    ok=1
    for ((i = 0; i < width; i++)); do
      if port_open $((port + i)); then ok=0; fi
    done
    if ((ok)); then
      echo "$port"
      return 0
    fi
  done
  die "no free loopback port found"
}

case "${1:-}" in
  taken)
    shift
    for port in "$@"; do
      if port_open "$port"; then exit 0; fi
    done
    exit 1
    ;;
  free-pair) free_from 2 ;;
  free) free_from 1 ;;
  *)
    echo "usage: $0 {taken PORT...|free-pair|free}" >&2
    exit 2
    ;;
esac
