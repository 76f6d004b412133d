/**
 * Batch decisions (lib/decider/batch.ts) against the real Redis and Kafka: the fraud and dunning
 * adapters' readers and deciders over random histories cut into runs of any length, with crashes
 * between a run's append and its compare-and-set, decide exactly what the record-by-record loop
 * decides on a Map, and leave the same state; what a crashed run appended comes again with the
 * same ids and values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { decideBatch, EntityStore, stateKeys, StateWriter, type AnyEntityKind, type BatchDecider, type BatchState, type Fence, type Loaded, type Output } from '../lib/decider/index.ts';
import { isEventlineError } from '../lib/errors.ts';
import { clearNamespace } from '../lib/redis.ts';
import type { TopicName } from '../lib/topics.ts';
import { createTestEnv, type TestEnv } from '../test/support/env.ts';
import { MemoryState } from '../test/support/decider-harness.ts';
import { dunningHistoryArb, dunningInputsOf, fraudHistoryArb, fraudInputsOf } from '../test/support/histories.ts';
import { customerRef } from './customers/directory.ts';
import { caseKind, dunningKinds, failuresKind, reminderKind, subscriptionKind, type DunningFact } from './dunning/evolve.ts';
import { decideRecord as decideDunning, dunningBatch, type DunningReader } from './dunning/main.ts';
import { defaultFraudPolicy } from './fraud/decide.ts';
import { cardKind, chargeKind, fraudKinds, riskKind, type FraudFact } from './fraud/evolve.ts';
import { decideRecord as decideFraud, fraudBatch, fraudFact, type FraudReader } from './fraud/main.ts';

/** The real writer, made to fail once, after the run's append, as a process killed there would. */
class CrashingWriter<F> extends StateWriter<F> {
  crashNext = false;
  crashes = 0;
  override async apply(facts: readonly F[], fence: Fence, known?: ReadonlyMap<string, Loaded | null>): Promise<Map<string, unknown>> {
    if (this.crashNext) {
      this.crashNext = false;
      this.crashes++;
      throw new Error('killed between the append and the compare-and-set');
    }
    return super.apply(facts, fence, known);
  }
}

interface Subject<F, R> {
  readonly name: string;
  readonly kinds: readonly AnyEntityKind<F>[];
  /** The adapter's own batch wiring (processors/<name>/main.ts): reader, prefetched reads, read fences, facts of outputs. */
  readonly batch: Pick<BatchDecider<F>, 'reads' | 'readFences' | 'asFact'> & { readonly readerOf: (state: BatchState<F>) => R };
  /** The same reader over a Map, for the record-by-record loop. */
  readonly memoryReader: (m: MemoryState<F>) => R;
  decide(fact: F, read: R): Promise<readonly Output[]>;
}

/** Cuts `inputs` into runs whose lengths cycle through `lengths`. */
function runsOf<T>(inputs: readonly T[], lengths: readonly number[]): T[][] {
  const runs: T[][] = [];
  for (let i = 0, n = 0; i < inputs.length; n++) {
    const len = lengths[n % lengths.length] ?? 1;
    runs.push(inputs.slice(i, i + len));
    i += len;
  }
  return runs;
}

const fraudSubject: Subject<FraudFact, FraudReader> = {
  name: 'fraud',
  kinds: fraudKinds,
  batch: fraudBatch,
  memoryReader: (m) => ({ risk: (k) => m.get(riskKind.name, k), card: (k) => m.get(cardKind.name, k), charge: (k) => m.get(chargeKind.name, k), customer: (k) => m.get(customerRef(k).kind, k) }),
  decide: (f, r) => decideFraud(f, r, { policy: defaultFraudPolicy, riskTeamUser: 'risk-team' }),
};

const dunningSubject: Subject<DunningFact, DunningReader> = {
  name: 'dunning',
  kinds: dunningKinds,
  batch: dunningBatch,
  memoryReader: (m) => ({ caseState: (k) => m.get(caseKind.name, k), failures: (k) => m.get(failuresKind.name, k), subscriptionCases: (k) => m.get(subscriptionKind.name, k), customer: (k) => m.get(customerRef(k).kind, k), reminder: (k) => m.get(reminderKind.name, k) }),
  decide: (f, r) => decideDunning(f, r, { retentionTeamUser: 'retention-team' }),
};

