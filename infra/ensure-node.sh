#!/usr/bin/env bash
# Installs the supported Node.js runtime (24 LTS) under .stack/node when it is missing (idempotent) and prints
# its bin directory, so callers can put it first in PATH: PATH="$(bash infra/ensure-node.sh):$PATH".
# Node comes from the npm registry's node-linux-<arch> package (the official binary inside an npm tarball), the
# same way infra/stack.sh takes Kafka's jars from Maven Central: the machine reaches package registries only.
set -euo pipefail
NODE_VERSION="${NODE_VERSION:-24.21.0}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_HOME="${STACK_DIR:-$REPO/.stack}/node/$NODE_VERSION"
BIN="$NODE_HOME/bin"

log() { printf '[ensure-node] %s\n' "$*" >&2; }
installed() { [ "$("$BIN/node" --version 2>/dev/null)" = "v$NODE_VERSION" ]; }

if installed; then
  echo "$BIN"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) log "no node-linux package for $(uname -m)"; exit 1 ;;
esac
command -v npm >/dev/null || { log "npm is needed to fetch node-linux-$arch@$NODE_VERSION"; exit 1; }

log "fetching node-linux-$arch@$NODE_VERSION from the npm registry"
mkdir -p "$(dirname "$NODE_HOME")"
tmp=$(mktemp -d "$NODE_HOME.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tarball=$(cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" | tail -n 1)
mkdir "$tmp/node"
tar -xzf "$tmp/$tarball" -C "$tmp/node" --strip-components=1
got=$("$tmp/node/bin/node" --version) || { log "the downloaded node binary does not run here"; exit 1; }
[ "$got" = "v$NODE_VERSION" ] || { log "expected v$NODE_VERSION, the package holds $got"; exit 1; }
# Another checkout step may have finished first: keep whichever install landed, both are the same version.
rm -rf "$NODE_HOME"
mv "$tmp/node" "$NODE_HOME"
installed || { log "node v$NODE_VERSION missing from $BIN after install"; exit 1; }
log "node $got installed in $NODE_HOME"
echo "$BIN"
