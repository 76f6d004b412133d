/**
 * Recovery after Redis lost a processor's state: one generic fold of the processor's topics
 * through the same StateWriter the live adapter uses (never a second implementation).
 *
 *   - Per processor: `state:<name>:complete` (the sentinel) marks the state whole. Its absence
 *     pauses that processor in every instance; live writes are fenced on it, so nothing half-built
 *     is written over.
 *   - One instance rebuilds under a short lease `state:<name>:lease` (default 10 s) holding a token
 *     `<host>:<pid>:<uuid>`, renewed every third of the lease while the rebuild makes progress. Every
 *     write of the rebuild is fenced by that token, so a holder that lost the lease (killed, paused,
 *     cut off) cannot write after the next one began. A dead holder's lease lapses within seconds.
 *   - Resumable and idempotent: the fold absorbs a fact twice as once (sets, maxima, latest by
 *     sequence), timers are keyed by id, so the next holder continues after the topics already
 *     completed (`state:<name>:rebuild`, a fenced hash) and re-folds the one in progress harmlessly.
 *   - Each topic is read from the timestamp index at its horizon (facts older than that cannot
 *     matter), in batches, with memory bounded by the batch, not the history.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Incoming } from '../kafka/index.ts';
import type { Logger } from '../log.ts';
import { runScript } from '../redis.ts';
import type { Runtime } from '../runtime.ts';
import type { TopicName } from '../topics.ts';
import type { StateWriter } from './store.ts';
import type { FoldedTopic } from './types.ts';

export interface StateKeys {
  readonly sentinel: string;
  readonly lease: string;
  readonly progress: string;
}

export function stateKeys(processor: string): StateKeys {
  return { sentinel: `state:${processor}:complete`, lease: `state:${processor}:lease`, progress: `state:${processor}:rebuild` };
}

export interface RebuildSpec<F> {
  readonly processor: string;
  readonly topics: readonly FoldedTopic[];
  /**
   * The fact a consumed record is, or null for records this processor's state ignores; `now` is the
   * rebuild's (the time its horizons are counted from), for a fact that also depends on its age.
   */
  fact(record: Incoming<TopicName>, now: number): F | null;
  readonly writer: StateWriter<F>;
}

export interface RebuildOptions {
  readonly leaseMs: number;
  readonly batch: number;
  /** A pause between batches, bounding the rebuild's load on Redis (0: none). */
  readonly throttleMs: number;
  readonly now?: number;
}

export interface RebuildReport {
  readonly processor: string;
  readonly facts: number;
  readonly records: number;
  readonly seconds: number;
  readonly resumedAfter: readonly string[];
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const FINISH = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('DEL', KEYS[1])
return 1`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const MARK_DONE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) return 1`;

export class LeaseLost extends Error {
  constructor(processor: string) {
    super(`lost the rebuild lease of ${processor}`);
    this.name = 'LeaseLost';
  }
}

/** Tries to take the lease and rebuild; null when another instance holds it. */
export async function rebuildUnderLease<F>(rt: Runtime, spec: RebuildSpec<F>, options: RebuildOptions, log: Logger): Promise<RebuildReport | null> {
  const keys = stateKeys(spec.processor);
  const token = `${hostname()}:${process.pid}:${randomUUID()}`;
  if ((await rt.redis.exists(keys.sentinel)) === 1) return null;
  if ((await rt.redis.set(keys.lease, token, 'PX', options.leaseMs, 'NX')) !== 'OK') return null;
  // The previous holder may have finished between the check above and taking the lease.
  if ((await rt.redis.exists(keys.sentinel)) === 1) {
    await runScript(rt.redis, RELEASE, 1, keys.lease, token);
    return null;
  }
  const started = Date.now();
  let lost = false;
  const renew = setInterval(() => {
    rt.redis
      .eval(RENEW, 1, keys.lease, token, String(options.leaseMs))
      .then((ok) => {
        if (Number(ok) !== 1) lost = true;
      })
      .catch(() => undefined);
  }, Math.max(200, Math.floor(options.leaseMs / 3)));
  const fence = { kind: 'lease', lease: keys.lease, token } as const;
  try {
    const done = await rt.redis.hgetall(keys.progress);
    const resumedAfter = Object.keys(done).filter((k) => k.startsWith('topic:'));
    if (resumedAfter.length > 0) log.warn({ processor: spec.processor, done: resumedAfter }, 'resuming a rebuild another instance began');
    await rt.redis.hset(keys.progress, 'started_at', done.started_at ?? new Date(started).toISOString());
    let facts = 0;
    let records = 0;
    const now = options.now ?? Date.now();
    for (const t of spec.topics) {
      if (done[`topic:${t.topic}`]) continue;
      let buffer: F[] = [];
      const flush = async () => {
        if (lost) throw new LeaseLost(spec.processor);
        const batch = buffer;
        buffer = [];
        if (batch.length > 0) await spec.writer.apply(batch, fence);
        facts += batch.length;
        if (options.throttleMs > 0) await new Promise((r) => setTimeout(r, options.throttleMs));
      };
      await rt.kafka.readToEnd(
        t.topic,
        async (record) => {
          records++;
          const fact = spec.fact(record, now);
          if (fact === null) return;
          buffer.push(fact);
          if (buffer.length >= options.batch) await flush();
        },
        t.horizonMs === null ? {} : { fromTimestamp: now - t.horizonMs },
      );
      await flush();
      if (Number(await runScript(rt.redis, MARK_DONE, 2, keys.lease, keys.progress, token, `topic:${t.topic}`, new Date().toISOString())) !== 1) throw new LeaseLost(spec.processor);
      log.info({ processor: spec.processor, topic: t.topic, facts }, 'rebuild: topic folded');
    }
    if (Number(await runScript(rt.redis, FINISH, 3, keys.lease, keys.sentinel, keys.progress, token, new Date().toISOString())) !== 1) throw new LeaseLost(spec.processor);
    return { processor: spec.processor, facts, records, seconds: (Date.now() - started) / 1000, resumedAfter };
  } finally {
    clearInterval(renew);
  }
}

/** The processors that keep state under a guard (names of their consumer groups, processor.<name>). */
export const statefulProcessors = ['fraud', 'dunning', 'dispatch'] as const;
export type StatefulProcessor = (typeof statefulProcessors)[number];
/** Every guarded state: the processors' and the customer directory they share. */
export const guardedStates = ['directory', ...statefulProcessors] as const;

export interface PauseStatus {
  readonly processor: string;
  readonly paused: boolean;
  /** When the rebuild began (ISO), when paused. */
  readonly since: string | null;
  /** The lease holder `<host>:<pid>:<uuid>`, or null while nobody holds it. */
  readonly holder: string | null;
  readonly leaseExpiresInMs: number | null;
}

/** Whether a processor's state is whole, and if not who is rebuilding it: read from Redis, so any process can tell. */
export async function pauseStatus(rt: Runtime, processor: string): Promise<PauseStatus> {
  const keys = stateKeys(processor);
  const [complete, holder, ttl, [pausedAt, startedAt]] = await Promise.all([rt.redis.exists(keys.sentinel), rt.redis.get(keys.lease), rt.redis.pttl(keys.lease), rt.redis.hmget(keys.progress, 'paused_at', 'started_at')]);
  if (complete === 1) return { processor, paused: false, since: null, holder: null, leaseExpiresInMs: null };
  return { processor, paused: true, since: pausedAt ?? startedAt ?? null, holder, leaseExpiresInMs: holder === null || ttl < 0 ? null : ttl };
}
