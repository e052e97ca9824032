#!/usr/bin/env bash
# npm run down: stop the four services (SIGTERM, graceful), then the stack.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ "${1:-}" = --cluster ] || [ "${CLUSTER:-0}" = 1 ]; then
  for pidfile in "$RUN_DIR"/svc-*.pid; do
    [ -f "$pidfile" ] || continue
    stop_pidfile "$pidfile"
  done
  bash infra/stack.sh --cluster stop
  exit 0
fi
if docker_engine && [ -z "$(ls "$RUN_DIR"/*.pid 2>/dev/null)" ]; then
  compose down
  exit 0
fi
for svc in "${SERVICES[@]}"; do
  pidfile="$RUN_DIR/$svc.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { say "$svc: did not stop in 30s, killing"; kill -KILL "$pid"; }
    say "$svc: stopped"
  fi
  rm -f "$pidfile"
done
bash infra/stack.sh stop
