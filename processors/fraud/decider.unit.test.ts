/**
 * Properties of the fraud decider over random Stripe histories (customers, bursts of small and
 * large charges on shared cards, fraudulent and other disputes, early fraud warnings), through the
 * real record → decision path: the state rebuilt from the topics in any order equals the live one,
 * a replay of the same records (a re-read after the windows moved on) decides nothing new, and
 * a fresh replay decides the same.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryState, rebuildEqualsLive, replayIsIdentical } from '../../test/support/decider-harness.ts';
import { fraudHistoryArb, fraudInputsOf } from '../../test/support/histories.ts';
import { defaultFraudPolicy } from './decide.ts';
import { cardKind, chargeKind, fraudKinds, riskKind, type FraudFact } from './evolve.ts';
import { decideRecord, type FraudReader } from './main.ts';

const options = { policy: defaultFraudPolicy, riskTeamUser: 'risk-team' };

async function play(inputs: readonly FraudFact[]): Promise<MemoryState<FraudFact>> {
  const m = new MemoryState<FraudFact>(fraudKinds);
  const read: FraudReader = {
    risk: (id) => m.get(riskKind.name, id),
    card: (fp) => m.get(cardKind.name, fp),
    charge: (id) => m.get(chargeKind.name, id),
    customer: (id) => m.get('directory:customer', id),
  };
  for (const fact of inputs) m.commit(fact, await decideRecord(fact, read, options));
  return m;
}

describe('fraud decider properties', () => {
  it('given any history, when its topics are folded in any order, then the rebuilt state equals the live state', async () => {
    await fc.assert(rebuildEqualsLive(fraudHistoryArb, fraudKinds, (commands) => play(fraudInputsOf(commands))), { numRuns: 150 });
  });

  it('given the same records, when replayed on a fresh state the decisions are identical, and re-read on the live state nothing new is decided', async () => {
    await fc.assert(
      replayIsIdentical(fraudHistoryArb, fraudInputsOf, play, async (first, inputs) => {
        const scored = first.events.filter((e) => e.record === 'FraudScored').length;
        assert.equal(scored, inputs.filter((f) => f.topic === 'stripe.events.v1' && f.value.type.startsWith('charge.') && !f.value.type.includes('dispute')).length, 'every charge scored once');
        const read: FraudReader = { risk: (id) => first.get(riskKind.name, id), card: (fp) => first.get(cardKind.name, fp), charge: (id) => first.get(chargeKind.name, id), customer: (id) => first.get('directory:customer', id) };
        for (const f of inputs) {
          const events = await decideRecord(f, read, options);
          assert.deepEqual(events.filter((e) => e.record === 'FraudScored'), [], 're-read after the windows moved on');
        }
      }),
      { numRuns: 100 },
    );
  });

  it('given a fraudulent dispute on a card, then a later payment with that card carries the fingerprint factor, an earlier one does not', async () => {
    const live = await play(
      fraudInputsOf([
        { kind: 'charge', customer: 0, card: 1, small: false, failed: false, gap: 60 },
        { kind: 'dispute', pick: 0, fraudulent: true, gap: 60 },
        { kind: 'charge', customer: 1, card: 1, small: false, failed: false, gap: 60 },
      ]),
    );
    const factors = live.events.filter((e) => e.record === 'FraudScored').map((e) => (e.value as unknown as { factors: readonly { name: string }[] }).factors.map((f) => f.name));
    assert.equal(factors.length, 2);
    assert.ok(!factors[0]!.includes('fingerprint_fraud_history'));
    assert.ok(factors[1]!.includes('fingerprint_fraud_history'));
    assert.equal(live.events.filter((e) => e.record === 'CardFlagged').length, 1);
  });
});
