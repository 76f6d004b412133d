import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { afterEach, describe, it } from 'node:test';
import { fixRequestQueueTimer } from './request-queue.ts';

interface Queue {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}
const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (options: Record<string, unknown>) => Queue;
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const queue = (): Queue => new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: true, clientId: 'test', broker: '127.0.0.1:9092', logger: silent });

describe("kafkajs' request queue timer (tulios/kafkajs#1751)", () => {
  const made: Queue[] = [];
  afterEach(() => {
    for (const q of made.splice(0)) if (q.throttleCheckTimeoutId) clearTimeout(q.throttleCheckTimeoutId);
  });

  it('given the installed kafkajs, then the fix is needed and installed (a kafkajs that fixed it itself makes this fail: drop the fix then)', () => {
    assert.equal(fixRequestQueueTimer(), 'installed');
    assert.equal(fixRequestQueueTimer(), 'installed', 'idempotent');
  });

  it('given a queue with nothing waiting and no throttling, when a response asks for the check, then no timer is armed', () => {
    fixRequestQueueTimer();
    const q = queue();
    made.push(q);
    q.checkPendingRequests();
    assert.equal(q.throttleCheckTimeoutId, null);
  });

  it('given requests waiting, then the check is armed (at the throttle end when throttled), as kafkajs does; given a throttle alone, then it is armed for its end', () => {
    fixRequestQueueTimer();
    const waiting = queue();
    made.push(waiting);
    waiting.pending.push({});
    waiting.scheduleCheckPendingRequests();
    assert.notEqual(waiting.throttleCheckTimeoutId, null);

    const throttled = queue();
    made.push(throttled);
    throttled.throttledUntil = Date.now() + 60_000;
    throttled.scheduleCheckPendingRequests();
    assert.notEqual(throttled.throttleCheckTimeoutId, null);
    // A second ask while one is armed arms nothing more.
    const armed = throttled.throttleCheckTimeoutId;
    throttled.scheduleCheckPendingRequests();
    assert.equal(throttled.throttleCheckTimeoutId, armed);
  });
});
