import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isEventlineError } from '../errors.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { Scheduler } from '../scheduler.ts';
import { BatchState, entityKind, EntityStore, rebuildUnderLease, stateKeys, StateWriter, type EntityRef, type Fence, type Loaded } from './index.ts';

/** A counter per key: the fold of facts {key, n}. */
type F = { readonly key: string; readonly n: number };
const counter = entityKind<F, { total: number; seen: number[] }>({
  name: 'test:counter',
  initial: { total: 0, seen: [] },
  ttlSeconds: null,
  keys: (f) => [f.key],
  evolve: (s, f) => (s.seen.includes(f.n) ? s : { total: s.total + f.n, seen: [...s.seen, f.n].sort((a, b) => a - b) }),
});

/** A reminder per key: due when the latest fact (by n) says, with notes that do not move it. */
type R = { readonly key: string; readonly n: number; readonly due?: number | null; readonly note?: string };
type Reminder = { n: number; due: number | null; notes: string[] };
const reminder = entityKind<R, Reminder>({
  name: 'test:reminder',
  initial: { n: 0, due: null, notes: [] },
  ttlSeconds: null,
  keys: (f) => [f.key],
  evolve: (s, f) => (f.n <= s.n ? s : { n: f.n, due: f.due === undefined ? s.due : f.due, notes: f.note ? [...s.notes, f.note] : s.notes }),
  timers: (s, key) => (s.due === null ? [] : [{ id: `remind:${key}`, dueAt: s.due, output: { topic: 'notify.dispatch-requests.v1', key, record: 'Reminder', value: { key } } as never }]),
});

