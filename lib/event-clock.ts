/**
 * An event-time clock for timers. While a processor is behind on its input (a replay, a backfill,
 * a catch-up after downtime), "now" for its timers is the event time it has reached, so a timer
 * due yesterday does not fire before the events of yesterday that may cancel it have been seen.
 * Once every partition is caught up, the wall clock rules (gate() is +∞).
 */
import type { Batch } from './kafka/index.ts';
import { runScript, type Redis } from './redis.ts';
import type { AnyTopicName } from './topics.ts';

/**
 * A partition's entry keeps the highest event time seen (never moving back) and whether the batch
 * just handled reached the end of the partition: `{"watermark":<ms>,"caughtUp":<bool>}`.
 */
const OBSERVE = `
local previous = redis.call('HGET', KEYS[1], ARGV[1])
local watermark = ARGV[2]
if previous then
  local before = string.match(previous, '"watermark":(%-?[%d.eE+]+)')
  if before and tonumber(before) > tonumber(watermark) then watermark = before end
end
redis.call('HSET', KEYS[1], ARGV[1], '{"watermark":' .. watermark .. ',"caughtUp":' .. ARGV[3] .. '}')
return 1`;

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

  /** Records the event time and caught-up state of a partition after a batch (one round trip). */
  async observe<T extends AnyTopicName>(batch: Batch<T>): Promise<void> {
    if (!this.topics.has(batch.topic)) return;
    let watermark = 0;
    for (const r of batch.records) {
      const at = (r.value as { occurred_at: number }).occurred_at;
      if (Number.isFinite(at)) watermark = Math.max(watermark, at);
    }
    const caughtUp = BigInt(batch.lastOffset) + 1n >= BigInt(batch.highWatermark);
    await runScript(this.redis, OBSERVE, 1, this.key, `${batch.topic}/${batch.partition}`, String(watermark), String(caughtUp));
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
