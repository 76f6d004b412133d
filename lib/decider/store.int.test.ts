import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isEventlineError } from '../errors.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { entityKind, EntityStore, rebuildUnderLease, stateKeys, StateWriter, type Fence } from './index.ts';

/** A counter per key: the fold of facts {key, n}. */
type F = { readonly key: string; readonly n: number };
const counter = entityKind<F, { total: number; seen: number[] }>({
  name: 'test:counter',
  initial: { total: 0, seen: [] },
  ttlSeconds: null,
  keys: (f) => [f.key],
  evolve: (s, f) => (s.seen.includes(f.n) ? s : { total: s.total + f.n, seen: [...s.seen, f.n].sort((a, b) => a - b) }),
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
});
