/**
 * The decisions a processor made, by input event id (Redis, 30 days). Re-processing an input —
 * after a crash, a rebalance or a replay — returns the recorded decision instead of deciding again
 * against state that has moved on, so a replay reproduces identical decisions.
 */
import type { Redis } from './redis.ts';

export class DecisionLog<D> {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlSeconds: number;

  constructor(redis: Redis, processor: string, ttlSeconds = 30 * 86_400) {
    this.redis = redis;
    this.prefix = `decisions:${processor}`;
    this.ttlSeconds = ttlSeconds;
  }

  async get(eventId: string): Promise<D | null> {
    const raw = await this.redis.get(`${this.prefix}:${eventId}`);
    return raw === null ? null : (JSON.parse(raw) as D);
  }

  async put(eventId: string, decision: D): Promise<void> {
    await this.redis.set(`${this.prefix}:${eventId}`, JSON.stringify(decision), 'EX', this.ttlSeconds);
  }
}
