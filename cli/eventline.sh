#!/usr/bin/env bash
# The eventline command: runs cli/main.ts with tsx from this checkout.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
exec node --max-semi-space-size=128 --import tsx "$here/main.ts" "$@"
