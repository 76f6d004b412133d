import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, type TestEnv } from '../test/support/env.ts';
import { answerWithin, runScript } from './redis.ts';

// Sets KEYS[1] to ARGV[1] and returns the previous value with the key's name as the server saw it.
const SWAP = `local old = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], ARGV[1]); return {old or false, KEYS[1]}`;

describe('runScript against the real Redis', () => {
  let t: TestEnv;

  before(async () => {
    t = await createTestEnv('redis-script');
  });
  after(async () => {
    await t?.cleanup();
  });

  it('given a script the server has never seen, when run, then it runs once by its text and afterwards by its SHA1, with the namespaced keys', async () => {
    await t.rt.redis.script('FLUSH');
    const [first, key] = (await runScript(t.rt.redis, SWAP, 1, 'swap', 'a')) as [string | null, string];
    assert.equal(first, null);
    assert.equal(key, `${t.rt.redis.options.keyPrefix}swap`, 'keys are prefixed as for EVAL');
    const sha = createHash('sha1').update(SWAP).digest('hex');
    assert.deepEqual(await t.rt.redis.script('EXISTS', sha), [1], 'the text sent once is cached by the server under its SHA1');
    const [second] = (await runScript(t.rt.redis, SWAP, 1, 'swap', 'b')) as [string | null, string];
    assert.equal(second, 'a');
    assert.equal(await t.rt.redis.get('swap'), 'b');
  });

  it('given the server lost its scripts (a restart, SCRIPT FLUSH), when run again, then the script still runs', async () => {
    await runScript(t.rt.redis, SWAP, 1, 'again', 'x');
    await t.rt.redis.script('FLUSH');
    const [previous] = (await runScript(t.rt.redis, SWAP, 1, 'again', 'y')) as [string | null, string];
    assert.equal(previous, 'x');
  });

  it('given a script that fails, when run, then its error reaches the caller', async () => {
    await assert.rejects(runScript(t.rt.redis, `return redis.error_reply('boom')`, 0), /boom/);
  });
});

describe('answerWithin against the real Redis', () => {
  let t: TestEnv;

  before(async () => {
    t = await createTestEnv('redis-within');
  });
  after(async () => {
    await t?.cleanup();
  });

  /** Blocks this process's event loop, as a GC pause or a starved CPU does. */
  function stall(ms: number): void {
    const until = performance.now() + ms;
    while (performance.now() < until);
  }

  it('given this process stalls past the deadline while Redis has already answered, then the answer is returned, not the fallback', async () => {
    await t.rt.redis.set('within:seen', 'yes');
    for (let i = 0; i < 5; i++) {
      const answer = answerWithin(t.rt.redis.get('within:seen'), 20, 'timed out');
      stall(300);
      assert.equal(await answer, 'yes', `run ${i}: the reply in the socket is read before the late timer gives up`);
    }
  });

  it('given Redis does not answer in time, then the fallback comes at the deadline', async () => {
    const blocked = t.rt.redis.duplicate();
    try {
      const started = performance.now();
      // BLPOP on an empty list: Redis holds the answer back for a second.
      assert.equal(await answerWithin(blocked.blpop('within:empty', 1), 50, 'timed out'), 'timed out');
      const waited = performance.now() - started;
      // Node's timers count whole milliseconds from a coarser clock: a 50 ms timer may fire at 49.x.
      assert.ok(waited >= 45 && waited < 900, `gave up after ${waited.toFixed(1)} ms`);
    } finally {
      blocked.disconnect();
    }
  });

  it('given Redis answers with an error, then the fallback', async () => {
    await t.rt.redis.set('within:text', 'not a number');
    assert.equal(await answerWithin(t.rt.redis.incr('within:text'), 250, 'failed'), 'failed');
  });
});
