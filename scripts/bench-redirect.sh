#!/usr/bin/env bash
# npm run bench:redirect: build, make sure wrk and the native stack are there, then run the redirect benchmark.
# Figures go to stdout; the last line is one JSON object holding every figure. See README "Redirect benchmark".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_built
if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else sudo apt-get install -y wrk >/dev/null; fi
fi
say "starting the stack"
bash infra/stack.sh start >&2
exec node scripts/bench-redirect.mjs "$@"
