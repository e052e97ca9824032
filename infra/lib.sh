# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by infra/stack.sh
# Shared variables and helpers for infra/stack.sh.
# Single-node native stack (Kafka KRaft, ClickHouse, Redis) for a Debian 12 host.
# Everything (binaries we download, configs, data, logs, pids) lives under $STACK_DIR.

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$INFRA_DIR/.." && pwd)"
STACK_DIR="${STACK_DIR:-$REPO/.stack}"
RUN_DIR="$STACK_DIR/run"
LOG_DIR="$STACK_DIR/logs"

# A checkout may pin its own ports (several checkouts on one machine): .stack.local is git-ignored.
# shellcheck disable=SC1091
[ -f "$REPO/.stack.local" ] && source "$REPO/.stack.local"

# Ports: deliberately non-standard so the Debian packages' own default daemons never collide.
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
CLICKHOUSE_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-18123}"
CLICKHOUSE_TCP_PORT="${CLICKHOUSE_TCP_PORT:-19000}"
REDIS_PORT="${REDIS_PORT:-16379}"

# Kafka (see docs/adr/0001-kafka-version.md before changing).
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_SCALA="2.13"
LOG4J_VERSION="2.24.3"
MVN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"

# Per-server template variables; the single node's values here, infra/cluster.sh sets its own per broker/server.
KAFKA_NODE_ID=1
KAFKA_VOTERS="1@127.0.0.1:$KAFKA_CONTROLLER_PORT"
KAFKA_RF=1
KAFKA_MIN_ISR=1
KAFKA_EXTRA_PROPERTIES=""
CH_LOAD_BALANCING=random
CH_PROFILE_EXTRA=""
REDIS_EXTRA=""

KAFKA_HOME="$STACK_DIR/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_CONF_DIR="$KAFKA_HOME/config"
KAFKA_DATA="$KAFKA_HOME/data"
CH_HOME="$STACK_DIR/clickhouse"
CH_DATA="$CH_HOME/data"
REDIS_HOME="$STACK_DIR/redis"
REDIS_DATA="$REDIS_HOME/data"

# Readiness / shutdown timeouts (seconds).
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
CLICKHOUSE_READY_TIMEOUT="${CLICKHOUSE_READY_TIMEOUT:-60}"
REDIS_READY_TIMEOUT="${REDIS_READY_TIMEOUT:-30}"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"

ALL_SERVICES=(kafka clickhouse redis)

# ---------------------------------------------------------------- logging / timing
log() { printf '[stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# timed LABEL CMD...: run CMD, print how long it took.
timed() {
  local label="$1"; shift
  local t0; t0=$(now_ms)
  "$@"
  log "$label: done in $(( $(now_ms) - t0 )) ms"
}

# ---------------------------------------------------------------- config templates
TEMPLATE_DIR="$INFRA_DIR/templates"

# render TEMPLATE OUT: writes infra/templates/TEMPLATE to OUT (atomically) with every ${NAME} replaced by the value
# of that shell variable. An unset variable is an error, so a typo cannot leave a literal ${...} in a config.
render() {
  local tpl="$TEMPLATE_DIR/$1" out="$2" text name
  [ -f "$tpl" ] || die "template $1 missing in $TEMPLATE_DIR"
  text=$(<"$tpl")
  # bash 5.2 would expand & in a replacement to the matched text: values are taken literally here.
  shopt -u patsub_replacement 2>/dev/null || true
  while [[ $text =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
    name=${BASH_REMATCH[1]}
    [ -n "${!name+set}" ] || die "template $1: \${$name} is not set"
    text=${text//"\${$name}"/${!name}}
  done
  printf '%s\n' "$text" >"$out.tmp"
  mv "$out.tmp" "$out"
}

# ---------------------------------------------------------------- apt
APT_UPDATED=0
# ensure_pkgs PKG...: install only the packages that are missing (apt-get update at most once).
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}) and not running as root"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages start their own default daemons under systemd (6379 / 8123+9000).
  # They don't collide with our ports, but we don't want them: stop + disable what we just installed.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for p in "${missing[@]}"; do
      case "$p" in
        redis-server|redis-sentinel|clickhouse-server|haproxy)
          systemctl disable --now "$p" >/dev/null 2>&1 || true ;;
      esac
    done
  fi
}

