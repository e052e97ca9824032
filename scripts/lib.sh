# shellcheck shell=bash
# Shared by scripts/*.sh: repo root, dependency install, Docker detection.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SERVICES=(redirect postback attribution reports)
RUN_DIR="$ROOT/.stack/run"
LOG_DIR="$ROOT/.stack/logs"

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

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
