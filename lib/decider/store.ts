/**
 * Entities in Redis, and the one way they are written: load, fold, compare-and-set under a fence.
 *
 * Each entity is a hash `{v: version, s: state JSON}` under `<kind>:<key>`. A write is one Lua script
 * that (1) checks the fence, (2) checks every entity's version is still the one loaded, and only
 * then (3) writes them all. The fence is what keeps writers apart while the state is rebuilt:
 *
 *   live processors  write only while the processor's `complete` sentinel exists (not during a rebuild);
 *   the rebuild      writes only while it holds the lease with its own token (a holder that lost the
 *                    lease — paused, partitioned, presumed dead — cannot write after the next holder began).
 *
 * A version conflict (another instance folded into the same entity meanwhile) reloads and folds again;
 * a fenced write fails with `state_rebuilding` (retryable), so the batch is retried after the rebuild.
 */
import { EventlineError } from '../errors.ts';
import { runScript, type Redis } from '../redis.ts';
import type { Scheduler, SchedulerKeys, TimerPayload } from '../scheduler.ts';
import { traceHeaders, type TraceHeaders } from '../tracing.ts';
import { foldInto, refsOf, sameState, timersOf } from './fold.ts';
import { refId, type AnyEntityKind, type EntityRef, type Timer } from './types.ts';

/** Timers written with a save (see EntityStore.save): the scheduler's keys, what to add, what to cancel. */
export interface TimerWrites {
  readonly keys: SchedulerKeys;
  readonly add: readonly { readonly id: string; readonly dueAt: number; readonly payload: string }[];
  readonly cancel: readonly string[];
}

export interface Loaded {
  readonly state: unknown;
  readonly version: number;
}

/** Who may write: live processors (the sentinel must exist) or the rebuild holding the lease. */
export type Fence = { readonly kind: 'live'; readonly sentinel: string } | { readonly kind: 'lease'; readonly lease: string; readonly token: string };

const SAVE = `
local fence = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if not fence then return -1 end
elseif fence ~= ARGV[1] then
  return -1
end
local adds, cancels = tonumber(ARGV[2]), tonumber(ARGV[3])
local timerKeys = (adds + cancels > 0) and 3 or 0
local n = #KEYS - 1 - timerKeys
for i = 1, n do
  local v = redis.call('HGET', KEYS[i + 1], 'v') or '0'
  if v ~= ARGV[(i - 1) * 3 + 4] then return i end
end
for i = 1, n do
  local base = (i - 1) * 3 + 3
  redis.call('HSET', KEYS[i + 1], 'v', tonumber(ARGV[base + 1]) + 1, 's', ARGV[base + 2])
  if ARGV[base + 3] == '0' then redis.call('PERSIST', KEYS[i + 1]) else redis.call('EXPIRE', KEYS[i + 1], ARGV[base + 3]) end
end
if timerKeys > 0 then
  local due, claimed, payload = KEYS[n + 2], KEYS[n + 3], KEYS[n + 4]
  local at = n * 3 + 4
  for j = 1, adds do
    local base = at + (j - 1) * 3
    redis.call('HSET', payload, ARGV[base], ARGV[base + 2])
    redis.call('ZADD', due, ARGV[base + 1], ARGV[base])
  end
  at = at + adds * 3
  for j = 1, cancels do
    local id = ARGV[at + j - 1]
    redis.call('ZREM', due, id)
    redis.call('ZREM', claimed, id)
    redis.call('HDEL', payload, id)
  end
end
return 0`;

/** What makes a timer the same timer: its id, due time and record (not the trace it carries). */
function timerIdentity(t: Timer): string {
  return `${t.dueAt}|${JSON.stringify(t.output)}`;
}

const isFenceList = (f: Fence | readonly Fence[]): f is readonly Fence[] => Array.isArray(f);

