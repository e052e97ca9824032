#!/usr/bin/env bash
# npm run bench:postback: build, make sure the stack runs, then measure (see bench-postback.mjs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_built
bash infra/stack.sh start >&2
node scripts/bench-postback.mjs
