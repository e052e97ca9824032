#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's headless browser test when it is missing (idempotent).
# The machine has no internet besides Debian's mirrors, so playwright's own browser downloads cannot be used.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "ensure-chromium: installing Debian's chromium" >&2
export DEBIAN_FRONTEND=noninteractive
# Other checkouts may be running apt at the same time: wait for the dpkg lock instead of failing.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get install -y --no-install-recommends chromium >/dev/null 2>&1 || { apt_get update >/dev/null && apt_get install -y --no-install-recommends chromium; }
test -x /usr/bin/chromium
