import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { discount, subscription, type ApiVersion, type CouponSpec, type ItemSpec } from '../../cli/demo/stripe-objects.ts';
import { customerTimeline, type CouponVersion, type DiscountVersion, type SubscriptionVersion } from './evolve.ts';
import { DEFAULT_POLICY, parseCoupon, parseDiscount, parsePolicy, parseSubscription, policyJson } from './policy.ts';

const day = 86_400_000;
const t0 = Date.UTC(2026, 0, 5);

function sv(at: number, eventId: string, spec: { id?: string; status: string; items: ItemSpec[]; cancelAtPeriodEnd?: boolean; currency?: string; discountIds?: string[]; coupon?: CouponSpec }, v: ApiVersion = '2025-03-31.basil'): SubscriptionVersion {
  const state = parseSubscription(subscription(v, { id: spec.id ?? 'sub_1', customer: 'cus_1', created: Math.floor(t0 / 1000), ...spec }));
  assert.ok(state);
  return { at, eventId, state };
}

function summary(m: ReturnType<typeof customerTimeline>['movements']): string[] {
  return m.map((x) => `${(x.occurredAt - t0) / day}d ${x.currency} ${x.movement} ${x.deltaCents} ${x.mrrBeforeCents}->${x.mrrAfterCents} ${x.stripeEventId}`);
}

