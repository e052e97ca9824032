#!/usr/bin/env bash
# Proves the SQL on a current ClickHouse too: the native stack runs Debian's 18.16, and chdb-core (PyPI) embeds a
# current ClickHouse engine (26.x) that needs no server. Installs it in a virtualenv under .stack/chdb-venv
# (idempotent), then runs every migration and every report query shape on it (test/chdb/check.mjs).
# Expects a built tree (npx tsc -b); scripts/test.sh runs it after the build.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CHDB_VERSION="${CHDB_VERSION:-26.9.0}"
VENV="$ROOT/.stack/chdb-venv"
PY="$VENV/bin/python"

have_chdb() { "$PY" -c "import chdb, sys; sys.exit(chdb.__version__ != '$CHDB_VERSION')" 2>/dev/null; }

if ! have_chdb; then
  if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    say "chdb-check: installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq python3-venv >/dev/null
  fi
  [ -x "$PY" ] || python3 -m venv "$VENV"
  say "chdb-check: installing chdb-core $CHDB_VERSION into $VENV"
  "$PY" -m pip install --quiet --disable-pip-version-check "chdb-core==$CHDB_VERSION"
  have_chdb || { say "chdb-check: chdb-core $CHDB_VERSION did not install"; exit 1; }
fi
node test/chdb/check.mjs "$PY" "$ROOT/.stack/chdb"
