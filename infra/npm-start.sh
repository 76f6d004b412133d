#!/usr/bin/env bash
# npm start: everything, from a fresh clone. Installs dependencies, starts Kafka and the schema
# registry (Postgres and Redis must answer), applies migrations, creates topics, registers schemas,
# starts the Eventline processes (HTTP ingress, consumers) in the background, waits until it is ready and
# loads the demo dataset once (EVENTLINE_DEMO=off skips it). Safe to run again: what runs stays.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash infra/ensure-node-modules.sh
bash infra/stack.sh up
# The newest supported Node here: Node 24 LTS from the `node` devDependency when the machine's is older.
NODE=$(bash infra/node.sh newest)
echo "stack: running eventline on node $("$NODE" --version)" >&2

# Local secrets fill whatever the environment does not set (webhooks reject everything without them).
eval "$("$NODE" --import tsx infra/dev-secrets.ts)"
export EVENTLINE_PUBLIC_URL=${EVENTLINE_PUBLIC_URL:-http://127.0.0.1:${PORT:-8080}}

"$NODE" --max-semi-space-size=128 --import tsx cli/main.ts setup >"$ROOT/.infra/logs/setup.log" || { cat "$ROOT/.infra/logs/setup.log"; exit 1; }
echo "stack: database migrated, topics created, schemas registered" >&2

# Two processes, as a deployment would run them: the HTTP ingress (webhooks, API, dashboard) on its
# own event loop with V8's default young generation (short scavenges: acknowledgement latency), and
# the consumers (processors, projections) with room for their batches (ADR 0012), at the lowest CPU
# priority the host grants (infra/low-priority.sh: nice 19 and SCHED_IDLE) so that on a small host
# a backlog being caught up on yields the CPU to the acknowledgements (a deployment gives each its
# own machines: `eventline run --only http` / `--except http`).
start_process() { # name priority(normal|low) node-flags... -- run-args...
  local name=$1 priority=$2; shift 2
  local flags=()
  while [ "$1" != "--" ]; do flags+=("$1"); shift; done
  shift
  local pidfile="$ROOT/.infra/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "stack: eventline $name already running (pid $(cat "$pidfile")); 'npm stop' stops everything" >&2
    return
  fi
  local launcher=()
  if [ "$priority" = low ]; then launcher=(bash "$ROOT/infra/low-priority.sh"); fi
  setsid "${launcher[@]}" "$NODE" "${flags[@]}" --import tsx cli/main.ts run --no-migrate "$@" >>"$ROOT/.infra/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  echo "stack: started eventline $name (pid $!), logs in .infra/logs/$name.log" >&2
}
start_process app normal -- --only http
# The consumers serve their own /metrics (lag, batches, dead letters) and probes on 9464.
EVENTLINE_METRICS_PORT=${EVENTLINE_METRICS_PORT:-9464} start_process workers low --max-semi-space-size=128 -- --except http
"$NODE" --import tsx infra/check.ts wait-app "${EVENTLINE_PUBLIC_URL}/readyz"
"$NODE" --max-semi-space-size=128 --import tsx cli/main.ts bootstrap