describe('MRR timeline: movements of one customer', () => {
  it('trial → active is new at activation; cancel_at_period_end keeps MRR until the deletion churns it', () => {
    const { movements, current, subscriptions } = customerTimeline(
      'cus_1',
      [
        sv(t0, 'evt_a', { status: 'trialing', items: [{ unitAmount: 2900 }] }),
        sv(t0 + 14 * day, 'evt_b', { status: 'active', items: [{ unitAmount: 2900 }] }),
        sv(t0 + 20 * day, 'evt_c', { status: 'active', items: [{ unitAmount: 2900 }], cancelAtPeriodEnd: true }),
        sv(t0 + 44 * day, 'evt_d', { status: 'canceled', items: [{ unitAmount: 2900 }], cancelAtPeriodEnd: true }),
      ],
      [],
      [],
    );
    assert.deepEqual(summary(movements), ['14d usd new 2900 0->2900 evt_b', '44d usd churn -2900 2900->0 evt_d']);
    assert.deepEqual(current, [{ customerId: 'cus_1', currency: 'usd', mrrCents: 0, firstPaidAt: t0 + 14 * day, lastMovementAt: t0 + 44 * day }]);
    assert.deepEqual(
      subscriptions.map((x) => [x.state.subscriptionId, x.state.status, x.mrrCents, x.lastEventId, x.trialStartedAt, x.convertedAt]),
      [['sub_1', 'canceled', 0, 'evt_d', t0, t0 + 14 * day]],
    );
  });

  it('past_due keeps MRR, unpaid drops it, paying again is a reactivation', () => {
    const items = [{ unitAmount: 5000 }];
    const { movements } = customerTimeline(
      'cus_1',
      [
        sv(t0, 'evt_1', { status: 'active', items }),
        sv(t0 + 30 * day, 'evt_2', { status: 'past_due', items }),
        sv(t0 + 45 * day, 'evt_3', { status: 'unpaid', items }),
        sv(t0 + 50 * day, 'evt_4', { status: 'active', items }),
      ],
      [],
      [],
    );
    assert.deepEqual(summary(movements), ['0d usd new 5000 0->5000 evt_1', '45d usd churn -5000 5000->0 evt_3', '50d usd reactivation 5000 0->5000 evt_4']);
  });

  it('splits the MRR: past due while past_due, set to cancel from cancel_at_period_end until the deletion; a trial counts in neither', () => {
    const items = [{ unitAmount: 5000 }];
    const { statuses } = customerTimeline(
      'cus_1',
      [
        sv(t0, 'evt_1', { id: 'sub_1', status: 'active', items }),
        sv(t0, 'evt_t', { id: 'sub_t', status: 'trialing', items: [{ unitAmount: 900 }], cancelAtPeriodEnd: true }),
        sv(t0 + 30 * day, 'evt_2', { id: 'sub_1', status: 'past_due', items }),
        sv(t0 + 35 * day, 'evt_3', { id: 'sub_1', status: 'past_due', items, cancelAtPeriodEnd: true }),
        sv(t0 + 40 * day, 'evt_4', { id: 'sub_1', status: 'active', items, cancelAtPeriodEnd: true }),
        sv(t0 + 60 * day, 'evt_5', { id: 'sub_1', status: 'canceled', items, cancelAtPeriodEnd: true }),
      ],
      [],
      [],
    );
    assert.deepEqual(
      statuses.map((c) => `${(c.occurredAt - t0) / day}d past_due ${c.pastDueBeforeCents}->${c.pastDueAfterCents} scheduled ${c.scheduledBeforeCents}->${c.scheduledAfterCents} ${c.stripeEventId}`),
      ['30d past_due 0->5000 scheduled 0->0 evt_2', '35d past_due 5000->5000 scheduled 0->5000 evt_3', '40d past_due 5000->0 scheduled 5000->5000 evt_4', '60d past_due 0->0 scheduled 5000->0 evt_5'],
    );
  });

  it('a second subscription is an expansion, cancelling one of two a contraction, an upgrade an expansion', () => {
    const { movements } = customerTimeline(
      'cus_1',
      [
        sv(t0, 'evt_1', { id: 'sub_1', status: 'active', items: [{ unitAmount: 2000 }] }),
        sv(t0 + 1 * day, 'evt_2', { id: 'sub_2', status: 'active', items: [{ unitAmount: 500, quantity: 2 }] }),
        sv(t0 + 2 * day, 'evt_3', { id: 'sub_1', status: 'active', items: [{ unitAmount: 2000, quantity: 3 }] }),
        sv(t0 + 3 * day, 'evt_4', { id: 'sub_2', status: 'canceled', items: [{ unitAmount: 500, quantity: 2 }] }),
      ],
      [],
      [],
    );
    assert.deepEqual(summary(movements), [
      '0d usd new 2000 0->2000 evt_1',
      '1d usd expansion 1000 2000->3000 evt_2',
      '2d usd expansion 4000 3000->7000 evt_3',
      '3d usd contraction -1000 7000->6000 evt_4',
    ]);
  });

  it('breaks each movement down by the subscriptions whose MRR changed at its event; a swap at one instant moves nothing and leaves no parts', () => {
    const { movements, lineage } = customerTimeline(
      'cus_1',
      [
        sv(t0, 'evt_1', { id: 'sub_1', status: 'active', items: [{ unitAmount: 2000 }] }),
        sv(t0 + 1 * day, 'evt_2', { id: 'sub_2', status: 'active', items: [{ unitAmount: 500 }] }),
        sv(t0 + 1 * day, 'evt_2', { id: 'sub_1', status: 'active', items: [{ unitAmount: 2500 }] }),
        // One event both ends sub_2 and grows sub_1 by as much: no movement.
        sv(t0 + 2 * day, 'evt_3', { id: 'sub_2', status: 'canceled', items: [{ unitAmount: 500 }] }),
        sv(t0 + 2 * day, 'evt_3', { id: 'sub_1', status: 'active', items: [{ unitAmount: 3000 }] }),
        sv(t0 + 3 * day, 'evt_4', { id: 'sub_1', status: 'canceled', items: [{ unitAmount: 3000 }] }),
      ],
      [],
      [],
    );
    assert.deepEqual(summary(movements), ['0d usd new 2000 0->2000 evt_1', '1d usd expansion 1000 2000->3000 evt_2', '3d usd churn -3000 3000->0 evt_4']);
    assert.deepEqual(
      lineage.map((l) => `#${l.seq} ${l.movement} ${l.subscriptionId} ${l.subscriptionBeforeCents}->${l.subscriptionAfterCents} ${l.stripeEventId}`),
      ['#0 new sub_1 0->2000 evt_1', '#1 expansion sub_1 2000->2500 evt_2', '#1 expansion sub_2 0->500 evt_2', '#2 churn sub_1 3000->0 evt_4'],
    );
  });

  it('keeps currencies apart: each has its own new movement and MRR', () => {
    const { movements, current } = customerTimeline(
      'cus_1',
      [
        sv(t0, 'evt_1', { id: 'sub_usd', status: 'active', items: [{ unitAmount: 1000, currency: 'usd' }], currency: 'usd' }),
        sv(t0 + day, 'evt_2', { id: 'sub_eur', status: 'active', items: [{ unitAmount: 900, currency: 'eur' }], currency: 'eur' }),
      ],
      [],
      [],
    );
    assert.deepEqual(summary(movements), ['0d usd new 1000 0->1000 evt_1', '1d eur new 900 0->900 evt_2']);
    assert.deepEqual(current.map((c) => [c.currency, c.mrrCents]), [['eur', 900], ['usd', 1000]]);
  });

  it('resolves a discount referenced by id (basil) and its coupon by id (clover), whatever order they arrived in', () => {
    const sub = sv(t0, 'evt_s', { status: 'active', items: [{ unitAmount: 4000 }], discountIds: ['di_1'] }, '2025-09-30.clover');
    const disc: DiscountVersion = {
      at: t0,
      eventId: 'evt_d',
      terms: parseDiscount(discount('2025-09-30.clover', { id: 'di_1', customer: 'cus_1', subscription: 'sub_1', coupon: { id: 'Q25', percentOff: 25 }, start: 0 }), false)!,
    };
    const coupon: CouponVersion = { at: t0 - 30 * day, eventId: 'evt_c', couponId: 'Q25', terms: parseCoupon({ percent_off: 25 }) };
    const { movements } = customerTimeline('cus_1', [sub], [disc], [coupon]);
    assert.deepEqual(summary(movements), ['0d usd new 3000 0->3000 evt_s']); // evt_d sorts before evt_s at the same instant
    // The discount definition is timestamped a second after the subscription that references it.
    const late = { ...disc, at: t0 + 1000 };
    assert.deepEqual(summary(customerTimeline('cus_1', [sub], [late], [coupon]).movements), ['0d usd new 3000 0->3000 evt_s']);
  });

  it('a deleted discount stops applying at its deletion: expansion', () => {
    const sub = sv(t0, 'evt_s', { status: 'active', items: [{ unitAmount: 2000 }], discountIds: ['di_1'] });
    const terms = parseDiscount(discount('2025-03-31.basil', { id: 'di_1', customer: 'cus_1', subscription: 'sub_1', coupon: { id: 'OFF5', amountOff: 500 }, start: 0 }), false)!;
    const { movements } = customerTimeline(
      'cus_1',
      [sub],
      [
        { at: t0, eventId: 'evt_d1', terms },
        { at: t0 + 90 * day, eventId: 'evt_d2', terms: { ...terms, deleted: true } },
      ],
      [],
    );
    assert.deepEqual(summary(movements), ['0d usd new 1500 0->1500 evt_s', '90d usd expansion 500 1500->2000 evt_d2']);
  });

  it('gives the same movements whatever order and however often its inputs are listed', () => {
    const versions = [
      sv(t0, 'evt_1', { status: 'active', items: [{ unitAmount: 1000 }] }),
      sv(t0, 'evt_0', { status: 'active', items: [{ unitAmount: 3000 }] }),
      sv(t0 + day, 'evt_2', { status: 'canceled', items: [{ unitAmount: 1000 }] }),
    ];
    const a = customerTimeline('cus_1', versions, [], []);
    const b = customerTimeline('cus_1', [versions[2]!, versions[1]!, versions[0]!, versions[1]!], [], []);
    assert.deepEqual(b, a);
    // ties at the same instant go by event id: evt_0 (3000) then evt_1 (1000)
    assert.deepEqual(summary(a.movements), ['0d usd new 3000 0->3000 evt_0', '0d usd contraction -2000 3000->1000 evt_1', '1d usd churn -1000 1000->0 evt_2']);
  });
});

