/**
 * Properties of the dunning decider over random Stripe histories (failures and retries of several
 * invoices, payments, cancellations, timer firings), through the real record → decision path:
 * the state rebuilt from the topics in any order equals the live one, a replay of the same records
 * decides the same, and a closed case wants no timers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { refId, refsOf, type EntityRef, type Output } from '../../lib/decider/index.ts';
import type { DunningStepDue } from '../../lib/topics.ts';
import { MemoryState, rebuildEqualsLive, replayIsIdentical } from '../../test/support/decider-harness.ts';
import { dunningHistoryArb, dunningInputsOf } from '../../test/support/histories.ts';
import { caseKind, caseOf, dunningKinds, failuresKind, reminderKind, subscriptionKind, type CaseState, type DunningFact } from './evolve.ts';
import { decideRecord, dunningReads, type DunningReader } from './main.ts';

const options = { retentionTeamUser: 'retention-team' };

function readerOf(m: MemoryState<DunningFact>): DunningReader {
  return {
    caseState: (id) => m.get(caseKind.name, id),
    failures: (id) => m.get(failuresKind.name, id),
    subscriptionCases: (id) => m.get(subscriptionKind.name, id),
    customer: (id) => m.get('directory:customer', id),
    reminder: (id) => m.get(reminderKind.name, id),
  };
}

/** Plays the records through decideRecord on a Map; timer firings take the earliest wanted timer. */
async function play(inputs: readonly (DunningFact | 'fire')[]): Promise<MemoryState<DunningFact>> {
  const m = new MemoryState<DunningFact>(dunningKinds);
  const read = readerOf(m);
  for (const input of inputs) {
    let fact: DunningFact;
    if (input === 'fire') {
      const timer = m.timers()[0];
      if (!timer) continue;
      fact = { topic: 'billing.dunning-steps.v1', record: 'DunningStepDue', value: timer.output.value as DunningStepDue };
    } else fact = input;
    const events: Output[] = await decideRecord(fact, read, options);
    m.commit(fact, events);
  }
  return m;
}

describe('dunning decider properties', () => {
  it('given any history, when its topics are folded in any order, then the rebuilt state equals the live state', async () => {
    await fc.assert(rebuildEqualsLive(dunningHistoryArb, dunningKinds, (commands) => play(dunningInputsOf(commands))), { numRuns: 150 });
  });

  it('given the same records, when replayed, then every decision is identical (timers fire from the rebuilt state alike)', async () => {
    await fc.assert(
      replayIsIdentical(dunningHistoryArb, dunningInputsOf, play, (first) => {
        assert.ok(first.events.every((e) => e.record !== 'DunningStepDecided' || (e.value as { event_id: string }).event_id.startsWith('dunning:')));
      }),
      { numRuns: 100 },
    );
  });

  it('given any history, then a case closes at most once, and a closed case wants no timers', async () => {
    await fc.assert(
      fc.asyncProperty(dunningHistoryArb, async (commands) => {
        const live = await play(dunningInputsOf(commands));
        const closes = live.events.filter((e) => e.record === 'DunningStepDecided' && ['recovered', 'lost', 'exhausted'].includes((e.value as { step: string }).step));
        const perCase = new Map<string, number>();
        for (const e of closes) perCase.set((e.value as { case_id: string }).case_id, (perCase.get((e.value as { case_id: string }).case_id) ?? 0) + 1);
        for (const [id, n] of perCase) assert.equal(n, 1, `case ${id} closed ${n} times`);
        for (const [id, s] of live.states) {
          if (!id.startsWith(`${caseKind.name}:`)) continue;
          const c = caseOf(s as CaseState);
          if (c && c.status !== 'open') assert.deepEqual(live.timers().filter((t) => t.id.startsWith(`${c.caseId}:`)), []);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('given any history, then a decision on an invoice event reads only entities the batch reads in its first round trip (those it folds into and those dunningReads names)', async () => {
    await fc.assert(
      fc.asyncProperty(dunningHistoryArb, async (commands) => {
        const m = new MemoryState<DunningFact>(dunningKinds);
        const base = readerOf(m);
        let asked: EntityRef[] = [];
        const note = <T>(kind: string, key: string, read: (key: string) => Promise<T>): Promise<T> => {
          asked.push({ kind, key });
          return read(key);
        };
        const read: DunningReader = {
          caseState: (id) => note(caseKind.name, id, base.caseState),
          failures: (id) => note(failuresKind.name, id, base.failures),
          subscriptionCases: (id) => note(subscriptionKind.name, id, base.subscriptionCases),
          customer: (id) => note('directory:customer', id, base.customer),
          reminder: (id) => note(reminderKind.name, id, base.reminder),
        };
        for (const input of dunningInputsOf(commands)) {
          if (input === 'fire') continue;
          asked = [];
          const events = await decideRecord(input, read, options);
          m.commit(input, events);
          if (input.topic !== 'stripe.events.v1' || !input.value.type.startsWith('invoice.')) continue;
          const first = new Set([...refsOf(dunningKinds, [input]), ...dunningReads(input)].map(refId));
          for (const ref of asked) assert.ok(first.has(refId(ref)), `${input.value.type} read ${refId(ref)} after the first round trip`);
        }
      }),
      { numRuns: 100 },
    );
  });
});
