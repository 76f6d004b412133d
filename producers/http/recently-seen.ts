/**
 * A best-effort memory of event ids appended recently (Redis keys with a TTL), so a provider's
 * duplicate delivery is answered without appending again. Correctness never depends on it —
 * consumers dedupe by event id — so Redis trouble only costs a re-append, never a failed request.
 */
import { answerWithin, type Redis } from '../../lib/redis.ts';

export class RecentlySeen {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly timeoutMs: number;

  constructor(redis: Redis, prefix: string, ttlSeconds = 7 * 86_400, timeoutMs = 250) {
    this.redis = redis;
    this.prefix = prefix;
    this.ttlSeconds = ttlSeconds;
    this.timeoutMs = timeoutMs;
  }

  /** The subset of ids already seen (empty when Redis does not answer in time). */
  async seen(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const found = await this.bounded(this.redis.mget(...ids.map((id) => this.key(id))));
    if (!found) return new Set();
    return new Set(ids.filter((_, i) => found[i] !== null));
  }

  async mark(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    if (ids.length === 1) {
      await this.bounded(this.redis.set(this.key(ids[0] as string), '1', 'EX', this.ttlSeconds));
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.set(this.key(id), '1', 'EX', this.ttlSeconds);
    await this.bounded(pipeline.exec());
  }

  /**
   * `mark` without waiting: the SETs go out on this connection now, so Redis runs them before any
   * check a later request sends (an immediate retry is still answered as a duplicate), but the
   * caller's answer does not wait for Redis (a slow Redis costs a webhook's acknowledgement up to
   * the 250 ms bound otherwise). Never rejects.
   */
  remember(ids: readonly string[]): void {
    void this.mark(ids);
  }

  private key(id: string): string {
    return `${this.prefix}:${id}`;
  }

  private bounded<T>(p: Promise<T>): Promise<T | null> {
    return answerWithin(p, this.timeoutMs, null);
  }
}
