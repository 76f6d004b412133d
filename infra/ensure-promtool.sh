#!/usr/bin/env bash
# Installs promtool (Debian's prometheus package) when it is missing, so that the alert rules and
# the Prometheus configuration are checked, and the rules' unit tests run, by promtool itself
# (infra/grafana/grafana.unit.test.ts). Best effort: without root or apt-get, or when the install
# fails, it says so and the suite checks the files without promtool.
set -uo pipefail
command -v promtool >/dev/null && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "eventline: promtool is missing (apt-get install prometheus); alert rules are checked without it" >&2
  exit 0
fi
echo "eventline: installing promtool (Debian's prometheus package) to check the alert rules" >&2
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null \
    || echo "eventline: installing prometheus failed; alert rules are checked without promtool" >&2
fi
# Debian's package starts a Prometheus server where an init system runs it: this project needs only the tool.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
exit 0
