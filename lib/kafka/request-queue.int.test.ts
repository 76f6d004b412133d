import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { createTopics } from '../catalogue.ts';

describe('kafkajs connections at rest, against the real broker', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('requestqueue');
    await createTopics(t.rt.kafka);
  });
  after(async () => {
    await t?.cleanup();
  });

  it('given connections that answered requests, when they are idle, then they arm no timers (kafkajs 2.2.4 re-armed one every millisecond per connection: tulios/kafkajs#1751)', async () => {
    // The admin's connection and the producer's each answer requests first.
    await t.rt.kafka.listTopics();
    await t.rt.kafka.appender();
    await t.rt.kafka.topicOffsets('domain.events.v1');
    let timers = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'Timeout') timers++;
      },
    }).enable();
    // What is measured is a window of idleness: the timers created in 300 ms with nothing asked.
    await new Promise((resolve) => setTimeout(resolve, 300));
    hook.disable();
    assert.ok(timers <= 10, `${timers} timers created in 300 ms by idle connections (without the fix: one per connection per millisecond)`);
  });
});
