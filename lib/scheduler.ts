/**
 * Timers in a Redis sorted set that append a record to Kafka when they are due.
 *
 * - schedule(id, dueAt, record): idempotent by id (scheduling again moves nothing but the due time).
 *   The deciders write their timers with their state instead, in one script (lib/decider/store.ts).
 * - A runner claims due timers atomically (Lua: remove from "due", add to "claimed" with a lease),
 *   appends their records, then completes them. Two instances never claim the same timer; a timer
 *   whose claimer died before the append was acknowledged is put back when its lease expires. The
 *   records carry deterministic event ids, so the rare re-fire after a crash is deduplicated.
 * - A gate bounds what may fire: timers due after gate() wait (event time during replays, ADR 0008).
 */
import { errorMessage } from './errors.ts';
import type { Kafka, OutgoingGroup } from './kafka/index.ts';
import type { Logger } from './log.ts';
import { runScript, type Redis } from './redis.ts';

export interface TimerPayload {
  readonly topic: OutgoingGroup['topic'];
  readonly record: OutgoingGroup['records'][number];
}

const CLAIM = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(due) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    table.insert(out, id)
    table.insert(out, redis.call('HGET', KEYS[3], id) or '')
  end
end
return out`;

// A timer scheduled again while claimed keeps its new due time (NX).
const RECLAIM = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], 'NX', ARGV[1], id)
end
return #expired`;

const COMPLETE = `
for _, id in ipairs(ARGV) do
  redis.call('ZREM', KEYS[1], id)
  if not redis.call('ZSCORE', KEYS[2], id) then redis.call('HDEL', KEYS[3], id) end
end
return 0`;

/** A scheduler's Redis keys: due timers (sorted by due time), claimed ones (by lease expiry), payloads. */
export interface SchedulerKeys {
  readonly due: string;
  readonly claimed: string;
  readonly payload: string;
}

export class Scheduler {
  private readonly redis: Redis;
  /** Also written by the deciders' save script (lib/decider/store.ts), with the state that wants the timers. */
  readonly keys: SchedulerKeys;
  private readonly log: Logger;
  /** Wakes this process's runner when a timer is scheduled already due (instead of waiting for the next poll). */
  private wake: (() => void) | null = null;

  constructor(redis: Redis, name: string, log: Logger) {
    this.redis = redis;
    this.keys = { due: `timers:${name}:due`, claimed: `timers:${name}:claimed`, payload: `timers:${name}:payload` };
    this.log = log.child({ scheduler: name });
  }

  async schedule(id: string, dueAt: number, payload: TimerPayload): Promise<void> {
    await this.redis.multi().hset(this.keys.payload, id, JSON.stringify(payload)).zadd(this.keys.due, dueAt, id).exec();
    if (dueAt <= Date.now()) this.wake?.();
  }

  /** To be called after timers were added outside schedule() (the deciders' save): wakes the runner when one is already due. */
  added(dueAts: readonly number[]): void {
    const now = Date.now();
    if (dueAts.some((d) => d <= now)) this.wake?.();
  }

  /** Due time of a scheduled timer, or null. */
  async dueAt(id: string): Promise<number | null> {
    const score = await this.redis.zscore(this.keys.due, id);
    return score === null ? null : Number(score);
  }

  async pending(): Promise<number> {
    return this.redis.zcard(this.keys.due);
  }

  /** Claims up to `limit` timers due at or before `until`, leased for `leaseMs`. */
  async claim(until: number, limit: number, leaseMs: number): Promise<{ id: string; payload: TimerPayload | null }[]> {
    const raw = (await runScript(this.redis, CLAIM, 3, this.keys.due, this.keys.claimed, this.keys.payload, String(until), String(limit), String(Date.now() + leaseMs))) as string[];
    const out: { id: string; payload: TimerPayload | null }[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const text = raw[i + 1] ?? '';
      out.push({ id: raw[i] as string, payload: text ? (JSON.parse(text) as TimerPayload) : null });
    }
    return out;
  }

  /**
   * Done with fired timers: out of "claimed", and their payloads dropped — unless the timer was
   * scheduled again while it fired (it is due again): its new payload stays for its next firing.
   */
  async complete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await runScript(this.redis, COMPLETE, 3, this.keys.claimed, this.keys.due, this.keys.payload, ...ids);
  }

  /** Puts timers whose lease expired (their claimer died) back to due. */
  async reclaimExpired(now = Date.now()): Promise<number> {
    return (await runScript(this.redis, RECLAIM, 2, this.keys.claimed, this.keys.due, String(now))) as number;
  }

  /** One pass: reclaim, claim what is due (bounded by the gate), append it, complete it. */
  async tick(kafka: Kafka, gate: () => Promise<number>, options: { batch?: number; leaseMs?: number } = {}): Promise<number> {
    await this.reclaimExpired();
    const until = Math.min(Date.now(), await gate());
    const claimed = await this.claim(until, options.batch ?? 200, options.leaseMs ?? 30_000);
    if (claimed.length === 0) return 0;
    const byTopic = new Map<string, OutgoingGroup['records'][number][]>();
    for (const c of claimed) {
      if (!c.payload) {
        this.log.warn({ timer: c.id }, 'due timer without a payload: completed without firing');
        continue;
      }
      const list = byTopic.get(c.payload.topic) ?? [];
      list.push(c.payload.record);
      byTopic.set(c.payload.topic, list);
    }
    const appender = await kafka.appender();
    await appender.appendMany([...byTopic].map(([topic, records]) => ({ topic, records }) as unknown as OutgoingGroup));
    await this.complete(claimed.map((c) => c.id));
    return claimed.length;
  }

  /** Runs ticks until stopped. */
  run(kafka: Kafka, gate: () => Promise<number>, options: { intervalMs?: number } = {}): { stop(): Promise<void> } {
    let stopped = false;
    let current: Promise<void> = Promise.resolve();
    const loop = async () => {
      while (!stopped) {
        let fired = 0;
        try {
          fired = await this.tick(kafka, gate);
          if (fired > 0) this.log.debug({ fired }, 'timers fired');
        } catch (err) {
          this.log.warn({ err: errorMessage(err) }, 'scheduler tick failed');
        }
        if (fired === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, options.intervalMs ?? 250);
            function done() {
              clearTimeout(timer);
              resolve();
            }
            this.wake = done;
          });
          this.wake = null;
        }
      }
    };
    current = loop();
    return {
      async stop() {
        stopped = true;
        await current;
      },
    };
  }
}