export class EntityStore {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /**
   * The entities, read atomically with the fence (MULTI): a decision is never made on a state that
   * is being rebuilt — with a fence that does not hold, this fails with `state_rebuilding`. Several
   * fences: every one must hold (a processor's own state and the customer directory it reads).
   */
  async load(refs: readonly EntityRef[], fence: Fence | readonly Fence[] | null = null): Promise<Map<string, Loaded>> {
    const out = new Map<string, Loaded>();
    const fences: readonly Fence[] = fence === null ? [] : isFenceList(fence) ? fence : [fence];
    if (refs.length === 0 && fences.length === 0) return out;
    const tx = this.redis.multi();
    for (const f of fences) tx.get(f.kind === 'live' ? f.sentinel : f.lease);
    for (const r of refs) tx.hmget(refId(r), 'v', 's');
    const results = (await tx.exec()) ?? [];
    fences.forEach((f, i) => {
      const [err, value] = results[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const holds = f.kind === 'live' ? value !== null : value === f.token;
      if (!holds) throw new EventlineError('state_rebuilding', 'processor state is being rebuilt (or this writer lost its lease); retry after the rebuild');
    });
    refs.forEach((r, i) => {
      const [err, value] = results[i + fences.length] ?? [new Error('no reply'), null];
      if (err) throw err;
      const [v, s] = value as [string | null, string | null];
      if (v !== null && s !== null) out.set(refId(r), { state: JSON.parse(s) as unknown, version: Number(v) });
    });
    return out;
  }

  /** One entity's state, or null (fenced when a fence is given). */
  async get<S>(ref: EntityRef, fence: Fence | null = null): Promise<S | null> {
    return ((await this.load([ref], fence)).get(refId(ref))?.state as S | undefined) ?? null;
  }

  /**
   * Compare-and-set under the fence: 'ok', 'conflict' (reload and fold again) or 'fenced'. `timers`:
   * the scheduler's timers to add (or move) and to cancel, written in the same script as the
   * entities, so a timer exists exactly when the state that wants it was saved.
   */
  async save(writes: readonly { ref: EntityRef; version: number; state: unknown; ttlSeconds: number }[], fence: Fence, timers?: TimerWrites): Promise<'ok' | 'conflict' | 'fenced'> {
    const add = timers?.add ?? [];
    const cancel = timers?.cancel ?? [];
    if (writes.length === 0 && add.length + cancel.length === 0) return (await this.fenceHolds(fence)) ? 'ok' : 'fenced';
    const timerKeys = timers && add.length + cancel.length > 0 ? [timers.keys.due, timers.keys.claimed, timers.keys.payload] : [];
    const keys = [fence.kind === 'live' ? fence.sentinel : fence.lease, ...writes.map((w) => refId(w.ref)), ...timerKeys];
    const args = [
      fence.kind === 'live' ? '' : fence.token,
      String(timerKeys.length > 0 ? add.length : 0),
      String(timerKeys.length > 0 ? cancel.length : 0),
      ...writes.flatMap((w) => [String(w.version), JSON.stringify(w.state), String(w.ttlSeconds)]),
      ...(timerKeys.length > 0 ? [...add.flatMap((t) => [t.id, String(t.dueAt), t.payload]), ...cancel] : []),
    ];
    const result = Number(await runScript(this.redis, SAVE, keys.length, ...keys, ...args));
    return result === 0 ? 'ok' : result < 0 ? 'fenced' : 'conflict';
  }

  async fenceHolds(fence: Fence): Promise<boolean> {
    const value = await this.redis.get(fence.kind === 'live' ? fence.sentinel : fence.lease);
    return fence.kind === 'live' ? value !== null : value === fence.token;
  }
}

/**
 * Folds facts into their entities and keeps the timers the entities want scheduled: the single
 * write path of a processor's state, live and during a rebuild.
 */
export class StateWriter<F> {
  private readonly store: EntityStore;
  private readonly kinds: readonly AnyEntityKind<F>[];
  private readonly byName: ReadonlyMap<string, AnyEntityKind<F>>;
  private readonly scheduler: Scheduler | null;

  constructor(store: EntityStore, kinds: readonly AnyEntityKind<F>[], scheduler: Scheduler | null) {
    this.store = store;
    this.kinds = kinds;
    this.byName = new Map(kinds.map((k) => [k.name, k]));
    this.scheduler = scheduler;
  }

  /**
   * Folds `facts` into the stored entities under `fence`; returns the entities after. `known`: the
   * entities as already read (null: absent), e.g. by a batch decision; the first attempt compares
   * against their versions and reads only the others.
   */
  async apply(facts: readonly F[], fence: Fence, known: ReadonlyMap<string, Loaded | null> = new Map(), traces?: readonly (TraceHeaders | undefined)[]): Promise<Map<string, unknown>> {
    const refs = refsOf(this.kinds, facts);
    if (refs.length === 0) return new Map();
    for (let attempt = 1; ; attempt++) {
      const loaded = attempt === 1 ? await this.loadUnknown(refs, fence, known) : await this.store.load(refs, fence);
      const states = new Map<string, unknown>();
      for (const [id, l] of loaded) states.set(id, l.state);
      const before = new Map(states);
      foldInto(this.kinds, states, facts);
      const writes = [];
      for (const ref of refs) {
        const id = refId(ref);
        const after = states.get(id);
        if (before.has(id) && sameState(before.get(id), after)) continue;
        writes.push({ ref, version: loaded.get(id)?.version ?? 0, state: after, ttlSeconds: this.kind(ref).ttlSeconds ?? 0 });
      }
      const timers = this.timerWrites(refs, fence.kind === 'lease' ? null : new Set(writes.map((w) => refId(w.ref))), before, states, this.entityTraces(facts, traces));
      const saved = await this.store.save(writes, fence, timers ?? undefined);
      if (saved === 'fenced') throw new EventlineError('state_rebuilding', 'processor state is being rebuilt (or this writer lost its lease); retry after the rebuild');
      if (saved === 'conflict') {
        if (attempt >= 20) throw new EventlineError('state_rebuilding', 'entity kept changing under this writer');
        continue;
      }
      if (timers) this.scheduler?.added(timers.add.map((t) => t.dueAt));
      return states;
    }
  }