describe('MRR timeline under other policy settings (side versions)', () => {
  const items = [{ unitAmount: 5000 }];
  const history = [
    sv(t0, 'evt_1', { status: 'active', items }),
    sv(t0 + 30 * day, 'evt_2', { status: 'past_due', items }),
    sv(t0 + 40 * day, 'evt_3', { status: 'past_due', items }),
    sv(t0 + 50 * day, 'evt_4', { status: 'active', items }),
    sv(t0 + 80 * day, 'evt_5', { status: 'past_due', items }),
    sv(t0 + 90 * day, 'evt_6', { status: 'canceled', items }),
  ];

  it('past_due churn_after_days N: churns N days into an episode (attributed to the event that began it), reactivates when paid; a shorter episode changes nothing', () => {
    const policy = { ...DEFAULT_POLICY, pastDueChurnAfterDays: 15 };
    // Episode 1: past due from day 30, still at day 45 → churn at 45; paid at 50 → reactivation.
    // Episode 2: past due from day 80, canceled at day 90 (before 95): the cancellation churns.
    assert.deepEqual(summary(customerTimeline('cus_1', history, [], [], policy).movements), [
      '0d usd new 5000 0->5000 evt_1',
      '45d usd churn -5000 5000->0 evt_2',
      '50d usd reactivation 5000 0->5000 evt_4',
      '90d usd churn -5000 5000->0 evt_6',
    ]);
    // 25 days: the first episode (20 days) ends before it; the default counts past due throughout.
    assert.deepEqual(summary(customerTimeline('cus_1', history, [], [], { ...DEFAULT_POLICY, pastDueChurnAfterDays: 25 }).movements), ['0d usd new 5000 0->5000 evt_1', '90d usd churn -5000 5000->0 evt_6']);
    assert.deepEqual(summary(customerTimeline('cus_1', history, [], []).movements), ['0d usd new 5000 0->5000 evt_1', '90d usd churn -5000 5000->0 evt_6']);
  });

  it('past_due churn_after_days: the past-due part of the split ends with the churn', () => {
    const { statuses } = customerTimeline('cus_1', history.slice(0, 4), [], [], { ...DEFAULT_POLICY, pastDueChurnAfterDays: 15 });
    assert.deepEqual(
      statuses.map((s) => `${(s.occurredAt - t0) / day}d ${s.pastDueBeforeCents}->${s.pastDueAfterCents}`),
      ['30d 0->5000', '45d 5000->0'],
    );
  });

  it('cancel_at_period_end when_scheduled: churns when the cancellation is scheduled, comes back if it is undone', () => {
    const subs = [
      sv(t0, 'evt_a', { status: 'active', items: [{ unitAmount: 2900 }] }),
      sv(t0 + 20 * day, 'evt_b', { status: 'active', items: [{ unitAmount: 2900 }], cancelAtPeriodEnd: true }),
      sv(t0 + 25 * day, 'evt_c', { status: 'active', items: [{ unitAmount: 2900 }] }),
      sv(t0 + 30 * day, 'evt_d', { status: 'active', items: [{ unitAmount: 2900 }], cancelAtPeriodEnd: true }),
      sv(t0 + 44 * day, 'evt_e', { status: 'canceled', items: [{ unitAmount: 2900 }], cancelAtPeriodEnd: true }),
    ];
    assert.deepEqual(summary(customerTimeline('cus_1', subs, [], [], { ...DEFAULT_POLICY, cancelAtPeriodEnd: 'when_scheduled' }).movements), [
      '0d usd new 2900 0->2900 evt_a',
      '20d usd churn -2900 2900->0 evt_b',
      '25d usd reactivation 2900 0->2900 evt_c',
      '30d usd churn -2900 2900->0 evt_d',
    ]);
    assert.deepEqual(summary(customerTimeline('cus_1', subs, [], []).movements), ['0d usd new 2900 0->2900 evt_a', '44d usd churn -2900 2900->0 evt_e']);
  });

  it('discounts forever_only: a once or repeating coupon leaves MRR at list price, a forever coupon still lowers it', () => {
    const subs = (duration: CouponSpec['duration']) => [sv(t0, 'evt_a', { status: 'active', items: [{ unitAmount: 4000 }], coupon: { id: 'C', percentOff: 25, duration } }, '2024-06-20')];
    const mrrOf = (duration: CouponSpec['duration'], policy = DEFAULT_POLICY) => customerTimeline('cus_1', subs(duration), [], [], policy).current[0]?.mrrCents;
    const foreverOnly = { ...DEFAULT_POLICY, discounts: 'forever_only' as const };
    assert.equal(mrrOf('forever', foreverOnly), 3000);
    assert.equal(mrrOf('repeating', foreverOnly), 4000);
    assert.equal(mrrOf('once', foreverOnly), 4000);
    assert.equal(mrrOf('repeating'), 3000);
  });
});

