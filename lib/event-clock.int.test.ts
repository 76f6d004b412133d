import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, type TestEnv } from '../test/support/env.ts';
import { EventClock } from './event-clock.ts';
import type { Batch, Incoming } from './kafka/index.ts';
import type { AnyTopicName } from './topics.ts';

/** A batch as the consumer hands it over: records with their event times, and where the partition ends. */
function batch(topic: AnyTopicName, partition: number, occurredAt: readonly number[], lastOffset: number, highWatermark: number): Batch<AnyTopicName> {
  return {
    group: 'g',
    topic,
    partition,
    records: occurredAt.map((at) => ({ value: { occurred_at: at } }) as unknown as Incoming<AnyTopicName>),
    firstOffset: '0',
    lastOffset: String(lastOffset),
    highWatermark: String(highWatermark),
    heartbeat: () => Promise.resolve(),
    isStale: () => false,
    isRunning: () => true,
  };
}

describe('the event clock against the real Redis', () => {
  let t: TestEnv;
  const T = Date.UTC(2026, 0, 1);

  before(async () => {
    t = await createTestEnv('event-clock');
  });
  after(async () => {
    await t?.cleanup();
  });

  it('given partitions behind, then timers may fire up to the earliest event time any of them reached; once all are caught up, at any time', async () => {
    const clock = new EventClock(t.rt.redis, 'behind', ['stripe.events.v1', 'notify.dispatch-requests.v1']);
    assert.equal(await clock.gate(), Number.POSITIVE_INFINITY, 'nothing observed: the wall clock rules');
    await clock.observe(batch('stripe.events.v1', 0, [T + 5_000, T + 9_000, T + 7_000], 10, 100));
    await clock.observe(batch('stripe.events.v1', 1, [T + 3_000], 4, 50));
    await clock.observe(batch('notify.dispatch-requests.v1', 0, [T + 20_000], 99, 100));
    assert.equal(await clock.gate(), T + 3_000, 'the slowest partition behind');
    await clock.observe(batch('stripe.events.v1', 1, [T + 4_000], 49, 50));
    assert.equal(await clock.gate(), T + 9_000, 'partition 1 caught up: partition 0 holds the gate at its latest event');
    await clock.observe(batch('stripe.events.v1', 0, [T + 12_000], 99, 100));
    assert.equal(await clock.gate(), Number.POSITIVE_INFINITY);
  });

  it('given a batch with older events than one before it (a redelivery), then the partition keeps its latest event time', async () => {
    const clock = new EventClock(t.rt.redis, 'monotonic', ['stripe.events.v1']);
    await clock.observe(batch('stripe.events.v1', 0, [T + 60_000], 10, 100));
    await clock.observe(batch('stripe.events.v1', 0, [T + 1_000, T + 2_000], 12, 100));
    assert.equal(await clock.gate(), T + 60_000);
    await clock.observe(batch('stripe.events.v1', 0, [T + 61_000], 13, 100));
    assert.equal(await clock.gate(), T + 61_000);
    assert.deepEqual(JSON.parse((await t.rt.redis.hget('clock:monotonic', 'stripe.events.v1/0')) ?? 'null'), { watermark: T + 61_000, caughtUp: false });
  });

  it('given two batches of one partition observed at once (a rebalance overlap), then the later event time stands, whichever is written last', async () => {
    for (let i = 0; i < 5; i++) {
      const clock = new EventClock(t.rt.redis, `overlap${i}`, ['stripe.events.v1']);
      await clock.observe(batch('stripe.events.v1', 0, [T], 1, 100));
      await Promise.all([clock.observe(batch('stripe.events.v1', 0, [T + 60_000], 2, 100)), clock.observe(batch('stripe.events.v1', 0, [T + 10_000], 3, 100))]);
      assert.equal(await clock.gate(), T + 60_000);
    }
  });

  it('given a record without an event time, then the partition keeps the time it had', async () => {
    const clock = new EventClock(t.rt.redis, 'timeless', ['stripe.events.v1']);
    await clock.observe(batch('stripe.events.v1', 0, [T + 5_000], 1, 100));
    await clock.observe(batch('stripe.events.v1', 0, [Number.NaN], 2, 100));
    assert.equal(await clock.gate(), T + 5_000);
  });

  it('given a topic that is not one of its inputs, then it is not observed', async () => {
    const clock = new EventClock(t.rt.redis, 'inputs', ['stripe.events.v1']);
    await clock.observe(batch('notify.dispatches.v1', 0, [T], 0, 100));
    assert.equal(await t.rt.redis.hlen('clock:inputs'), 0);
    assert.equal(await clock.gate(), Number.POSITIVE_INFINITY);
  });
});