  private async loadUnknown(refs: readonly EntityRef[], fence: Fence, known: ReadonlyMap<string, Loaded | null>): Promise<Map<string, Loaded>> {
    const unknown = refs.filter((r) => !known.has(refId(r)));
    const loaded = unknown.length > 0 ? await this.store.load(unknown, fence) : new Map<string, Loaded>();
    for (const r of refs) {
      const k = known.get(refId(r));
      if (k) loaded.set(refId(r), k);
    }
    return loaded;
  }

  /**
   * The timers that change with this save: those the written entities want and did not want as
   * loaded (new, or with another due time or record), and those they wanted and no longer do. They
   * are written by the save itself, so a timer wanted by a saved state is always scheduled — no
   * crash falls between the two — and an unchanged one is not written again (nor re-armed after it
   * fired). A timer keeps the trace of the decision that scheduled or last changed it. Under the
   * rebuild's lease (`written` null) every timer a touched entity wants is written, changed or not.
   */
  private timerWrites(refs: readonly EntityRef[], written: ReadonlySet<string> | null, before: ReadonlyMap<string, unknown>, after: ReadonlyMap<string, unknown>, traces: ReadonlyMap<string, TraceHeaders>): TimerWrites | null {
    if (!this.scheduler) return null;
    const add: { id: string; dueAt: number; payload: string }[] = [];
    const cancel = new Set<string>();
    // A timer id wanted by any touched entity is never cancelled (ids may be shared between entities).
    const wanted = new Set<string>();
    for (const ref of refs) {
      const kind = this.kind(ref);
      const id = refId(ref);
      const timers = timersOf(kind, after.get(id) ?? kind.initial, ref.key);
      for (const t of timers) wanted.add(t.id);
      if (written && !written.has(id)) continue;
      const had = new Map<string, string>();
      if (before.has(id)) for (const t of timersOf(kind, before.get(id), ref.key)) had.set(t.id, timerIdentity(t));
      // The rebuild writes every timer a touched entity wants, changed or not: it is the repair
      // after a loss, which may have taken timers that states it finds as they were still want.
      if (!written) for (const t of timers) had.delete(t.id);
      const trace = traces.get(id);
      for (const t of timers) {
        const same = had.get(t.id) === timerIdentity(t);
        had.delete(t.id);
        if (same) continue;
        const payload: TimerPayload = { topic: t.output.topic, record: { key: t.output.key, record: t.output.record, value: t.output.value, ...(trace ? { headers: trace } : {}) } as never };
        add.push({ id: t.id, dueAt: t.dueAt, payload: JSON.stringify(payload) });
      }
      for (const gone of had.keys()) cancel.add(gone);
    }
    for (const id of wanted) cancel.delete(id);
    return add.length + cancel.size > 0 ? { keys: this.scheduler.keys, add, cancel: [...cancel] } : null;
  }

  /**
   * The trace each touched entity's timers go on in: that of the last fact folded into it (`traces`,
   * one per fact; without them, the active span's, as when a dispatch commits a decision). A timer
   * then fires into the trace of the decision that last scheduled it. Nothing without tracing.
   */
  private entityTraces(facts: readonly F[], traces: readonly (TraceHeaders | undefined)[] | undefined): Map<string, TraceHeaders> {
    const out = new Map<string, TraceHeaders>();
    if (!this.scheduler) return out;
    const active = traces ? null : traceHeaders();
    if (active && active.traceparent === undefined) return out;
    for (const [i, fact] of facts.entries()) {
      const trace = active ?? traces?.[i];
      if (!trace?.traceparent) continue;
      for (const kind of this.kinds) for (const key of kind.keys(fact)) out.set(refId({ kind: kind.name, key }), trace);
    }
    return out;
  }

  private kind(ref: EntityRef): AnyEntityKind<F> {
    const kind = this.byName.get(ref.kind);
    if (!kind) throw new EventlineError('internal', `unknown entity kind ${ref.kind}`);
    return kind;
  }
}
