#!/usr/bin/env bash
# Installs Debian's chromium when it is missing: the dashboard's browser test
# (web/dashboard.e2e.test.ts) drives /usr/bin/chromium through playwright-core, which downloads no
# browser of its own. Needs root (apt-get); without it, says what to run instead.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "eventline: $CHROMIUM is missing and installing it needs root; run: sudo apt-get install -y chromium" >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "eventline: $CHROMIUM is missing and there is no apt-get here; install Chromium at $CHROMIUM" >&2; exit 1; }
echo "eventline: installing chromium for the dashboard's browser test" >&2
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
[ -x "$CHROMIUM" ] || { echo "eventline: chromium was installed but $CHROMIUM is still missing" >&2; exit 1; }
