# shellcheck shell=bash
# The cluster profile of the native stack (docs/adr/0008-cluster-profile.md), sourced by infra/stack.sh when it runs
# with --cluster or CLUSTER=1:
#   three Kafka brokers (KRaft, each broker+controller, 3 voters; RF 3, min.insync.replicas 2),
#   ZooKeeper (for ClickHouse replication and ON CLUSTER DDL),
#   ClickHouse as CH_SHARDS x CH_REPLICAS servers (ReplicatedMergeTree + Distributed, cluster CH_CLUSTER_NAME),
#   Redis primary + replica under three Sentinels,
#   HAProxy in front of two redirect, two postback and two reports instances and of the ClickHouse servers.
# All on 127.0.0.1, ports 20000-20999, data under $STACK_DIR/cluster, logs under $LOG_DIR/cluster.
# `start` writes $STACK_DIR/cluster.env. Instances are named c-<component>-<n> in `status` and in the pid files.
# Every server is a set of template variables set in a subshell (c_*_vars), rendered from the same templates as
# the single node.

CLUSTER_DIR="$STACK_DIR/cluster"
CLUSTER_LOG_DIR="$LOG_DIR/cluster"
KAFKA_BROKER_COUNT="${KAFKA_BROKER_COUNT:-3}"
CLUSTER_KAFKA_HEAP="${CLUSTER_KAFKA_HEAP:--Xms256m -Xmx320m}"
ZK_VERSION="${ZK_VERSION:-3.9.5}"
ZK_PORT="${ZK_PORT:-20181}"
ZK_LIBS="$STACK_DIR/zookeeper/libs"
CH_CLUSTER_NAME="${CH_CLUSTER_NAME:-aff_cluster}"
CH_SHARDS="${CH_SHARDS:-2}"
CH_REPLICAS="${CH_REPLICAS:-2}"
REDIS_SENTINEL_NAME="${REDIS_SENTINEL_NAME:-aff}"
REDIS_PRIMARY_PORT=20379
REDIS_REPLICA_PORT=20380
SENTINEL_COUNT=3
HAPROXY_REDIRECT_PORT=20080
HAPROXY_POSTBACK_PORT=20081
HAPROXY_REPORTS_PORT=20082
HAPROXY_CLICKHOUSE_PORT=20220
HAPROXY_STATS_PORT=20099
HAPROXY_HOME="$CLUSTER_DIR/haproxy"
# Two instances of each service (scripts/up.sh --cluster, test/cluster): public port, ops port.
SERVICE_INSTANCES="${SERVICE_INSTANCES:-2}"

kafka_client_port() { echo $((20090 + $1)); }
kafka_controller_port() { echo $((20190 + $1)); }
# ClickHouse server k = (shard - 1) * CH_REPLICAS + replica: http 20220+k, tcp 20320+k, interserver 20420+k.
ch_index() { echo $((($1 - 1) * CH_REPLICAS + $2)); }
ch_http_port() { echo $((20220 + $(ch_index "$1" "$2"))); }
ch_tcp_port() { echo $((20320 + $(ch_index "$1" "$2"))); }
sentinel_port() { echo $((20380 + $1)); }
# service ports: redirect 2060i/2065i, postback 2061i/2066i, reports 2062i/2067i, attribution 2063i (ops only)
svc_port() {
  local base
  case "$1" in redirect) base=20600 ;; postback) base=20610 ;; reports) base=20620 ;; attribution) base=20630 ;; esac
  echo $((base + $2))
}
svc_ops_port() { echo $(($(svc_port "$1" "$2") + 50)); }

# "1 2 3" style sequences
seq_list() { seq 1 "$1" | tr '\n' ' '; }
join_by() {
  local IFS="$1"
  shift
  echo "$*"
}

