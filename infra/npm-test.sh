#!/usr/bin/env bash
# npm test: static checks, then the whole suite against real Kafka, schema registry, Postgres and
# Redis. Works from a fresh clone with nothing started: installs dependencies, starts the stack,
# and stops again exactly what it started. Extra arguments go to test/run.ts (e.g. --tier unit).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash infra/ensure-node-modules.sh
bash infra/ensure-chromium.sh
bash infra/ensure-promtool.sh

echo "== static checks"
node --import tsx schemas/generate.ts --check
npx --no-install tsc --noEmit
npx --no-install eslint . --max-warnings=0
echo "static checks passed"

alive() { [ -f ".infra/$1.pid" ] && kill -0 "$(cat ".infra/$1.pid")" 2>/dev/null; }
started=()
for svc in kafka registry; do alive "$svc" || started+=("$svc"); done
cleanup() {
  local rc=$?
  for svc in "${started[@]}"; do bash infra/stack.sh stop "$svc" || true; done
  exit $rc
}
trap cleanup EXIT
bash infra/stack.sh up
# The suite runs on every Node line the project supports that is here: the machine's node and Node
# 24 LTS (the `node` devDependency, node_modules/.bin/node), newest first. EVENTLINE_TEST_NODE=<path>
# runs it on one binary only.
if [ -n "${EVENTLINE_TEST_NODE:-}" ]; then runtimes=("$EVENTLINE_TEST_NODE"); else mapfile -t runtimes < <(bash infra/node.sh all); fi
for runtime in "${runtimes[@]}"; do
  echo "== tests on node $("$runtime" --version) ($runtime)"
  "$runtime" --import tsx test/run.ts "$@"
done
