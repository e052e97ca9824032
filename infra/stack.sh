#!/usr/bin/env bash
# Single-node native dev/test stack: Kafka (KRaft) + ClickHouse + Redis.
#
#   infra/stack.sh provision|start|stop|status|reset [kafka|clickhouse|redis ...]
#
# Idempotent; run as root on Debian 12. Data, logs, pids under $REPO/.stack/.
# `start` writes $REPO/.stack/env (KAFKA_BROKERS, CLICKHOUSE_URL, REDIS_URL).
# Every config file (and the env file) is rendered from infra/templates/* with the port and path variables of
# infra/lib.sh (`render`), so a new server instance is a new set of variables, not another copy of a heredoc.
# Ports (env overridable): KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 CLICKHOUSE_HTTP_PORT=18123
#                          CLICKHOUSE_TCP_PORT=19000 REDIS_PORT=16379
#
# ClickHouse here is Debian 12's 18.16.1 (docker-compose uses 25.8). Verified on 18.16:
#   OK : ReplacingMergeTree(version) + SELECT ... FINAL, OPTIMIZE ... FINAL, argMax, JSONEachRow
#        insert/select over HTTP, input_format_skip_unknown_fields, date_time_input_format=best_effort
#        (accepts ISO-8601 '...T..Z'), Nullable, Decimal(18,4), DEFAULT now(), ORDER BY tuple(),
#        ALTER TABLE ... DELETE, materialized views, @clickhouse/client 1.x (ping/query/insert/command).
#   NOT: DateTime64/toDateTime64, LowCardinality (experimental flag), TTL clauses,
#        query parameters {name:Type} / param_*, WITH <name> AS (subquery) CTEs,
#        settings date_time_output_format / async_insert / max_server_memory_usage.
#   UInt64 is quoted in JSON output by default (output_format_json_quote_64bit_integers=1).
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  echo "usage: $0 provision|start|stop|status|reset [kafka|clickhouse|redis ...]" >&2
  echo "       $0 --cluster start|stop|status|reset [c-kafka-N|c-ch-S-R|c-redis-N|...]" >&2
  exit 2
}

# =====================================================================  common
provision_base() {
  local pkgs=(ca-certificates curl iproute2 util-linux procps)
  ensure_pkgs "${pkgs[@]}"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
}

write_env_file() {
  render env "$STACK_DIR/env"
}

# =====================================================================  kafka
kafka_cp() { echo "$KAFKA_LIBS/*"; }

# Short-lived Kafka CLI tools (StorageTool, TopicCommand): small heap, WARN logs to stderr, hard timeout.
kafka_tool() {
  timeout "${KAFKA_TOOL_TIMEOUT:-60}" java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/log4j2-tools.properties" \
    -cp "$(kafka_cp)" "$@"
}

kafka_fetch_jars() {
  ensure_pkgs openjdk-17-jre-headless maven
  local marker="$KAFKA_LIBS/.version" want="kafka_${KAFKA_SCALA}-${KAFKA_VERSION} log4j-${LOG4J_VERSION}"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
    return 0
  fi
  log "kafka: resolving $want from Maven Central (mvn)"
  local build="$KAFKA_HOME/mvn"
  rm -rf "$build" "$KAFKA_LIBS.tmp"
  mkdir -p "$build"
  render kafka/pom.xml "$build/pom.xml"
  mkdir -p "$LOG_DIR"
  if ! (cd "$build" && mvn -B -Dstyle.color=never "${MVN_DEP_PLUGIN}:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp") >"$LOG_DIR/kafka-mvn.log" 2>&1; then
    fail_service kafka "$LOG_DIR/kafka-mvn.log" "mvn could not resolve kafka_${KAFKA_SCALA}:${KAFKA_VERSION}"
  fi
  [ -f "$KAFKA_LIBS.tmp/kafka_${KAFKA_SCALA}-${KAFKA_VERSION}.jar" ] || die "kafka: broker jar missing after mvn"
  echo "$want" > "$KAFKA_LIBS.tmp/.version"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  rm -rf "$build"
}

kafka_write_config() {
  mkdir -p "$KAFKA_CONF_DIR" "$KAFKA_DATA"
  render kafka/server.properties "$KAFKA_CONF_DIR/server.properties"

  render kafka/log4j2.properties "$KAFKA_CONF_DIR/log4j2.properties"
  render kafka/log4j2-tools.properties "$KAFKA_CONF_DIR/log4j2-tools.properties"
}

# A random KRaft cluster id (16 bytes, base64url), never starting with '-': kafka-storage's argument parser takes
# such an id for an option ("argument --cluster-id/-t: expected one argument"), one fresh machine in 64.
new_kafka_cluster_id() {
  local cid="-"
  while [ "${cid:0:1}" = "-" ]; do cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
  printf '%s\n' "$cid"
}

