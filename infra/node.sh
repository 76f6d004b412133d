#!/usr/bin/env bash
# Prints the Node.js binaries this checkout can run on, newest first, one per line: the machine's
# `node` and Node 24 LTS installed from the npm registry as the `node` devDependency
# (node_modules/.bin/node). Only the lines the suite runs on are listed (package.json engines):
# 20.19+ and 24. `infra/node.sh newest` prints the first; `infra/node.sh all` every one.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
supported() { # node-binary: true when its version is one the suite runs on
  local v; v=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  local major=${v%%.*} rest=${v#*.}; local minor=${rest%%.*}
  [ "$major" -eq 24 ] || { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; }
}
candidates=()
[ -x "$ROOT/node_modules/.bin/node" ] && candidates+=("$ROOT/node_modules/.bin/node")
# The machine's node: the first on PATH outside any node_modules/.bin (npm puts ours first).
system=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/node_modules/\.bin$' | paste -sd: -) command -v node || true)
[ -n "$system" ] && candidates+=("$system")
found=()
for n in "${candidates[@]}"; do supported "$n" && found+=("$n"); done
[ ${#found[@]} -gt 0 ] || { echo "eventline: no supported Node.js (20.19+ or 24) found" >&2; exit 1; }
# Newest first; one binary per version.
sorted=$(for n in "${found[@]}"; do printf '%s %s\n' "$("$n" -p 'process.versions.node')" "$n"; done | sort -t. -k1,1nr -k2,2nr -k3,3nr | awk '!seen[$1]++ {print $2}')
case "${1:-newest}" in
  newest) printf '%s\n' "$sorted" | head -1 ;;
  all) printf '%s\n' "$sorted" ;;
  *) echo "usage: infra/node.sh [newest|all]" >&2; exit 2 ;;
esac