describe('MRR policy settings', () => {
  it('reads the file form, defaults what is left out, and writes it back the same', () => {
    assert.deepEqual(parsePolicy({}), DEFAULT_POLICY);
    assert.deepEqual(parsePolicy(null), DEFAULT_POLICY);
    const p = parsePolicy({ discounts: 'forever_only', cancel_at_period_end: 'when_scheduled', past_due: 'churn_after_days 30' });
    assert.deepEqual(p, { discounts: 'forever_only', cancelAtPeriodEnd: 'when_scheduled', pastDueChurnAfterDays: 30 });
    assert.deepEqual(policyJson(p), { discounts: 'forever_only', cancel_at_period_end: 'when_scheduled', past_due: 'churn_after_days 30' });
    assert.deepEqual(parsePolicy(policyJson(DEFAULT_POLICY)), DEFAULT_POLICY);
  });

  it('refuses bad settings, naming every problem', () => {
    assert.throws(() => parsePolicy([]), /must be a JSON object/);
    assert.throws(
      () => parsePolicy({ discounts: 'some', cancel_at_period_end: true, past_due: 'churn_after_days 0', extra: 1 }),
      (err: Error) =>
        /unknown setting extra/.test(err.message) &&
        /discounts must be all or forever_only, not "some"/.test(err.message) &&
        /cancel_at_period_end must be at_cancellation or when_scheduled, not true/.test(err.message) &&
        /past_due must be counts or "churn_after_days N"/.test(err.message),
    );
    assert.throws(() => parsePolicy({ past_due: 'churn_after_days 2.5' }), /past_due/);
  });
});