kafka_format_storage() {
  if [ -f "$KAFKA_DATA/meta.properties" ]; then
    return 0   # already formatted: never reformat (keeps topics, offsets, KRaft metadata)
  fi
  local cid
  cid=$(new_kafka_cluster_id)
  log "kafka: formatting KRaft storage (cluster id $cid)"
  kafka_tool kafka.tools.StorageTool format --ignore-formatted \
      -t "$cid" -c "$KAFKA_CONF_DIR/server.properties" >>"$LOG_DIR/kafka-format.log" 2>&1 \
    || fail_service kafka "$LOG_DIR/kafka-format.log" "storage format failed"
}

provision_kafka() {
  timed "kafka: jars ($KAFKA_VERSION)" kafka_fetch_jars
  kafka_write_config
  timed "kafka: storage" kafka_format_storage
}

kafka_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; }

# Metadata round-trip: kafkajs if the repo has it (fast), else Kafka's own TopicCommand.
kafka_metadata_ok() {
  kafka_port_open || return 1
  # KAFKA_READY_CHECK=auto|kafkajs|java (auto: kafkajs when the repo has it installed).
  local how="${KAFKA_READY_CHECK:-auto}"
  if [ "$how" = auto ]; then
    how=java
    if [ -d "$REPO/node_modules/kafkajs" ] && command -v node >/dev/null; then how=kafkajs; fi
  fi
  if [ "$how" = kafkajs ]; then
    (cd "$REPO" && KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 15 node -e '
      const { Kafka, logLevel } = require("kafkajs");
      const k = new Kafka({ clientId: "stack-ready", brokers: [process.argv[1]], logLevel: logLevel.NOTHING,
                            retry: { retries: 0 }, connectionTimeout: 2000, requestTimeout: 5000 });
      const a = k.admin();
      a.connect().then(() => a.fetchTopicMetadata({ topics: [] }))
       .then(() => a.describeCluster()).then(c => { if (!c.brokers.length) throw new Error("no brokers"); })
       .then(() => a.disconnect()).then(() => process.exit(0), () => process.exit(1));
    ' "127.0.0.1:$KAFKA_PORT")
  else
    KAFKA_TOOL_TIMEOUT=30 kafka_tool org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list >/dev/null
  fi
}

start_kafka() {
  local pid
  if pid=$(service_pid kafka); then
    log "kafka: already running (pid $pid)"
    wait_ready kafka "$KAFKA_READY_TIMEOUT" "$LOG_DIR/kafka.log" kafka_metadata_ok
    return 0
  fi
  ensure_port_free "$KAFKA_PORT" kafka
  ensure_port_free "$KAFKA_CONTROLLER_PORT" "kafka (controller)"
  provision_kafka
  local t0; t0=$(now_ms)
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of flags
  launch kafka "$LOG_DIR/kafka.out" \
    java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/log4j2.properties" \
      -Dkafka.logs.dir="$LOG_DIR" \
      -cp "$(kafka_cp)" kafka.Kafka "$KAFKA_CONF_DIR/server.properties"
  wait_ready kafka "$KAFKA_READY_TIMEOUT" "$LOG_DIR/kafka.log" kafka_metadata_ok
  log "kafka: ready on 127.0.0.1:$KAFKA_PORT (pid $(service_pid kafka)) in $(( $(now_ms) - t0 )) ms"
}

reset_kafka() { rm -rf "$KAFKA_DATA" "$KAFKA_CONF_DIR" "$LOG_DIR"/kafka*; }

# =====================================================================  clickhouse
provision_clickhouse() {
  timed "clickhouse: packages" ensure_pkgs clickhouse-server clickhouse-client curl
  mkdir -p "$CH_DATA" "$CH_HOME/tmp" "$CH_HOME/user_files" "$CH_HOME/format_schemas" "$LOG_DIR"
  # Config for ClickHouse 18.16 (Debian 12). Only settings that version knows (no max_server_memory_usage).
  render clickhouse/config.xml "$CH_HOME/config.xml"
  render clickhouse/users.xml "$CH_HOME/users.xml"
}

clickhouse_ready() {
  [ "$(curl -fsS --max-time 2 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping")" = "Ok." ] || return 1
  [ "$(curl -fsS --max-time 5 --data-binary 'SELECT 1' "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/")" = "1" ]
}

start_clickhouse() {
  local pid
  if pid=$(service_pid clickhouse); then
    log "clickhouse: already running (pid $pid)"
    wait_ready clickhouse "$CLICKHOUSE_READY_TIMEOUT" "$LOG_DIR/clickhouse-server.log" clickhouse_ready
    return 0
  fi
  ensure_port_free "$CLICKHOUSE_HTTP_PORT" "clickhouse (http)"
  ensure_port_free "$CLICKHOUSE_TCP_PORT" "clickhouse (tcp)"
  provision_clickhouse
  local t0; t0=$(now_ms)
  # Runs as root in the foreground of its own session (18.16 does not refuse root).
  launch clickhouse "$LOG_DIR/clickhouse.out" \
    /usr/sbin/clickhouse-server --config-file="$CH_HOME/config.xml"
  wait_ready clickhouse "$CLICKHOUSE_READY_TIMEOUT" "$LOG_DIR/clickhouse-server.log" clickhouse_ready
  log "clickhouse: ready on http://127.0.0.1:$CLICKHOUSE_HTTP_PORT tcp:$CLICKHOUSE_TCP_PORT (pid $(service_pid clickhouse)) in $(( $(now_ms) - t0 )) ms"
}

reset_clickhouse() { rm -rf "$CH_HOME" "$LOG_DIR"/clickhouse*; }

# =====================================================================  redis
provision_redis() {
  timed "redis: packages" ensure_pkgs redis-server redis-tools
  mkdir -p "$REDIS_DATA" "$LOG_DIR"
  render redis/redis.conf "$REDIS_HOME/redis.conf"
}

redis_ready() {
  [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
}

start_redis() {
  local pid
  if pid=$(service_pid redis); then
    log "redis: already running (pid $pid)"
    wait_ready redis "$REDIS_READY_TIMEOUT" "$LOG_DIR/redis.log" redis_ready
    return 0
  fi
  ensure_port_free "$REDIS_PORT" redis
  provision_redis
  local t0; t0=$(now_ms)
  launch redis "$LOG_DIR/redis.out" /usr/bin/redis-server "$REDIS_HOME/redis.conf"
  wait_ready redis "$REDIS_READY_TIMEOUT" "$LOG_DIR/redis.log" redis_ready
  log "redis: ready on 127.0.0.1:$REDIS_PORT (pid $(service_pid redis)) in $(( $(now_ms) - t0 )) ms"
}

reset_redis() { rm -rf "$REDIS_HOME" "$LOG_DIR"/redis*; }

# =====================================================================  status
service_port() {
  case "$1" in
    kafka) echo "$KAFKA_PORT" ;;
    clickhouse) echo "$CLICKHOUSE_HTTP_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
  esac
}

