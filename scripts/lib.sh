# shellcheck shell=bash
# Shared by scripts/*.sh: repo root, the supported node, dependency install, Docker detection.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SERVICES=(redirect postback attribution reports)
RUN_DIR="$ROOT/.stack/run"
LOG_DIR="$ROOT/.stack/logs"

# Random secrets for `npm run up` (ADMIN_API_KEY, REPORTS_API_KEY, CLICK_ID_SECRET), generated once, mode 600.
SECRETS_FILE="$ROOT/.stack/secrets.env"
SECRET_VARS=(ADMIN_API_KEY REPORTS_API_KEY CLICK_ID_SECRET)

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Node 24 LTS is the supported runtime. When the node on PATH is older (Debian 12 ships 20, end of life), the one
# infra/ensure-node.sh installs under .stack/node goes first in PATH, so npx, vitest and the services run on 24.
use_supported_node() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 24 ]; then
    PATH="$(bash "$ROOT/infra/ensure-node.sh"):$PATH"
    export PATH
    hash -r
  fi
  say "node $(node --version) ($(command -v node))"
}
use_supported_node

# Installs node_modules when missing or older than the lock file, then builds.
ensure_built() {
  if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  say "building (tsc -b)"
  npx tsc -b
}

# True when a Docker engine answers (not just the client binary), unless STACK_MODE=native.
docker_engine() {
  [ "${STACK_MODE:-auto}" = native ] && return 1
  [ "${STACK_MODE:-auto}" = docker ] && return 0
  command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1
}

# Writes a random value for every secret missing from $SECRETS_FILE; values already there are kept, so the keys
# printed by an earlier run (and the click ids signed with the secret) stay valid.
ensure_secrets() {
  mkdir -p "$(dirname "$SECRETS_FILE")"
  (umask 077 && touch "$SECRETS_FILE")
  chmod 600 "$SECRETS_FILE"
  local v
  for v in "${SECRET_VARS[@]}"; do
    grep -q "^$v=" "$SECRETS_FILE" && continue
    echo "$v=$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url"))')" >>"$SECRETS_FILE"
    say "generated $v into $SECRETS_FILE"
  done
}

# docker compose with the generated secrets (docker-compose.yml requires them: `${VAR:?...}`).
compose() {
  [ -f "$SECRETS_FILE" ] || ensure_secrets
  docker compose --env-file "$SECRETS_FILE" "$@"
}

# stop_pidfile FILE: SIGTERM the process it names (graceful), SIGKILL after 30 s, remove the file.
stop_pidfile() {
  local pidfile="$1" pid name
  pid=$(cat "$pidfile")
  name=$(basename "$pidfile" .pid)
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { say "$name: did not stop in 30s, killing"; kill -KILL "$pid"; }
    say "$name: stopped"
  fi
  rm -f "$pidfile"
}

# The environment of instance I of SERVICE in the cluster profile (after sourcing .stack/cluster.env): its ports
# (REDIRECT_PORTS, ...; ops port = public port + 50, as infra/cluster.sh tells HAProxy) and its own spool.
cluster_instance_env() {
  local svc="$1" i="$2" ports port
  ports=$(eval "echo \$${svc^^}_PORTS")
  port=$(echo "$ports" | cut -d, -f"$i")
  echo "PORT=$port"
  [ "$svc" = attribution ] || echo "OPS_PORT=$((port + 50))"
  echo "CLICK_SPOOL_DIR=$ROOT/.stack/spool/redirect-$i"
}

# start_service_node SVC LOG: starts services/SVC/dist/main.js in the background (setsid, nohup, appending to LOG)
# with the service's deploy flags and environment, the same as its npm start and the compose files carry: the
# redirect caps V8's generations and asks glibc for huge pages for its link table (docs/adr/0003). The caller's
# environment (exported or given on the call) passes through; $! is the service's pid.
start_service_node() {
  local svc=$1 log=$2
  local node_args=() tunables=""
  if [ "$svc" = redirect ]; then
    node_args=(--max-semi-space-size=8 --max-old-space-size=192)
    tunables=glibc.malloc.hugetlb=1
  fi
  GLIBC_TUNABLES="$tunables" setsid nohup node "${node_args[@]}" "services/$svc/dist/main.js" >>"$log" 2>&1 </dev/null &
}

# Starts the cluster profile's stack and two instances of each service (pid files svc-<service>-<n>), waits for
# each /readyz.
start_cluster_services() {
  bash infra/stack.sh --cluster start
  # shellcheck disable=SC1091
  set -a; source .stack/cluster.env; source "$SECRETS_FILE"; set +a
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  local svc i name pidfile ready_port
  # attribution first: it runs the migrations (ON CLUSTER) the others read through
  for svc in attribution redirect postback reports; do
    for i in 1 2; do
      name="svc-$svc-$i"
      pidfile="$RUN_DIR/$name.pid"
      if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "$name: already running (pid $(cat "$pidfile"))"
        continue
      fi
      (
        # shellcheck disable=SC2046  # one VAR=value word per line
        export $(cluster_instance_env "$svc" "$i") KAFKAJS_NO_PARTITIONER_WARNING=1
        start_service_node "$svc" "$LOG_DIR/$name.log"
        echo $! >"$pidfile"
      )
      say "$name: started (pid $(cat "$pidfile"), log $LOG_DIR/$name.log)"
      ready_port=$(cluster_instance_env "$svc" "$i" | sed -n 's/^OPS_PORT=//p')
      [ -n "$ready_port" ] || ready_port=$(cluster_instance_env "$svc" "$i" | sed -n 's/^PORT=//p')
      wait_ready_url "$name" "http://127.0.0.1:$ready_port/readyz" "$pidfile"
    done
  done
}

# wait_ready_url NAME URL PIDFILE: poll URL for 60 s; on failure print the log tail and exit.
wait_ready_url() {
  local name="$1" url="$2" pidfile="$3"
  for _ in $(seq 1 120); do
    curl -fsS "$url" >/dev/null 2>&1 && { say "$name: ready ($url)"; return 0; }
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "ERROR: $name exited; last lines of $LOG_DIR/$name.log:"; tail -n 20 "$LOG_DIR/$name.log" >&2; exit 1
    fi
    sleep 0.5
  done
  say "ERROR: $name not ready at $url (log: $LOG_DIR/$name.log)"; exit 1
}

print_cluster_addresses() {
  say "cluster profile up:"
  say "  redirect (HAProxy)  $REDIRECT_URL   instances :${REDIRECT_PORTS//,/ :}"
  say "  postback (HAProxy)  $POSTBACK_URL   instances :${POSTBACK_PORTS//,/ :}"
  say "  reports  (HAProxy)  $REPORTS_URL   instances :${REPORTS_PORTS//,/ :}"
  say "  attribution         ops :${ATTRIBUTION_PORTS//,/ :} (one consumer group)"
  say "  HAProxy stats       $HAPROXY_STATS_URL"
  say "  Kafka               $KAFKA_BROKERS (RF $KAFKA_REPLICATION_FACTOR, min ISR $KAFKA_MIN_INSYNC_REPLICAS)"
  say "  ClickHouse          $CLICKHOUSE_URL (HAProxy over $CLICKHOUSE_URLS, cluster $CLICKHOUSE_CLUSTER)"
  say "  Redis Sentinels     $REDIS_SENTINELS (primary name $REDIS_SENTINEL_NAME)"
  say "  addresses: .stack/cluster.env"
}