# =====================================================================  kafka
c_kafka_vars() {
  local i="$1" voters=() j
  for j in $(seq_list "$KAFKA_BROKER_COUNT"); do voters+=("$j@127.0.0.1:$(kafka_controller_port "$j")"); done
  KAFKA_NODE_ID="$i"
  KAFKA_PORT=$(kafka_client_port "$i")
  KAFKA_CONTROLLER_PORT=$(kafka_controller_port "$i")
  KAFKA_VOTERS=$(join_by , "${voters[@]}")
  KAFKA_RF=3
  KAFKA_MIN_ISR=2
  # a SIGKILLed broker is fenced (its partitions get new leaders) after 6 s instead of 9 s
  KAFKA_EXTRA_PROPERTIES=$'broker.session.timeout.ms=6000\nbroker.heartbeat.interval.ms=1000\nunclean.leader.election.enable=false'
  KAFKA_CONF_DIR="$CLUSTER_DIR/kafka-$i/config"
  KAFKA_DATA="$CLUSTER_DIR/kafka-$i/data"
  LOG_DIR="$CLUSTER_LOG_DIR/kafka-$i"
  mkdir -p "$LOG_DIR"
}

c_kafka_format() {
  [ -f "$KAFKA_DATA/meta.properties" ] && return 0
  local idf="$CLUSTER_DIR/kafka-cluster-id"
  [ -f "$idf" ] || new_kafka_cluster_id >"$idf"
  kafka_tool kafka.tools.StorageTool format --ignore-formatted -t "$(cat "$idf")" \
    -c "$KAFKA_CONF_DIR/server.properties" >>"$LOG_DIR/kafka-format.log" 2>&1 ||
    fail_service "c-kafka-$KAFKA_NODE_ID" "$LOG_DIR/kafka-format.log" "storage format failed"
}

c_kafka_launch() {
  local i="$1" svc="c-kafka-$1"
  c_kafka_vars "$i"
  if service_pid "$svc" >/dev/null; then return 0; fi
  ensure_port_free "$KAFKA_PORT" "$svc"
  ensure_port_free "$KAFKA_CONTROLLER_PORT" "$svc (controller)"
  kafka_write_config
  c_kafka_format
  # shellcheck disable=SC2086  # heap flags are a list
  launch "$svc" "$LOG_DIR/$svc.out" \
    java $CLUSTER_KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -XX:ActiveProcessorCount=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/log4j2.properties" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$(kafka_cp)" kafka.Kafka "$KAFKA_CONF_DIR/server.properties"
}

c_kafka_wait() {
  c_kafka_vars "$1"
  wait_ready "c-kafka-$1" "$KAFKA_READY_TIMEOUT" "$LOG_DIR/kafka.log" kafka_metadata_ok
  log "c-kafka-$1: ready on 127.0.0.1:$KAFKA_PORT (pid $(service_pid "c-kafka-$1"))"
}

# Brokers start together: none is ready before a quorum of controllers is up.
c_start_kafka() {
  local i
  kafka_fetch_jars
  for i in $(seq_list "$KAFKA_BROKER_COUNT"); do (c_kafka_launch "$i"); done
  for i in $(seq_list "$KAFKA_BROKER_COUNT"); do (c_kafka_wait "$i"); done
}

# =====================================================================  zookeeper
c_zk_vars() {
  ZK_HOME="$CLUSTER_DIR/zookeeper"
  ZK_DATA="$ZK_HOME/data"
  LOG_DIR="$CLUSTER_LOG_DIR/zookeeper"
  mkdir -p "$ZK_DATA" "$LOG_DIR"
}

zk_fetch_jars() {
  local marker="$ZK_LIBS/.version" want="zookeeper-$ZK_VERSION metrics-4.1.12.1 snappy-1.1.10.5 log4j-$LOG4J_VERSION"
  [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] && return 0
  ensure_pkgs openjdk-17-jre-headless maven
  log "zookeeper: resolving $want from Maven Central (mvn)"
  local build="$STACK_DIR/zookeeper/mvn"
  rm -rf "$build" "$ZK_LIBS.tmp"
  mkdir -p "$build"
  render zookeeper/pom.xml "$build/pom.xml"
  (cd "$build" && mvn -B -Dstyle.color=never "${MVN_DEP_PLUGIN}:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$ZK_LIBS.tmp") >"$LOG_DIR/zookeeper-mvn.log" 2>&1 ||
    fail_service c-zookeeper "$LOG_DIR/zookeeper-mvn.log" "mvn could not resolve zookeeper $ZK_VERSION"
  echo "$want" >"$ZK_LIBS.tmp/.version"
  rm -rf "$ZK_LIBS" "$build"
  mv "$ZK_LIBS.tmp" "$ZK_LIBS"
}

