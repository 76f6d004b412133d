/**
 * The fraud processor's state in Redis: event-time windows of payment attempts and small charges
 * per customer, card fingerprints involved in fraud (with the time they were flagged), and the
 * fingerprint of each charge (to attribute disputes).
 */
import type { Redis } from '../../lib/redis.ts';
import type { FraudPolicy, PaymentFacts } from './decide.ts';

const KEEP_MS = 7 * 86_400_000;
const TTL_SECONDS = 30 * 86_400;

export class FraudStore {
  private readonly redis: Redis;
  private readonly policy: FraudPolicy;

  constructor(redis: Redis, policy: FraudPolicy) {
    this.redis = redis;
    this.policy = policy;
  }

  /** Adds this payment to the customer's windows and counts them, this payment included (event time). */
  async observe(f: PaymentFacts): Promise<{ attemptsInWindow: number; smallChargesInWindow: number }> {
    const attempts = `fraud:attempts:${f.customerId}`;
    const small = `fraud:small:${f.customerId}`;
    const from = f.at - this.policy.windowMs;
    const m = this.redis.multi();
    m.zadd(attempts, f.at, f.eventId).zremrangebyscore(attempts, '-inf', f.at - KEEP_MS).expire(attempts, TTL_SECONDS);
    if (f.amount < this.policy.smallChargeCents) m.zadd(small, f.at, f.eventId).zremrangebyscore(small, '-inf', f.at - KEEP_MS).expire(small, TTL_SECONDS);
    m.zcount(attempts, from, f.at).zcount(small, from, f.at);
    const res = (await m.exec()) ?? [];
    const counts = res.slice(-2).map(([err, n]) => {
      if (err) throw err;
      return Number(n);
    });
    return { attemptsInWindow: counts[0] ?? 0, smallChargesInWindow: counts[1] ?? 0 };
  }

  /** Whether a fingerprint was flagged before `at`. */
  async flaggedBefore(fingerprint: string, at: number): Promise<boolean> {
    const since = await this.redis.zscore('fraud:flagged', fingerprint);
    return since !== null && Number(since) < at;
  }

  /** Flags a fingerprint as involved in fraud from `at` (the earliest flag wins). */
  async flag(fingerprint: string, at: number): Promise<void> {
    await this.redis.zadd('fraud:flagged', 'LT', at, fingerprint);
  }

  async rememberCharge(chargeId: string, fingerprint: string): Promise<void> {
    await this.redis.set(`fraud:charge:${chargeId}`, fingerprint, 'EX', 180 * 86_400);
  }

  async fingerprintOfCharge(chargeId: string): Promise<string | null> {
    return this.redis.get(`fraud:charge:${chargeId}`);
  }
}
