#!/usr/bin/env bash
# npm run up: install, provision and start the stack, start the four services, seed a demo, print a walkthrough.
# npm run up -- --cluster (or CLUSTER=1 npm run up): the cluster profile instead (docs/operations.md): three brokers,
# ClickHouse 2 x 2, Redis under Sentinel, two instances of every service, HAProxy in front.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t0=$(date +%s)
[ "${1:-}" = --cluster ] && CLUSTER=1
ensure_built
ensure_secrets

if [ "${CLUSTER:-0}" = 1 ]; then
  start_cluster_services
  set -a; source .stack/cluster.env; source "$SECRETS_FILE"; set +a
  node scripts/seed-demo.mjs
  print_cluster_addresses
  say "npm run up -- --cluster finished in $(( $(date +%s) - t0 ))s (stop it with: npm run down -- --cluster)"
  exit 0
fi

if docker_engine; then
  say "Docker engine found: starting everything with docker compose"
  compose up -d --build --wait
else
  bash infra/stack.sh start
  # shellcheck disable=SC1091
  set -a; source .stack/env; source "$SECRETS_FILE"; set +a
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  for svc in "${SERVICES[@]}"; do
    pidfile="$RUN_DIR/$svc.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "$svc: already running (pid $(cat "$pidfile"))"
      continue
    fi
    KAFKAJS_NO_PARTITIONER_WARNING=1 CLICK_SPOOL_DIR="$ROOT/.stack/spool/redirect" start_service_node "$svc" "$LOG_DIR/$svc.log"
    echo $! >"$pidfile"
    say "$svc: started (pid $!, log $LOG_DIR/$svc.log)"
  done
fi

# readiness is on the ops ports (attribution has no public port: its PORT is its ops port)
ports=(9080 9081 8082 9083)
for i in "${!SERVICES[@]}"; do
  svc=${SERVICES[$i]} port=${ports[$i]}
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    if [ -f "$RUN_DIR/$svc.pid" ] && ! kill -0 "$(cat "$RUN_DIR/$svc.pid")" 2>/dev/null; then
      say "ERROR: $svc exited; last lines of $LOG_DIR/$svc.log:"; tail -n 20 "$LOG_DIR/$svc.log" >&2; exit 1
    fi
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { say "ERROR: $svc not ready on port $port (log: $LOG_DIR/$svc.log)"; exit 1; }
  say "$svc: ready (ops on http://127.0.0.1:$port)"
done

set -a; source "$SECRETS_FILE"; set +a
node scripts/seed-demo.mjs
say "API keys and the click-id secret: $SECRETS_FILE (mode 600; kept across runs, delete it to generate new ones)"
say "npm run up finished in $(( $(date +%s) - t0 ))s"