# `ruok` answers before the server runs: `srvr` reports a mode only once it serves.
zk_ready() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT; printf srvr >&3; cat <&3" | grep -q '^Mode: standalone'
}

c_start_zookeeper() {
  c_zk_vars
  if service_pid c-zookeeper >/dev/null; then
    wait_ready c-zookeeper 30 "$LOG_DIR/zookeeper.log" zk_ready
    return 0
  fi
  ensure_port_free "$ZK_PORT" c-zookeeper
  zk_fetch_jars
  render zookeeper/zoo.cfg "$ZK_HOME/zoo.cfg"
  render zookeeper/log4j2.properties "$ZK_HOME/log4j2.properties"
  launch c-zookeeper "$LOG_DIR/c-zookeeper.out" \
    java -Xms64m -Xmx160m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ZK_HOME/log4j2.properties" -Dzookeeper.jmx.log4j.disable=true \
    -cp "$ZK_LIBS/*" org.apache.zookeeper.server.ZooKeeperServerMain "$ZK_HOME/zoo.cfg"
  wait_ready c-zookeeper 60 "$LOG_DIR/zookeeper.log" zk_ready
  log "c-zookeeper: ready on 127.0.0.1:$ZK_PORT"
}

# =====================================================================  clickhouse
# <shard> elements of remote_servers: internal_replication, so an insert goes to one replica and replication does
# the rest (a Distributed insert that wrote to both would write every row twice into the replicated table).
ch_remote_shards() {
  local s r out=""
  for s in $(seq_list "$CH_SHARDS"); do
    out+="            <shard><internal_replication>true</internal_replication>"$'\n'
    for r in $(seq_list "$CH_REPLICAS"); do
      out+="                <replica><host>127.0.0.1</host><port>$(ch_tcp_port "$s" "$r")</port></replica>"$'\n'
    done
    out+="            </shard>"$'\n'
  done
  printf '%s' "${out%$'\n'}"
}

c_ch_vars() {
  local s="$1" r="$2"
  CH_SHARD="$s"
  CH_REPLICA="s${s}r${r}"
  CH_HOME="$CLUSTER_DIR/ch-$s-$r"
  CH_DATA="$CH_HOME/data"
  CLICKHOUSE_HTTP_PORT=$(ch_http_port "$s" "$r")
  CLICKHOUSE_TCP_PORT=$(ch_tcp_port "$s" "$r")
  CH_INTERSERVER_PORT=$((20420 + $(ch_index "$s" "$r")))
  CH_REMOTE_SHARDS=$(ch_remote_shards)
  # Reads and writes of the Distributed tables go to the first live replica of each shard (in_order, never the
  # local one by preference), so a reader sees what a writer wrote unless that replica is away; a replica that
  # comes back lagging is skipped until it has caught up (delay over 1 s). An insert returns once every shard
  # has it (insert_distributed_sync): the worker commits its Kafka offsets only after that.
  CH_LOAD_BALANCING=in_order
  CH_PROFILE_EXTRA=$'\n            <prefer_localhost_replica>0</prefer_localhost_replica>'
  CH_PROFILE_EXTRA+=$'\n            <insert_distributed_sync>1</insert_distributed_sync>'
  CH_PROFILE_EXTRA+=$'\n            <max_replica_delay_for_distributed_queries>1</max_replica_delay_for_distributed_queries>'
  CH_PROFILE_EXTRA+=$'\n            <fallback_to_stale_replicas_for_distributed_queries>1</fallback_to_stale_replicas_for_distributed_queries>'
  CH_PROFILE_EXTRA+=$'\n            <background_pool_size>4</background_pool_size>'
  CH_PROFILE_EXTRA+=$'\n            <distributed_ddl_task_timeout>60</distributed_ddl_task_timeout>'
  LOG_DIR="$CLUSTER_LOG_DIR/ch-$s-$r"
  mkdir -p "$CH_DATA" "$CH_HOME/tmp" "$CH_HOME/user_files" "$CH_HOME/format_schemas" "$CH_HOME/config.d" "$LOG_DIR"
}

c_ch_launch() {
  local svc="c-ch-$1-$2"
  c_ch_vars "$1" "$2"
  if service_pid "$svc" >/dev/null; then return 0; fi
  ensure_port_free "$CLICKHOUSE_HTTP_PORT" "$svc (http)"
  ensure_port_free "$CLICKHOUSE_TCP_PORT" "$svc (tcp)"
  render clickhouse/config.xml "$CH_HOME/config.xml"
  render clickhouse/users.xml "$CH_HOME/users.xml"
  render clickhouse/cluster.xml "$CH_HOME/config.d/cluster.xml"
  launch "$svc" "$LOG_DIR/$svc.out" /usr/sbin/clickhouse-server --config-file="$CH_HOME/config.xml"
}

c_ch_wait() {
  c_ch_vars "$1" "$2"
  wait_ready "c-ch-$1-$2" "$CLICKHOUSE_READY_TIMEOUT" "$LOG_DIR/clickhouse-server.log" clickhouse_ready
  log "c-ch-$1-$2: ready (shard $1, replica $CH_REPLICA) on http://127.0.0.1:$CLICKHOUSE_HTTP_PORT"
}

# c_start_clickhouse [SHARD REPLICA]: every server, or one (the chaos test restarts one replica).
c_start_clickhouse() {
  ensure_pkgs clickhouse-server clickhouse-client curl
  local s r
  for s in $(seq_list "$CH_SHARDS"); do
    for r in $(seq_list "$CH_REPLICAS"); do
      [ $# -eq 2 ] && { [ "$1" = "$s" ] && [ "$2" = "$r" ] || continue; }
      (c_ch_launch "$s" "$r")
    done
  done
  for s in $(seq_list "$CH_SHARDS"); do
    for r in $(seq_list "$CH_REPLICAS"); do
      [ $# -eq 2 ] && { [ "$1" = "$s" ] && [ "$2" = "$r" ] || continue; }
      (c_ch_wait "$s" "$r")
    done
  done
}

# =====================================================================  redis + sentinel
c_redis_vars() {
  local i="$1"
  REDIS_HOME="$CLUSTER_DIR/redis-$i"
  REDIS_DATA="$REDIS_HOME/data"
  LOG_DIR="$CLUSTER_LOG_DIR/redis-$i"
  if [ "$i" = 1 ]; then REDIS_PORT=$REDIS_PRIMARY_PORT; else REDIS_PORT=$REDIS_REPLICA_PORT; fi
  # the second server starts as a replica of the first; after a failover Sentinel rewrites both configs
  REDIS_EXTRA=$'replica-read-only yes\nreplica-serve-stale-data yes'
  [ "$i" = 1 ] || REDIS_EXTRA+=$'\n'"replicaof 127.0.0.1 $REDIS_PRIMARY_PORT"
  mkdir -p "$REDIS_DATA" "$LOG_DIR"
}

c_sentinel_vars() {
  SENTINEL_PORT=$(sentinel_port "$1")
  SENTINEL_HOME="$CLUSTER_DIR/sentinel-$1"
  LOG_DIR="$CLUSTER_LOG_DIR/sentinel-$1"
  mkdir -p "$SENTINEL_HOME" "$LOG_DIR"
}

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

# Configs are written once: Redis and Sentinel rewrite them with the roles they hold now (after a failover the
# old primary must come back as a replica, not as a second primary).
c_redis_start_one() {
  local svc="$1" conf="$2" port="$3"
  shift 3
  if ! service_pid "$svc" >/dev/null; then
    ensure_port_free "$port" "$svc"
    launch "$svc" "$LOG_DIR/$svc.out" "$@" "$conf"
  fi
  # shellcheck disable=SC2317  # called through wait_ready
  ready_fn() { redis_ping "$port"; }
  wait_ready "$svc" "$REDIS_READY_TIMEOUT" "$LOG_DIR/$svc.out" ready_fn
}

c_start_redis() {
  ensure_pkgs redis-server redis-tools redis-sentinel
  local i
  for i in 1 2; do
    (
      c_redis_vars "$i"
      [ -f "$REDIS_HOME/redis.conf" ] || render redis/redis.conf "$REDIS_HOME/redis.conf"
      c_redis_start_one "c-redis-$i" "$REDIS_HOME/redis.conf" "$REDIS_PORT" /usr/bin/redis-server
    )
  done
  for i in $(seq_list "$SENTINEL_COUNT"); do
    (
      c_sentinel_vars "$i"
      [ -f "$SENTINEL_HOME/sentinel.conf" ] || render redis/sentinel.conf "$SENTINEL_HOME/sentinel.conf"
      c_redis_start_one "c-sentinel-$i" "$SENTINEL_HOME/sentinel.conf" "$SENTINEL_PORT" /usr/bin/redis-sentinel
    )
  done
  log "redis: primary $(redis-cli -p "$(sentinel_port 1)" sentinel get-master-addr-by-name "$REDIS_SENTINEL_NAME" | tr '\n' ' ')via Sentinel"
}

# =====================================================================  haproxy
haproxy_servers() {
  local svc="$1" i out=""
  for i in $(seq_list "$SERVICE_INSTANCES"); do
    out+="    server $svc-$i 127.0.0.1:$(svc_port "$svc" "$i") check port $(svc_ops_port "$svc" "$i")"$'\n'
  done
  printf '%s' "${out%$'\n'}"
}

c_haproxy_vars() {
  local s r out=""
  HAPROXY_REDIRECT_SERVERS=$(haproxy_servers redirect)
  HAPROXY_POSTBACK_SERVERS=$(haproxy_servers postback)
  HAPROXY_REPORTS_SERVERS=$(haproxy_servers reports)
  for s in $(seq_list "$CH_SHARDS"); do
    for r in $(seq_list "$CH_REPLICAS"); do
      out+="    server ch-$s-$r 127.0.0.1:$(ch_http_port "$s" "$r") check"$'\n'
    done
  done
  HAPROXY_CLICKHOUSE_SERVERS="${out%$'\n'}"
  LOG_DIR="$CLUSTER_LOG_DIR/haproxy"
  mkdir -p "$HAPROXY_HOME" "$LOG_DIR"
}

haproxy_ready() { curl -fsS --max-time 2 "http://127.0.0.1:$HAPROXY_STATS_PORT/" >/dev/null; }

c_start_haproxy() {
  ensure_pkgs haproxy
  c_haproxy_vars
  render haproxy/haproxy.cfg "$HAPROXY_HOME/haproxy.cfg"
  haproxy -c -q -f "$HAPROXY_HOME/haproxy.cfg" || die "haproxy: invalid config $HAPROXY_HOME/haproxy.cfg"
  if ! service_pid c-haproxy >/dev/null; then
    ensure_port_free "$HAPROXY_REDIRECT_PORT" c-haproxy
    launch c-haproxy "$LOG_DIR/c-haproxy.out" /usr/sbin/haproxy -db -f "$HAPROXY_HOME/haproxy.cfg"
  fi
  wait_ready c-haproxy 15 "$LOG_DIR/c-haproxy.out" haproxy_ready
  log "c-haproxy: redirect :$HAPROXY_REDIRECT_PORT postback :$HAPROXY_POSTBACK_PORT reports :$HAPROXY_REPORTS_PORT clickhouse :$HAPROXY_CLICKHOUSE_PORT stats :$HAPROXY_STATS_PORT"
}

# =====================================================================  env, status, stop
c_write_env() {
  local i s r brokers=() urls=() sentinels=()
  for i in $(seq_list "$KAFKA_BROKER_COUNT"); do brokers+=("127.0.0.1:$(kafka_client_port "$i")"); done
  for s in $(seq_list "$CH_SHARDS"); do
    for r in $(seq_list "$CH_REPLICAS"); do urls+=("http://127.0.0.1:$(ch_http_port "$s" "$r")"); done
  done
  for i in $(seq_list "$SENTINEL_COUNT"); do sentinels+=("127.0.0.1:$(sentinel_port "$i")"); done
  ports() {
    local svc="$1" p=()
    for i in $(seq_list "$SERVICE_INSTANCES"); do p+=("$(svc_port "$svc" "$i")"); done
    join_by , "${p[@]}"
  }
  CLUSTER_KAFKA_BROKERS=$(join_by , "${brokers[@]}")
  CLUSTER_CLICKHOUSE_URLS=$(join_by , "${urls[@]}")
  CLUSTER_REDIS_SENTINELS=$(join_by , "${sentinels[@]}")
  CLUSTER_REDIRECT_PORTS=$(ports redirect)
  CLUSTER_POSTBACK_PORTS=$(ports postback)
  CLUSTER_REPORTS_PORTS=$(ports reports)
  CLUSTER_ATTRIBUTION_PORTS=$(ports attribution)
  KAFKA_RF=3
  KAFKA_MIN_ISR=2
  render cluster.env "$STACK_DIR/cluster.env"
}

# Instance names in start order (stop runs them in reverse).
c_instances() {
  local i s r
  for i in $(seq_list "$KAFKA_BROKER_COUNT"); do echo "c-kafka-$i"; done
  echo c-zookeeper
  for s in $(seq_list "$CH_SHARDS"); do for r in $(seq_list "$CH_REPLICAS"); do echo "c-ch-$s-$r"; done; done
  echo c-redis-1 c-redis-2 | tr ' ' '\n'
  for i in $(seq_list "$SENTINEL_COUNT"); do echo "c-sentinel-$i"; done
  echo c-haproxy
}

c_instance_port() {
  case "$1" in
    c-kafka-*) kafka_client_port "${1#c-kafka-}" ;;
    c-zookeeper) echo "$ZK_PORT" ;;
    c-ch-*) local sr="${1#c-ch-}" && ch_http_port "${sr%-*}" "${sr#*-}" ;;
    c-redis-1) echo "$REDIS_PRIMARY_PORT" ;;
    c-redis-2) echo "$REDIS_REPLICA_PORT" ;;
    c-sentinel-*) sentinel_port "${1#c-sentinel-}" ;;
    c-haproxy) echo "$HAPROXY_STATS_PORT" ;;
  esac
}

c_status() {
  local rc=0 svc port pid role
  for svc in $(c_instances); do
    port=$(c_instance_port "$svc")
    role=""
    case "$svc" in c-redis-*) role=$(redis-cli -p "$port" role 2>/dev/null | head -1) ;; esac
    if pid=$(service_pid "$svc") && port_listening "$port"; then
      printf '%-14s up    port=%-6s pid=%s %s\n' "$svc" "$port" "$pid" "$role"
    else
      printf '%-14s down  port=%-6s\n' "$svc" "$port"
      rc=1
    fi
  done
  return $rc
}

# c_stop [INSTANCE...]: SIGTERM (SIGKILL after STOP_TIMEOUT) in reverse start order.
c_stop() {
  local list
  if [ $# -gt 0 ]; then list=("$@"); else mapfile -t list < <(c_instances | tac); fi
  for svc in "${list[@]}"; do stop_service "$svc"; done
}

cluster_main() {
  local cmd="$1"
  shift
  mkdir -p "$CLUSTER_DIR" "$CLUSTER_LOG_DIR"
  case "$cmd" in
    start)
      provision_base
      # `start c-ch-1-1` / `start c-kafka-2` / ... restarts one instance that was stopped or killed
      case "${1:-all}" in
        all)
          timed "cluster: kafka" c_start_kafka
          timed "cluster: zookeeper" c_start_zookeeper
          timed "cluster: clickhouse" c_start_clickhouse
          timed "cluster: redis + sentinel" c_start_redis
          timed "cluster: haproxy" c_start_haproxy
          ;;
        c-kafka-*) kafka_fetch_jars && (c_kafka_launch "${1#c-kafka-}") && (c_kafka_wait "${1#c-kafka-}") ;;
        c-ch-*) local sr="${1#c-ch-}" && c_start_clickhouse "${sr%-*}" "${sr#*-}" ;;
        c-redis-* | c-sentinel-*) c_start_redis ;;
        c-zookeeper) c_start_zookeeper ;;
        c-haproxy) c_start_haproxy ;;
        *) die "unknown cluster instance: $1" ;;
      esac
      c_write_env
      log "cluster env file: $STACK_DIR/cluster.env"
      ;;
    stop) c_stop "$@" ;;
    status) c_status ;;
    reset)
      c_stop
      rm -rf "$CLUSTER_DIR" "$CLUSTER_LOG_DIR" "$STACK_DIR/cluster.env"
      log "cluster: data wiped"
      ;;
    *) usage ;;
  esac
}