describe('entity state in the real Redis: fenced reads and writes, the rebuild lease', () => {
  let t: TestEnv;
  let store: EntityStore;
  let writer: StateWriter<F>;
  const keys = stateKeys('fencetest');
  const live: Fence = { kind: 'live', sentinel: keys.sentinel };

  before(async () => {
    t = await createTestEnv('fence');
    store = new EntityStore(t.rt.redis);
    writer = new StateWriter<F>(store, [counter], null);
  });
  after(async () => {
    await t?.cleanup();
  });

  it('given the sentinel, when facts are folded live, then the entity is their fold; without it reads and writes fail as state_rebuilding and nothing is written', async () => {
    await t.rt.redis.set(keys.sentinel, 'now');
    await writer.apply([{ key: 'a', n: 1 }, { key: 'a', n: 2 }, { key: 'a', n: 2 }], live);
    assert.deepEqual(await store.get({ kind: counter.name, key: 'a' }, live), { total: 3, seen: [1, 2] });

    await t.rt.redis.del(keys.sentinel);
    await assert.rejects(() => store.get({ kind: counter.name, key: 'a' }, live), (err: unknown) => isEventlineError(err, 'state_rebuilding') && err.canRetry);
    await assert.rejects(() => writer.apply([{ key: 'a', n: 5 }], live), (err: unknown) => isEventlineError(err, 'state_rebuilding'));
    assert.deepEqual(await store.get({ kind: counter.name, key: 'a' }), { total: 3, seen: [1, 2] }, 'the fenced write left the entity as it was');
  });

  it('given two writers folding into one entity at once, then no fact is lost (compare-and-set, fold again)', async () => {
    await t.rt.redis.set(keys.sentinel, 'now');
    const other = new StateWriter<F>(new EntityStore(t.rt.redis), [counter], null);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? writer : other).apply([{ key: 'b', n: i + 1 }], live)));
    assert.deepEqual(await store.get({ kind: counter.name, key: 'b' }), { total: 210, seen: Array.from({ length: 20 }, (_, i) => i + 1) });
  });

  it('given a holder whose lease was taken over, then its writes are refused; given the state already whole, a rebuild does not start again', async () => {
    await t.rt.redis.set(keys.lease, 'holder-1', 'PX', 10_000);
    const stale: Fence = { kind: 'lease', lease: keys.lease, token: 'holder-0' };
    await assert.rejects(() => writer.apply([{ key: 'c', n: 1 }], stale), (err: unknown) => isEventlineError(err, 'state_rebuilding'));
    assert.equal(await store.get({ kind: counter.name, key: 'c' }), null);
    await t.rt.redis.del(keys.lease);

    await t.rt.redis.set(keys.sentinel, 'now');
    const report = await rebuildUnderLease(t.rt, { processor: 'fencetest', topics: [], fact: () => null, writer }, { leaseMs: 5000, batch: 10, throttleMs: 0 }, t.rt.log);
    assert.equal(report, null);
    assert.equal(await t.rt.redis.exists(keys.lease), 0, 'no lease taken');
  });

  it('given an entity that wants a timer, then the timer is written with its state, moved and cancelled with it, never written by a refused save, and not re-armed by a change that leaves it as it was', async () => {
    await t.rt.redis.set(keys.sentinel, 'now');
    const scheduler = new Scheduler(t.rt.redis, 'fencetest', t.rt.log);
    const timed = new StateWriter<R>(store, [reminder], scheduler);
    await timed.apply([{ key: 'r', n: 1, due: 5000 }], live);
    assert.equal(await scheduler.dueAt('remind:r'), 5000, 'scheduled with the state that wants it');

    const fired = await scheduler.claim(10_000, 10, 30_000);
    assert.deepEqual(fired.map((f) => [f.id, f.payload?.record.key]), [['remind:r', 'r']]);
    await scheduler.complete(fired.map((f) => f.id));
    await timed.apply([{ key: 'r', n: 2, note: 'seen' }], live);
    assert.deepEqual(await store.get({ kind: reminder.name, key: 'r' }), { n: 2, due: 5000, notes: ['seen'] });
    assert.equal(await scheduler.dueAt('remind:r'), null, 'the state changed, its timer did not: it is not armed again');

    await timed.apply([{ key: 'r', n: 3, due: 7000 }], live);
    assert.equal(await scheduler.dueAt('remind:r'), 7000, 'moved');
    await timed.apply([{ key: 'r', n: 4, due: null }], live);
    assert.equal(await scheduler.dueAt('remind:r'), null, 'cancelled');
    assert.equal(await t.rt.redis.hexists(scheduler.keys.payload, 'remind:r'), 0, 'its payload is gone too');

    // The save script itself: a stale version or a fence that does not hold writes no timer either.
    const timer = { keys: scheduler.keys, add: [{ id: 'remind:s', dueAt: 1000, payload: '{}' }], cancel: [] };
    const write = [{ ref: { kind: reminder.name, key: 's' }, version: 3, state: { n: 1, due: 1000, notes: [] }, ttlSeconds: 0 }];
    assert.equal(await store.save(write, live, timer), 'conflict');
    assert.equal(await scheduler.dueAt('remind:s'), null, 'a conflicting save schedules nothing');
    await t.rt.redis.del(keys.sentinel);
    assert.equal(await store.save([{ ...write[0]!, version: 0 }], live, timer), 'fenced');
    assert.equal(await scheduler.dueAt('remind:s'), null, 'a fenced save schedules nothing');
    assert.equal(await t.rt.redis.hexists(scheduler.keys.payload, 'remind:s'), 0);
    assert.equal(await store.get({ kind: reminder.name, key: 's' }), null);
  });

  it('given a timer scheduled again while it fires, then completing the firing keeps the new one, and an expired claim does not move it', async () => {
    await t.rt.redis.set(keys.sentinel, 'now');
    const scheduler = new Scheduler(t.rt.redis, 'refire', t.rt.log);
    const timed = new StateWriter<R>(store, [reminder], scheduler);
    await timed.apply([{ key: 'f', n: 1, due: 1000 }], live);
    const [claimed] = await scheduler.claim(2000, 10, 30_000);
    assert.equal(claimed?.id, 'remind:f');
    await timed.apply([{ key: 'f', n: 2, due: 9000 }], live);
    await scheduler.complete(['remind:f']);
    assert.equal(await scheduler.dueAt('remind:f'), 9000, 'the timer scheduled again is still due');
    assert.equal(await t.rt.redis.hexists(scheduler.keys.payload, 'remind:f'), 1, 'with its payload');

    const [again] = await scheduler.claim(10_000, 10, 1);
    assert.equal(again?.id, 'remind:f');
    await timed.apply([{ key: 'f', n: 3, due: 20_000 }], live);
    assert.equal(await scheduler.reclaimExpired(Date.now() + 60_000), 1);
    assert.equal(await scheduler.dueAt('remind:f'), 20_000, 'the lapsed claim does not pull the newer due time forward');
  });

  it('given timers lost while the states that want them were kept, then the rebuild, folding facts that change nothing, writes them again', async () => {
    await t.rt.redis.set(keys.sentinel, 'now');
    const scheduler = new Scheduler(t.rt.redis, 'repair', t.rt.log);
    const timed = new StateWriter<R>(store, [reminder], scheduler);
    await timed.apply([{ key: 'p', n: 1, due: 4000 }], live);
    await t.rt.redis.del(scheduler.keys.due, scheduler.keys.payload);
    await timed.apply([{ key: 'p', n: 1, due: 4000 }], live);
    assert.equal(await scheduler.dueAt('remind:p'), null, 'live, an unchanged state writes nothing');

    await t.rt.redis.set(keys.lease, 'holder-r', 'PX', 10_000);
    await timed.apply([{ key: 'p', n: 1, due: 4000 }], { kind: 'lease', lease: keys.lease, token: 'holder-r' });
    await t.rt.redis.del(keys.lease);
    assert.equal(await scheduler.dueAt('remind:p'), 4000, 'the rebuild wrote the timer again');
    const [fired] = await scheduler.claim(5000, 10, 30_000);
    assert.equal(fired?.payload?.record.key, 'p');
  });

  it('given a run folding into entities it has not read, then none is read for the fold: the one a decision asks for is read then, with the folds before it, and the write reads the rest in one round trip', async () => {
    await t.rt.redis.set(keys.sentinel, 'now');
    await writer.apply([{ key: 'lazy-x', n: 10 }, { key: 'lazy-z', n: 1 }], live);
    const reads: string[][] = [];
    const counted = new (class extends EntityStore {
      override load(refs: readonly EntityRef[], fence: Fence | readonly Fence[] | null = null): Promise<Map<string, Loaded>> {
        reads.push(refs.map((r) => r.key));
        return super.load(refs, fence);
      }
    })(t.rt.redis);
    const run = new BatchState<F>(counted, [counter], [live]);
    await run.prefetch([{ kind: counter.name, key: 'lazy-a' }]);
    const facts: F[] = [{ key: 'lazy-a', n: 1 }, { key: 'lazy-y1', n: 2 }, { key: 'lazy-x', n: 5 }, { key: 'lazy-y2', n: 3 }, { key: 'lazy-x', n: 6 }];
    run.fold(facts);
    assert.deepEqual(reads, [['lazy-a']], 'folding read nothing');
    assert.deepEqual(await run.get({ kind: counter.name, key: 'lazy-x' }), { total: 21, seen: [5, 6, 10] }, 'the stored state with the folds of the run, in order');
    assert.deepEqual(await run.get({ kind: counter.name, key: 'lazy-a' }), { total: 1, seen: [1] });
    run.fold([{ key: 'lazy-x', n: 7 }]);
    facts.push({ key: 'lazy-x', n: 7 });
    assert.deepEqual(await run.get({ kind: counter.name, key: 'lazy-x' }), { total: 28, seen: [5, 6, 7, 10] });
    assert.deepEqual(reads, [['lazy-a'], ['lazy-x']]);

    run.fold([{ key: 'lazy-z', n: 4 }]);
    facts.push({ key: 'lazy-z', n: 4 });
    const both = await Promise.all([run.get({ kind: counter.name, key: 'lazy-z' }), run.get({ kind: counter.name, key: 'lazy-z' })]);
    assert.deepEqual(await run.get({ kind: counter.name, key: 'lazy-z' }), { total: 5, seen: [1, 4] }, 'two reads at once of an entity with folds waiting: neither drops them');
    assert.deepEqual(both[0], { total: 5, seen: [1, 4] });
    reads.splice(2); // the write's reads are checked on their own below

    await new StateWriter<F>(counted, [counter], null).apply(facts, live, run.known());
    assert.deepEqual(reads, [['lazy-a'], ['lazy-x'], ['lazy-y1', 'lazy-y2']], 'the write read only the entities never read, at once');
    assert.deepEqual(await store.get({ kind: counter.name, key: 'lazy-z' }), { total: 5, seen: [1, 4] });
    assert.deepEqual(await store.get({ kind: counter.name, key: 'lazy-x' }), { total: 28, seen: [5, 6, 7, 10] });
    assert.deepEqual(await store.get({ kind: counter.name, key: 'lazy-y2' }), { total: 3, seen: [3] });
  });
});
