#!/usr/bin/env bash
# npm test: install what is missing, build, lint, prove the SQL on a current ClickHouse (chdb), then unit and
# integration tests against real servers (the test harness starts the native stack, or testcontainers where a Docker
# engine runs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t0=$(date +%s)
ensure_built
say "chromium for the dashboard test"
bash infra/ensure-chromium.sh
say "lint (biome)"
npx biome check .
say "migrations and report SQL on a current ClickHouse (chdb)"
bash scripts/chdb-check.sh
say "tests (vitest)"
npx vitest run --project unit --project integration "$@"
say "npm test finished in $(( $(date +%s) - t0 ))s"