# ---------------------------------------------------------------- processes / ports
pidfile() { echo "$RUN_DIR/$1.pid"; }

# Process start time (clock ticks since boot); guards against pid reuse. Empty for zombies.
proc_starttime() {
  # field 2 (comm) may contain spaces: strip up to the last ')' first.
  local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  s=${s##*) }
  # shellcheck disable=SC2086  # split on purpose
  set -- $s
  [ "$1" = "Z" ] && return 0
  echo "${20}"
}

# service_pid SVC: print pid of our running instance, return 1 if not running.
service_pid() {
  local f; f=$(pidfile "$1")
  [ -f "$f" ] || return 1
  local pid st
  read -r pid st < "$f" || true
  [ -n "${pid:-}" ] || return 1
  [ -n "${st:-}" ] && [ "$(proc_starttime "$pid")" = "$st" ] || return 1
  echo "$pid"
}

port_listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -1; }

# ensure_port_free PORT SVC: fail if PORT is taken (only called when our instance is not running).
ensure_port_free() {
  local port="$1" svc="$2"
  if port_listening "$port"; then
    die "$svc: port $port is already in use by another process ($(port_owner "$port")); stop it or set a different port env var"
  fi
}

# launch SVC LOGFILE CMD...: start CMD detached (own session), record "pid starttime".
launch() {
  local svc="$1" out="$2"; shift 2
  # 9>&- : don't leak the stack.sh lock fd into the daemon.
  setsid nohup "$@" >>"$out" 2>&1 </dev/null 9>&- &
  local pid=$!
  local st=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    st=$(proc_starttime "$pid"); [ -n "$st" ] && break; sleep 0.05
  done
  echo "$pid $st" > "$(pidfile "$svc")"
}

# fail_service SVC LOGFILE MSG: print failure + log tail, exit.
fail_service() {
  local svc="$1" logf="$2" msg="$3"
  {
    echo "[stack] ERROR: $svc failed: $msg"
    echo "[stack] $svc log file: $logf"
    if [ -f "$logf" ]; then echo "----- tail -n 40 $logf -----"; tail -n 40 "$logf"; echo "-----"; fi
    # stdout/stderr of the process (JVM errors, early crashes) if it has anything.
    local out="$LOG_DIR/$svc.out"
    if [ "$out" != "$logf" ] && [ -s "$out" ]; then
      echo "[stack] $svc stdout/stderr: $out"
      echo "----- tail -n 20 $out -----"; tail -n 20 "$out"; echo "-----"
    fi
  } >&2
  exit 1
}

# wait_ready SVC TIMEOUT LOGFILE CHECK_FN: poll CHECK_FN until success; fail if process dies or timeout.
wait_ready() {
  local svc="$1" timeout="$2" logf="$3" check="$4"
  local deadline=$(( $(date +%s) + timeout ))
  while :; do
    if ! service_pid "$svc" >/dev/null; then
      fail_service "$svc" "$logf" "process exited during startup"
    fi
    if "$check" >/dev/null 2>&1; then return 0; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      fail_service "$svc" "$logf" "not ready after ${timeout}s"
    fi
    sleep 0.3
  done
}

# stop_service SVC: SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL.
stop_service() {
  local svc="$1" pid
  if ! pid=$(service_pid "$svc"); then
    rm -f "$(pidfile "$svc")"
    log "$svc: not running"
    return 0
  fi
  local t0; t0=$(now_ms)
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while [ -n "$(proc_starttime "$pid")" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$svc: still running after ${STOP_TIMEOUT}s, sending SIGKILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$(pidfile "$svc")"
  log "$svc: stopped (pid $pid) in $(( $(now_ms) - t0 )) ms"
}
