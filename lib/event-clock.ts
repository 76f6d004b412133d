/**
 * An event-time clock for timers. While a processor is behind on its input (a replay, a backfill,
 * a catch-up after downtime), "now" for its timers is the event time it has reached, so a timer
 * due yesterday does not fire before the events of yesterday that may cancel it have been seen.
 * Once every partition is caught up, the wall clock rules (gate() is +∞).
 */
import type { Batch } from './kafka/index.ts';
import type { Redis } from './redis.ts';
import type { AnyTopicName } from './topics.ts';

export class EventClock {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly topics: ReadonlySet<string>;

  /** `topics`: the inputs whose event time drives this clock (not the timers' own output topic). */
  constructor(redis: Redis, name: string, topics: readonly AnyTopicName[]) {
    this.redis = redis;
    this.key = `clock:${name}`;
    this.topics = new Set(topics);
  }

  /** Records the event time and caught-up state of a partition after a batch. */
  async observe<T extends AnyTopicName>(batch: Batch<T>): Promise<void> {
    if (!this.topics.has(batch.topic)) return;
    let watermark = 0;
    for (const r of batch.records) watermark = Math.max(watermark, (r.value as { occurred_at: number }).occurred_at);
    const field = `${batch.topic}/${batch.partition}`;
    const previous = await this.redis.hget(this.key, field);
    const before = previous ? (JSON.parse(previous) as { watermark: number }).watermark : 0;
    const caughtUp = BigInt(batch.lastOffset) + 1n >= BigInt(batch.highWatermark);
    await this.redis.hset(this.key, field, JSON.stringify({ watermark: Math.max(before, watermark), caughtUp }));
  }

  /** The latest time timers may fire at (Infinity when every partition is caught up). */
  async gate(): Promise<number> {
    const all = await this.redis.hvals(this.key);
    let gate = Number.POSITIVE_INFINITY;
    for (const v of all) {
      const p = JSON.parse(v) as { watermark: number; caughtUp: boolean };
      if (!p.caughtUp) gate = Math.min(gate, p.watermark);
    }
    return gate;
  }
}