describe('batch decisions against the real Redis and Kafka', () => {
  let t: TestEnv;
  let store: EntityStore;
  /** Runs killed after their append, over every check. */
  let crashes = 0;

  before(async () => {
    t = await createTestEnv('batchdec');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    store = new EntityStore(t.rt.redis);
  });
  after(async () => {
    await t?.cleanup();
  });

  async function check<F, R>(s: Subject<F, R>, inputs: readonly F[], lengths: readonly number[], crashRuns: ReadonlySet<number>): Promise<void> {
    // Expected: each record decided on its own, on a Map (the kinds fold the customer directory too).
    const m = new MemoryState<F>(s.kinds);
    const read = s.memoryReader(m);
    for (const fact of inputs) m.commit(fact, await s.decide(fact, read));

    // Actual: the same records in runs, on Redis.
    await clearNamespace(t.rt.redis);
    const sentinel = stateKeys(s.name).sentinel;
    const fence: Fence = { kind: 'live', sentinel };
    await t.rt.redis.set(sentinel, '1');
    await t.rt.redis.set(stateKeys('directory').sentinel, '1');
    const writer = new CrashingWriter<F>(store, s.kinds, null);
    const decider: BatchDecider<F> = { kafka: t.rt.kafka, store, writer, kinds: s.kinds, fence, ...s.batch };
    const readerOf = s.batch.readerOf;
    const events: Output[] = [];
    for (const [i, run] of runsOf(inputs, lengths).entries()) {
      if (crashRuns.has(i)) {
        writer.crashNext = true;
        await assert.rejects(() => decideBatch(decider, run, readerOf, (f, r) => s.decide(f, r)), /killed between/);
      }
      events.push(...(await decideBatch(decider, run, readerOf, (f, r) => s.decide(f, r))));
    }
    crashes += writer.crashes;

    assert.deepEqual(events, m.events, 'the same decisions, in the same order');
    const ids = [...m.states.keys()].filter((id) => s.kinds.some((k) => id.startsWith(`${k.name}:`)));
    const stored = await store.load(ids.map((id) => {
      const kind = s.kinds.find((k) => id.startsWith(`${k.name}:`))!;
      return { kind: kind.name, key: id.slice(kind.name.length + 1) };
    }), fence);
    assert.deepEqual(Object.fromEntries(ids.map((id) => [id, stored.get(id)?.state ?? null])), Object.fromEntries(ids.map((id) => [id, m.states.get(id)])), 'the same state');
  }

  const lengthsArb = fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 6 });
  const crashArb = fc.uniqueArray(fc.nat(20), { maxLength: 4 }).map((a) => new Set(a));

  it('fraud: given any history in runs of any length, with crashes after the append, then the decisions and the state are those of one record at a time', async () => {
    await fc.assert(fc.asyncProperty(fraudHistoryArb, lengthsArb, crashArb, (commands, lengths, crashRuns) => check(fraudSubject, fraudInputsOf(commands), lengths, crashRuns)), { numRuns: 40 });
  });

  it('dunning: given any history in runs of any length, with crashes after the append, then the decisions and the state are those of one record at a time', async () => {
    const facts = (commands: Parameters<typeof dunningInputsOf>[0]) => dunningInputsOf(commands).filter((f): f is DunningFact => f !== 'fire');
    await fc.assert(fc.asyncProperty(dunningHistoryArb, lengthsArb, crashArb, (commands, lengths, crashRuns) => check(dunningSubject, facts(commands), lengths, crashRuns)), { numRuns: 40 });
  });

  it('given a run killed after its append, then what it appended is on the topics again with the same ids and values, and nothing else', async () => {
    const since = Date.now();
    const before = crashes;
    const commands = [
      { kind: 'charge', customer: 0, card: 1, small: true, failed: true, gap: 10 },
      { kind: 'charge', customer: 0, card: 1, small: true, failed: true, gap: 10 },
      { kind: 'charge', customer: 2, card: 1, small: false, failed: false, gap: 10 },
      { kind: 'dispute', pick: 2, fraudulent: true, gap: 60 },
      { kind: 'charge', customer: 1, card: 1, small: false, failed: false, gap: 60 },
    ] as const;
    const inputs = fraudInputsOf(commands);
    await check(fraudSubject, inputs, [2], new Set([0, 1, 2, 3]));
    assert.equal(crashes - before, 4, `each of the ${inputs.length / 2} runs crashed once`);
    const byId = new Map<string, Set<string>>();
    let records = 0;
    for (const topic of ['risk.fraud-scores.v1', 'notify.dispatch-requests.v1'] as const satisfies readonly TopicName[]) {
      await t.rt.kafka.readToEnd(
        topic,
        (r) => {
          records++;
          const v = r.value as { event_id: string };
          byId.set(v.event_id, (byId.get(v.event_id) ?? new Set()).add(JSON.stringify(v)));
        },
        { fromTimestamp: since },
      );
    }
    assert.ok(byId.size >= 5, `every charge scored, a card flagged (${byId.size} ids)`);
    assert.equal(records, 2 * byId.size, 'each record twice: the crashed run and its retry');
    assert.deepEqual([...byId].filter(([, values]) => values.size > 1), [], 'every copy is the same record');
  });

  it('given the customer directory being rebuilt (its sentinel gone), then a batch fails as state_rebuilding before it decides or appends anything', async () => {
    await clearNamespace(t.rt.redis);
    await t.rt.redis.set(stateKeys('fraud').sentinel, '1');
    const since = Date.now();
    const writer = new CrashingWriter<FraudFact>(store, fraudKinds, null);
    const decider: BatchDecider<FraudFact> = { kafka: t.rt.kafka, store, writer, kinds: fraudKinds, fence: { kind: 'live', sentinel: stateKeys('fraud').sentinel }, ...fraudBatch };
    let decided = 0;
    const inputs = fraudInputsOf([{ kind: 'charge', customer: 0, card: 0, small: false, failed: false, gap: 1 }]);
    await assert.rejects(
      () => decideBatch(decider, inputs, fraudBatch.readerOf, (f, r) => ((decided += 1), decideFraud(f, r, { policy: defaultFraudPolicy, riskTeamUser: 'risk-team' }))),
      (err: unknown) => isEventlineError(err, 'state_rebuilding') && err.canRetry,
    );
    assert.equal(decided, 0);
    let appended = 0;
    await t.rt.kafka.readToEnd('risk.fraud-scores.v1', () => void appended++, { fromTimestamp: since });
    assert.equal(appended, 0);
  });

  it('given another writer folding into the unit\'s entities between its read and its compare-and-set, then the write conflicts, folds again, and keeps both', async () => {
    await clearNamespace(t.rt.redis);
    const fence: Fence = { kind: 'live', sentinel: stateKeys('fraud').sentinel };
    await t.rt.redis.set(fence.sentinel, '1');
    await t.rt.redis.set(stateKeys('directory').sentinel, '1');
    // Two charges of customer 0 on card 0 in one unit; meanwhile another instance folds a third
    // charge of the same customer (another partition's unit, or a rebalance's overlap).
    const inputs = fraudInputsOf([
      { kind: 'charge', customer: 0, card: 0, small: false, failed: false, gap: 60 },
      { kind: 'charge', customer: 0, card: 0, small: false, failed: false, gap: 60 },
      { kind: 'charge', customer: 0, card: 0, small: true, failed: true, gap: 60 },
    ]);
    const unit = inputs.slice(0, -1);
    // The other instance's input and its decisions (a score of the same customer's risk).
    const alone = new MemoryState<FraudFact>(fraudKinds);
    const otherEvents = await decideFraud(inputs.at(-1)!, fraudSubject.memoryReader(alone), { policy: defaultFraudPolicy, riskTeamUser: 'risk-team' });
    const concurrent = [inputs.at(-1)!, ...otherEvents.map((e) => fraudFact(e)).filter((f): f is FraudFact => f !== null)];
    assert.ok(concurrent.length > 1, 'the other instance decided a score');
    const other = new StateWriter<FraudFact>(store, fraudKinds, null);
    let interleaved = 0;
    class InterleavedWriter extends StateWriter<FraudFact> {
      override async apply(facts: readonly FraudFact[], f: Fence, known?: ReadonlyMap<string, Loaded | null>): Promise<Map<string, unknown>> {
        if (interleaved++ === 0) await other.apply(concurrent, f);
        return super.apply(facts, f, known);
      }
    }
    const decider: BatchDecider<FraudFact> = { kafka: t.rt.kafka, store, writer: new InterleavedWriter(store, fraudKinds, null), kinds: fraudKinds, fence, ...fraudBatch };
    const events = await decideBatch(decider, unit, fraudBatch.readerOf, (f, r) => decideFraud(f, r, { policy: defaultFraudPolicy, riskTeamUser: 'risk-team' }));
    assert.equal(interleaved, 1);
    // Expected: the unit's inputs and decisions, and the other writer's fact, folded in any order.
    const m = new MemoryState<FraudFact>(fraudKinds);
    m.record([...unit, ...events.map((e) => fraudFact(e)).filter((f): f is FraudFact => f !== null), ...concurrent]);
    const ids = [...m.states.keys()];
    const stored = await store.load(
      ids.map((id) => {
        const kind = fraudKinds.find((k) => id.startsWith(`${k.name}:`))!;
        return { kind: kind.name, key: id.slice(kind.name.length + 1) };
      }),
      fence,
    );
    assert.deepEqual(Object.fromEntries(ids.map((id) => [id, stored.get(id)?.state ?? null])), Object.fromEntries(ids.map((id) => [id, m.states.get(id)])));
    assert.ok(stored.has(`${riskKind.name}:cus_0`), "the customer's risk state is stored");
  });
});
