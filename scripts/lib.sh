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
