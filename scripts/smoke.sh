#!/usr/bin/env bash
# Runs the walkthrough that `npm run up` printed and checks the report shows its commission.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=$(bash .stack/walkthrough.sh)
echo "$out"
echo "$out" | grep -q '"accepted":true' || { say "smoke: postback was not accepted"; exit 1; }
echo "$out" | grep -Eq '"pending_minor":[1-9][0-9]*' || { say "smoke: report shows no commission"; exit 1; }
say "smoke: walkthrough shows the commission"
