#!/usr/bin/env bash
# npm start: everything, from a fresh clone. Installs dependencies, starts Kafka and the schema
# registry (Postgres and Redis must answer), applies migrations, creates topics, registers schemas,
# starts the Eventline process (HTTP + consumers) in the background, waits until it is ready and
# loads the demo dataset once (EVENTLINE_DEMO=off skips it). Safe to run again: what runs stays.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash infra/ensure-node-modules.sh
bash infra/stack.sh up

# Local secrets fill whatever the environment does not set (webhooks reject everything without them).
eval "$(node --import tsx infra/dev-secrets.ts)"
export EVENTLINE_PUBLIC_URL=${EVENTLINE_PUBLIC_URL:-http://127.0.0.1:${PORT:-8080}}

./cli/eventline.sh setup >"$ROOT/.infra/logs/setup.log" || { cat "$ROOT/.infra/logs/setup.log"; exit 1; }
echo "stack: database migrated, topics created, schemas registered" >&2

pidfile="$ROOT/.infra/app.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "stack: eventline already running (pid $(cat "$pidfile")); 'npm stop' stops everything" >&2
else
  setsid node --max-semi-space-size=128 --import tsx cli/main.ts run >>"$ROOT/.infra/logs/app.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  echo "stack: started eventline (pid $!), logs in .infra/logs/app.log" >&2
fi
node --import tsx infra/check.ts wait-app "${EVENTLINE_PUBLIC_URL}/readyz"
node --max-semi-space-size=128 --import tsx cli/main.ts bootstrap
