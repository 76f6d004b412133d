/**
 * Properties of the dunning decider over random Stripe histories (failures and retries of several
 * invoices, payments, cancellations, timer firings), through the real record → decision path:
 * the state rebuilt from the topics in any order equals the live one, a replay of the same records
 * decides the same, and a closed case wants no timers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { customer, event, invoice, subscription } from '../../cli/demo/stripe-objects.ts';
import type { Output } from '../../lib/decider/index.ts';
import type { DunningStepDue } from '../../lib/topics.ts';
import { MemoryState, rebuildEqualsLive, replayIsIdentical } from '../../test/support/decider-harness.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { caseKind, caseOf, dunningKinds, failuresKind, subscriptionKind, type CaseState, type DunningFact } from './evolve.ts';
import { decideRecord, type DunningReader } from './main.ts';

const v = '2025-09-30.clover';
const T0 = Math.floor(Date.UTC(2026, 9, 1) / 1000);
const options = { retentionTeamUser: 'retention-team' };

type Command =
  | { readonly kind: 'fail'; readonly invoice: number; readonly attempt: number; readonly gap: number }
  | { readonly kind: 'pay'; readonly invoice: number; readonly gap: number }
  | { readonly kind: 'cancel'; readonly sub: number; readonly gap: number }
  | { readonly kind: 'fire' };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('fail' as const), invoice: fc.nat(3), attempt: fc.integer({ min: 1, max: 4 }), gap: fc.integer({ min: 0, max: 86_400 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pay' as const), invoice: fc.nat(3), gap: fc.integer({ min: 0, max: 86_400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), sub: fc.nat(1), gap: fc.integer({ min: 0, max: 86_400 }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'fire' as const }) },
);

const factOf = (e: Record<string, unknown>): DunningFact => {
  const [r] = stripeRecords([e], 0);
  return { topic: 'stripe.events.v1', record: 'StripeEventReceived', value: r!.value };
};

function readerOf(m: MemoryState<DunningFact>): DunningReader {
  return {
    caseState: (id) => m.get(caseKind.name, id),
    failures: (id) => m.get(failuresKind.name, id),
    subscriptionCases: (id) => m.get(subscriptionKind.name, id),
    customer: (id) => m.get('directory:customer', id),
  };
}

/** Builds the Stripe records of a history (once: replays use the same records). */
function inputsOf(commands: readonly Command[]): (DunningFact | 'fire')[] {
  let t = T0;
  const out: (DunningFact | 'fire')[] = [];
  for (let c = 0; c < 2; c++) out.push(factOf(event(v, { id: `evt_cus_${c}`, type: 'customer.created', created: t, object: customer({ id: `cus_${c}`, email: `c${c}@example.com`, created: t - 86_400 * 30 * c, userId: `user_${c}` }) })));
  commands.forEach((cmd, i) => {
    if (cmd.kind === 'fire') return void out.push('fire');
    t += cmd.gap;
    if (cmd.kind === 'cancel') {
      out.push(factOf(event(v, { id: `evt_${i}`, type: 'customer.subscription.deleted', created: t, object: subscription(v, { id: `sub_${cmd.sub}`, customer: `cus_${cmd.sub}`, status: 'canceled', items: [{ unitAmount: 2500 }], created: T0 }) })));
      return;
    }
    const n = cmd.invoice;
    const spec = { id: `in_${n}`, customer: `cus_${n % 2}`, subscription: `sub_${n % 2}`, amountDue: n === 3 ? 20_000 : 2500, created: T0 };
    if (cmd.kind === 'fail') out.push(factOf(event(v, { id: `evt_${i}`, type: 'invoice.payment_failed', created: t, object: invoice(v, { ...spec, status: 'open', attemptCount: cmd.attempt }) })));
    else out.push(factOf(event(v, { id: `evt_${i}`, type: 'invoice.paid', created: t, object: invoice(v, { ...spec, status: 'paid' }) })));
  });
  return out;
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

const historyArb = fc.array(commandArb, { minLength: 1, maxLength: 40 });

describe('dunning decider properties', () => {
  it('given any history, when its topics are folded in any order, then the rebuilt state equals the live state', async () => {
    await fc.assert(rebuildEqualsLive(historyArb, dunningKinds, (commands) => play(inputsOf(commands))), { numRuns: 150 });
  });

  it('given the same records, when replayed, then every decision is identical (timers fire from the rebuilt state alike)', async () => {
    await fc.assert(
      replayIsIdentical(historyArb, inputsOf, play, (first) => {
        assert.ok(first.events.every((e) => e.record !== 'DunningStepDecided' || (e.value as { event_id: string }).event_id.startsWith('dunning:')));
      }),
      { numRuns: 100 },
    );
  });

  it('given any history, then a case closes at most once, and a closed case wants no timers', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, async (commands) => {
        const live = await play(inputsOf(commands));
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
});
