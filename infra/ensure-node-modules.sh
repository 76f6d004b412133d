#!/usr/bin/env bash
# Installs npm dependencies when they are missing or older than package-lock.json.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v node >/dev/null || { echo "eventline: Node.js 20.19+ is required" >&2; exit 1; }
marker=node_modules/.package-lock.json
if [ ! -f "$marker" ] || [ package-lock.json -nt "$marker" ]; then
  echo "eventline: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
