#!/usr/bin/env bash
# Runs a command at the lowest CPU priority this host grants (ADR 0013): nice 19 always, and the
# SCHED_IDLE policy where the kernel lets this user ask for it (any user may, on Linux; util-linux's
# chrt). Under nice 19 alone, a consumer's thread that holds a core is not always preempted when the
# HTTP ingress wakes up, so an acknowledgement waits for the rest of its time slice; under SCHED_IDLE
# it gets only what nothing else wants, and yields at once (docs/performance.md, tenth look).
#   infra/low-priority.sh <command> [args...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: infra/low-priority.sh <command> [args...]" >&2; exit 2; }
if command -v chrt >/dev/null 2>&1 && chrt --idle 0 true 2>/dev/null; then
  exec nice -n 19 chrt --idle 0 "$@"
fi
exec nice -n 19 "$@"
