import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { clearNamespace, createRedis, type Redis } from '../../lib/redis.ts';
import { RateLimiter } from './effects.ts';

describe('the per-channel rate limit, shared through the real Redis', () => {
  const config = loadConfig({ ...process.env, EVENTLINE_NAMESPACE: `t-rate-${randomBytes(3).toString('hex')}`, LOG_LEVEL: 'error' }, 'test-rate');
  const log = createLogger(config);
  // Two clients, as two dispatch instances have: nothing but Redis is shared.
  let a: Redis;
  let b: Redis;

  before(() => {
    a = createRedis(config, log);
    b = createRedis(config, log);
  });
  after(async () => {
    await clearNamespace(a);
    a.disconnect();
    b.disconnect();
  });

  it('two instances together never take more than the limit in any one second', async () => {
    const limits = { email: 5, sms: 1, push: 0, in_app: 0 };
    const instances = [new RateLimiter(a, limits), new RateLimiter(b, limits)];
    const started = Date.now();
    const grants: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        await instances[i % 2]!.acquire('email');
        grants.push(Date.now());
      }),
    );
    grants.sort((x, y) => x - y);
    // 950 ms windows: 50 ms for the reply to travel from Redis back to this process.
    const busiest = Math.max(...grants.map((start) => grants.filter((x) => x >= start && x < start + 950).length));
    assert.ok(busiest <= 5, `${busiest} grants within 950 ms: +${grants.map((x) => x - grants[0]!).join(', +')} ms`);
    // 16 at 5 a second: the 16th waits until three seconds after the first.
    assert.ok(Date.now() - started >= 2_990, `16 grants at 5 a second took only ${Date.now() - started} ms`);
  });

  it('keeps each channel to its own limit, and refuses a channel with none', async () => {
    const limiter = new RateLimiter(a, { email: 100, sms: 1, push: 0, in_app: 0 });
    const started = Date.now();
    await limiter.acquire('sms');
    await limiter.acquire('sms');
    assert.ok(Date.now() - started >= 990, `the second SMS of a 1/s limit came after ${Date.now() - started} ms`);
    const emails = Date.now();
    await Promise.all(Array.from({ length: 50 }, () => limiter.acquire('email')));
    assert.ok(Date.now() - emails < 900, `50 emails under a limit of 100/s waited ${Date.now() - emails} ms`);
    await assert.rejects(limiter.acquire('push'), /no push sends allowed/);
  });
});
