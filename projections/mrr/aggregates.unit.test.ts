import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addMovements, addStatusChanges, emptyAggregates, type MovementFact } from './aggregates.ts';

const at = (iso: string) => Date.parse(iso);
const m = (seq: number, iso: string, movement: MovementFact['movement'], before: number, after: number, customerId = 'cus_a'): MovementFact => ({
  customerId,
  currency: 'usd',
  seq,
  occurredAt: at(iso),
  movement,
  deltaCents: after - before,
  mrrBeforeCents: before,
  mrrAfterCents: after,
});

describe('MRR running sums', () => {
  // new 1000 on 10 Jan, expansion to 1500 on 20 Jan, churn on 5 Mar, reactivation at 800 on 30 Mar.
  const timeline = [m(0, '2026-01-10T08:00:00Z', 'new', 0, 1000), m(1, '2026-01-20T00:00:00Z', 'expansion', 1000, 1500), m(2, '2026-03-05T12:00:00Z', 'churn', 1500, 0), m(3, '2026-03-30T23:59:59Z', 'reactivation', 0, 800)];

  it('given a customer timeline, then the daily sums count each movement on its UTC day with the paying-customer changes', () => {
    const acc = emptyAggregates();
    addMovements(acc, timeline, 1);
    assert.deepEqual([...acc.daily.values()], [
      { currency: 'usd', day: '2026-01-10', movements: 1, deltaCents: 1000, deltaCustomers: 1, deltaPastDueCents: 0, deltaScheduledChurnCents: 0 },
      { currency: 'usd', day: '2026-01-20', movements: 1, deltaCents: 500, deltaCustomers: 0, deltaPastDueCents: 0, deltaScheduledChurnCents: 0 },
      { currency: 'usd', day: '2026-03-05', movements: 1, deltaCents: -1500, deltaCustomers: -1, deltaPastDueCents: 0, deltaScheduledChurnCents: 0 },
      { currency: 'usd', day: '2026-03-30', movements: 1, deltaCents: 800, deltaCustomers: 1, deltaPastDueCents: 0, deltaScheduledChurnCents: 0 },
    ]);
    assert.deepEqual(acc.monthly.get('usd|2026-01-01')?.sums, { new: 1000, expansion: 500, contraction: 0, churn: 0, reactivation: 0 });
    assert.deepEqual(acc.monthly.get('usd|2026-03-01')?.sums, { new: 0, expansion: 0, contraction: 0, churn: -1500, reactivation: 800 });
    // One movement of each of new, expansion, churn and reactivation; the paying customers +1, +0 (January) and −1, +1 (March).
    assert.deepEqual(acc.monthly.get('usd|2026-01-01')?.counts, { new: 1, expansion: 1, contraction: 0, churn: 0, reactivation: 0 });
    assert.deepEqual(acc.monthly.get('usd|2026-03-01')?.counts, { new: 0, expansion: 0, contraction: 0, churn: 1, reactivation: 1 });
    assert.deepEqual([acc.monthly.get('usd|2026-01-01')?.deltaCustomers, acc.monthly.get('usd|2026-03-01')?.deltaCustomers], [1, 0]);
  });

  it('given a customer timeline, then the cohort gains a member in its first month and the retained MRR changes only at month ends that differ', () => {
    const acc = emptyAggregates();
    addMovements(acc, timeline, 1);
    // End of January: 1500 retained; February: no movement; end of March: 800 (churned, then back).
    assert.deepEqual([...acc.cohorts.values()], [
      { cohortMonth: '2026-01-01', currency: 'usd', month: '2026-01-01', members: 1, newCents: 1000, retained: 1, retainedMrrCents: 1500 },
      { cohortMonth: '2026-01-01', currency: 'usd', month: '2026-03-01', members: 0, newCents: 0, retained: 0, retainedMrrCents: -700 },
    ]);
  });

  it('given movements added and then subtracted, then every sum returns to zero, the movement counts included', () => {
    const acc = emptyAggregates();
    addMovements(acc, [...timeline, m(0, '2026-02-01T00:00:00Z', 'new', 0, 300, 'cus_b')], 1);
    addMovements(acc, [...timeline, m(0, '2026-02-01T00:00:00Z', 'new', 0, 300, 'cus_b')], -1);
    for (const d of acc.daily.values()) assert.deepEqual([d.movements, d.deltaCents, d.deltaCustomers], [0, 0, 0], d.day);
    for (const x of acc.monthly.values()) assert.deepEqual([x.movements, ...Object.values(x.sums)], [0, 0, 0, 0, 0, 0], x.month);
    for (const c of acc.cohorts.values()) assert.deepEqual([c.members, c.newCents, c.retained, c.retainedMrrCents], [0, 0, 0, 0], c.month);
    for (const x of acc.monthly.values()) assert.deepEqual([...Object.values(x.counts), x.deltaCustomers], [0, 0, 0, 0, 0, 0], x.month);
  });

  it('given status changes, then each day carries the change of its past-due and scheduled-to-cancel MRR, and subtracting them returns to zero', () => {
    const change = (at: string, pastDue: [number, number], scheduled: [number, number]) => ({
      customerId: 'cus_a',
      currency: 'usd',
      seq: 0,
      occurredAt: Date.parse(at),
      pastDueBeforeCents: pastDue[0],
      pastDueAfterCents: pastDue[1],
      scheduledBeforeCents: scheduled[0],
      scheduledAfterCents: scheduled[1],
      stripeEventId: 'evt',
    });
    // Past due on Jan 12 (1,500), paid again on Jan 12 later, set to cancel on Feb 1, past due again with it on Feb 1.
    const changes = [change('2026-01-12T08:00:00Z', [0, 1500], [0, 0]), change('2026-01-12T20:00:00Z', [1500, 0], [0, 0]), change('2026-02-01T00:00:00Z', [0, 0], [0, 1500]), change('2026-02-01T23:59:59Z', [0, 1500], [1500, 1500])];
    const acc = emptyAggregates();
    addStatusChanges(acc, changes, 1);
    assert.deepEqual(
      [...acc.daily.values()].map((d) => [d.day, d.movements, d.deltaPastDueCents, d.deltaScheduledChurnCents]),
      [
        ['2026-01-12', 0, 0, 0],
        ['2026-02-01', 0, 1500, 1500],
      ],
    );
    addStatusChanges(acc, changes, -1);
    for (const d of acc.daily.values()) assert.deepEqual([d.deltaPastDueCents, d.deltaScheduledChurnCents], [0, 0], d.day);
  });
});
