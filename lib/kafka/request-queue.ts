/**
 * A fix for kafkajs 2.2.4's request queue, installed once per process (see ADR 0019).
 *
 * After every response, kafkajs schedules a check of the requests waiting for the broker to stop
 * throttling. `throttledUntil` starts at -1, so when the broker never throttled the delay is
 * -Date.now(), which Node turns into 1 ms (Node 24 also warns: TimeoutNegativeWarning). When that
 * timer fires with nothing waiting, the check schedules itself again: every connection that has
 * answered a request wakes its process every millisecond for as long as it lives
 * (tulios/kafkajs#1751, open upstream). Here the check is scheduled only when something waits
 * (then as kafkajs does) or the broker throttles; a request pushed later schedules its own check.
 */
import { createRequire } from 'node:module';

interface RequestQueueInternals {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs' own interval for re-checking a queue held back by in-flight limits. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;
/** The expression of the method this replaces: a kafkajs that no longer has it is left alone. */
const FAULTY = 'let scheduleAt = this.throttledUntil - Date.now()';

let state: 'installed' | 'not needed' | null = null;

function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId) return;
  const throttledFor = this.throttledUntil - Date.now();
  let delay: number;
  if (this.pending.length > 0) delay = throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  else if (throttledFor > 0) delay = throttledFor;
  else return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

/** Installs the fix (idempotent); says whether the installed kafkajs needed it. */
export function fixRequestQueueTimer(): 'installed' | 'not needed' {
  if (state) return state;
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueInternals };
  const original = RequestQueue.prototype.scheduleCheckPendingRequests;
  if (typeof original === 'function' && original.toString().includes(FAULTY)) {
    RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
    state = 'installed';
  } else {
    state = 'not needed';
  }
  return state;
}