status_one() {
  local svc="$1" port pid
  port=$(service_port "$svc")
  if pid=$(service_pid "$svc") && port_listening "$port"; then
    printf '%-11s up    port=%-6s pid=%s\n' "$svc" "$port" "$pid"
    return 0
  elif [ -n "${pid:-}" ]; then
    printf '%-11s down  port=%-6s pid=%s (process running, port not listening yet)\n' "$svc" "$port" "$pid"
  else
    printf '%-11s down  port=%-6s pid=-\n' "$svc" "$port"
  fi
  return 1
}

# =====================================================================  main
# The cluster profile (three brokers, ZooKeeper, ClickHouse shards x replicas, Redis + Sentinel, HAProxy):
#   infra/stack.sh --cluster start|stop|status|reset [INSTANCE]   (or CLUSTER=1 infra/stack.sh ...)
if [ "${1:-}" = --cluster ]; then
  CLUSTER=1
  shift
fi
[ $# -ge 1 ] || usage
cmd="$1"; shift
if [ "${CLUSTER:-0}" = 1 ]; then
  # shellcheck source=infra/cluster.sh
  source "$INFRA_DIR/cluster.sh"
  if [ "$cmd" != status ]; then
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    exec 9>"$RUN_DIR/cluster.lock"
    flock -w 600 9 || die "another infra/stack.sh --cluster is running (lock $RUN_DIR/cluster.lock)"
  fi
  T_START=$(now_ms)
  cluster_main "$cmd" "$@"
  log "cluster $cmd: ok (total $(( $(now_ms) - T_START )) ms)"
  exit 0
fi
services=("$@")
[ ${#services[@]} -gt 0 ] || services=("${ALL_SERVICES[@]}")
for s in "${services[@]}"; do
  case "$s" in kafka|clickhouse|redis) ;; *) echo "unknown service: $s" >&2; usage ;; esac
done

if [ "$cmd" != status ]; then
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  # Serialize concurrent stack.sh invocations (fd 9 is closed for launched daemons).
  if command -v flock >/dev/null; then
    exec 9>"$RUN_DIR/stack.lock"
    flock -w 600 9 || die "another infra/stack.sh is running (lock $RUN_DIR/stack.lock)"
  fi
fi

T_START=$(now_ms)
case "$cmd" in
  provision)
    timed "base packages" provision_base
    for s in "${services[@]}"; do "provision_$s"; done
    ;;
  start)
    timed "base packages" provision_base
    for s in "${services[@]}"; do timed "$s: start" "start_$s"; done
    write_env_file
    log "env file: $STACK_DIR/env"
    ;;
  stop)
    for s in "${services[@]}"; do stop_service "$s"; done
    ;;
  status)
    rc=0
    for s in "${services[@]}"; do status_one "$s" || rc=1; done
    exit $rc
    ;;
  reset)
    for s in "${services[@]}"; do stop_service "$s"; "reset_$s"; log "$s: data wiped"; done
    ;;
  *) usage ;;
esac
log "$cmd ${services[*]}: ok (total $(( $(now_ms) - T_START )) ms)"
