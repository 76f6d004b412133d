/**
 * The dunning processor's state in Redis: each case (by invoice id), the open cases of each
 * subscription, and each customer's failures (for the churn-risk score).
 */
import type { Redis } from '../../lib/redis.ts';
import type { DunningCase } from './decide.ts';

const TTL_SECONDS = 400 * 86_400;

export class DunningStore {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  async get(caseId: string): Promise<DunningCase | null> {
    const raw = await this.redis.get(`dunning:case:${caseId}`);
    return raw === null ? null : (JSON.parse(raw) as DunningCase);
  }

  async openCasesOf(subscriptionId: string): Promise<string[]> {
    return this.redis.smembers(`dunning:sub:${subscriptionId}`);
  }

  /** Earlier cases of a customer opened in the 90 days before `at` (this one excluded). */
  async priorFailures(customerId: string, at: number, caseId: string): Promise<number> {
    const members = await this.redis.zrangebyscore(`dunning:failures:${customerId}`, at - 90 * 86_400_000, at);
    return members.filter((m) => m !== caseId).length;
  }

  async put(c: DunningCase): Promise<void> {
    const m = this.redis.multi().set(`dunning:case:${c.caseId}`, JSON.stringify(c), 'EX', TTL_SECONDS);
    m.zadd(`dunning:failures:${c.customerId}`, c.openedAt, c.caseId).expire(`dunning:failures:${c.customerId}`, TTL_SECONDS);
    if (c.subscriptionId) {
      if (c.status === 'open') m.sadd(`dunning:sub:${c.subscriptionId}`, c.caseId);
      else m.srem(`dunning:sub:${c.subscriptionId}`, c.caseId);
    }
    await m.exec();
  }
}
