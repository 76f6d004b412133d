import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiVersions, discount, subscription, type ApiVersion, type ItemSpec } from '../../cli/demo/stripe-objects.ts';
import { decimal, decimalText, monthlyCents, parseCoupon, parseDiscount, parseSubscription, rat, roundHalfAwayFromZero, type CouponTerms } from './policy.ts';

function cents(items: ItemSpec[], options: { status?: string; coupon?: { percentOff?: number; amountOff?: number }; referenced?: CouponTerms[] } = {}, version = apiVersions[0]!): number {
  const obj = subscription(version, {
    id: 'sub_T',
    customer: 'cus_T',
    status: options.status ?? 'active',
    items,
    created: 1_700_000_000,
    coupon: options.coupon ? { id: 'C', ...options.coupon } : null,
  });
  const state = parseSubscription(obj);
  assert.ok(state);
  return monthlyCents(state, options.referenced ?? []);
}

describe('MRR policy: a subscription monthly value', () => {
  it('normalizes every interval and interval_count to a month (hand-computed)', () => {
    assert.equal(cents([{ unitAmount: 2900 }]), 2900);
    assert.equal(cents([{ unitAmount: 29000, interval: 'year' }]), 2417); // 29000 / 12 = 2416.67
    assert.equal(cents([{ unitAmount: 1000, interval: 'week' }]), 4333); // 1000 × 52/12 = 4333.33
    assert.equal(cents([{ unitAmount: 100, interval: 'day' }]), 3042); // 100 × 365/12 = 3041.67
    assert.equal(cents([{ unitAmount: 9000, interval: 'month', intervalCount: 3 }]), 3000); // quarterly
    assert.equal(cents([{ unitAmount: 24000, interval: 'year', intervalCount: 2 }]), 1000); // 24000 / 24
    assert.equal(cents([{ unitAmount: 1000, interval: 'week', intervalCount: 2 }]), 2167); // 1000 × 52/24 = 2166.67
    assert.equal(cents([{ unitAmount: 700, interval: 'day', intervalCount: 7 }]), 3042); // 700 × 365/84 = 3041.67
  });

  it('multiplies by quantity and sums several items before rounding once', () => {
    assert.equal(cents([{ unitAmount: 1200, quantity: 5 }]), 6000);
    assert.equal(cents([{ unitAmount: 2900 }, { unitAmount: 12000, interval: 'year' }]), 3900); // 2900 + 1000
    // 10/12 + 10/12 = 1.67 → 2 (rounding each item first would give 1 + 1 = 2 as well; 3 items show it)
    assert.equal(cents([{ unitAmount: 10, interval: 'year' }, { unitAmount: 10, interval: 'year' }, { unitAmount: 10, interval: 'year' }]), 3); // 30/12 = 2.5 → 3
  });

  it('rounds half away from zero', () => {
    assert.equal(cents([{ unitAmount: 30, interval: 'year' }]), 3); // 2.5
    assert.equal(cents([{ unitAmount: 18, interval: 'year' }]), 2); // 1.5
    assert.equal(cents([{ unitAmount: 6, interval: 'year' }]), 1); // 0.5
    assert.equal(roundHalfAwayFromZero(rat(-5n, 2n)), -3);
    assert.equal(roundHalfAwayFromZero(rat(-7n, 3n)), -2);
  });

  it('applies percent_off and amount_off (normalized by the subscription interval), never below 0', () => {
    assert.equal(cents([{ unitAmount: 4000 }], { coupon: { percentOff: 25 } }), 3000);
    assert.equal(cents([{ unitAmount: 1000 }], { coupon: { percentOff: 33.3 } }), 667); // 1000 × 0.667
    assert.equal(cents([{ unitAmount: 2900 }], { coupon: { amountOff: 500 } }), 2400);
    assert.equal(cents([{ unitAmount: 24000, interval: 'year' }], { coupon: { amountOff: 6000 } }), 1500); // 2000 − 6000/12
    assert.equal(cents([{ unitAmount: 1000 }], { coupon: { amountOff: 5000 } }), 0);
    const referenced = [parseCoupon({ percent_off: 50 }) as CouponTerms, parseCoupon({ amount_off: 100, currency: 'usd' }) as CouponTerms];
    assert.equal(cents([{ unitAmount: 1000 }], { referenced }), 400); // 1000 × 0.5 − 100
    const otherCurrency = [parseCoupon({ amount_off: 100, currency: 'eur' }) as CouponTerms];
    assert.equal(cents([{ unitAmount: 1000 }], { referenced: otherCurrency }), 1000);
  });

  it('counts only active and past_due', () => {
    const items = [{ unitAmount: 5000 }];
    const byStatus = Object.fromEntries(['active', 'past_due', 'trialing', 'incomplete', 'incomplete_expired', 'unpaid', 'canceled', 'paused'].map((s) => [s, cents(items, { status: s })]));
    assert.deepEqual(byStatus, { active: 5000, past_due: 5000, trialing: 0, incomplete: 0, incomplete_expired: 0, unpaid: 0, canceled: 0, paused: 0 });
  });

  it('reads every API version from 2024-06-20 to clover the same way', () => {
    for (const v of apiVersions) {
      assert.equal(cents([{ unitAmount: 2900, quantity: 2 }, { unitAmount: 12000, interval: 'year' }], {}, v), 6800, v);
    }
  });

  it('reads the legacy plan when an item has no price, sub-cent decimal prices, and skips metered items and tiered ones sent without their tiers', () => {
    const base = parseSubscription(subscription('2024-06-20', { id: 'sub_L', customer: 'cus_L', status: 'active', items: [{ unitAmount: 1500 }], created: 1 }));
    assert.ok(base);
    const legacyOnly = { ...(subscription('2024-06-20', { id: 'sub_L', customer: 'cus_L', status: 'active', items: [{ unitAmount: 1500 }], created: 1 }) as Record<string, unknown>) };
    const items = (legacyOnly.items as { data: Record<string, unknown>[] }).data.map((i) => ({ ...i, price: undefined }));
    legacyOnly.items = { object: 'list', data: items };
    assert.equal(monthlyCents(parseSubscription(legacyOnly)!, []), 1500);
    const sub = subscription('2025-03-31.basil', { id: 'sub_D', customer: 'cus_D', status: 'active', items: [{ unitAmount: 0, quantity: 1000 }, { unitAmount: 999 }, { unitAmount: 999 }], created: 1 }) as Record<string, unknown>;
    const data = (sub.items as { data: Record<string, Record<string, unknown>>[] }).data;
    data[0]!.price = { ...data[0]!.price, unit_amount: null, unit_amount_decimal: '0.5' };
    data[1]!.price = { ...data[1]!.price, recurring: { interval: 'month', interval_count: 1, usage_type: 'metered' } };
    data[2]!.price = { ...data[2]!.price, billing_scheme: 'tiered', unit_amount: null, unit_amount_decimal: null };
    assert.equal(monthlyCents(parseSubscription(sub)!, []), 500);
  });

  it('counts a tiered price at its value for the quantity: graduated tier by tier, volume at the tier the quantity falls in, flat amounts included (hand-computed)', () => {
    /** A subscription of one item whose price (or, before basil, plan) is tiered as given. */
    const tiered = (version: ApiVersion, mode: string, tiers: Record<string, unknown>[], quantity: number, interval = 'month') => {
      const sub = subscription(version, { id: 'sub_T', customer: 'cus_T', status: 'active', items: [{ unitAmount: 1, quantity, interval: interval as 'month' }], created: 1 }) as Record<string, unknown>;
      const item = (sub.items as { data: Record<string, Record<string, unknown>>[] }).data[0]!;
      for (const key of ['price', 'plan'] as const) if (item[key]) item[key] = { ...item[key], billing_scheme: 'tiered', tiers_mode: mode, tiers, unit_amount: null, unit_amount_decimal: null, amount: null, amount_decimal: null };
      return monthlyCents(parseSubscription(sub)!, []);
    };
    const tiers = [
      { up_to: 5, unit_amount: 1000, unit_amount_decimal: '1000', flat_amount: null, flat_amount_decimal: null },
      { up_to: 10, unit_amount: 800, unit_amount_decimal: '800', flat_amount: 500, flat_amount_decimal: '500' },
      { up_to: null, unit_amount: 600, unit_amount_decimal: '600', flat_amount: null, flat_amount_decimal: null },
    ];
    // Graduated, 12 units: 5 × 1000 + (5 × 800 + 500) + 2 × 600 = 10,700; 7 units: 5000 + 2 × 800 + 500 = 7,100; 5 units: 5,000 (the second tier not reached).
    assert.deepEqual([12, 7, 5, 0].map((q) => tiered('2025-09-30.clover', 'graduated', tiers, q)), [10700, 7100, 5000, 0]);
    // Volume: 12 units all at 600 = 7,200; 7 units all at 800 plus 500 = 6,100; 5 units at 1000 = 5,000.
    assert.deepEqual([12, 7, 5, 0].map((q) => tiered('2025-09-30.clover', 'volume', tiers, q)), [7200, 6100, 5000, 0]);
    // Tiers listed in any order, 'inf' as Stripe writes the last bound, a sub-cent unit amount, a yearly
    // price, the legacy plan (2024-06-20): 3 × 150.5 + 1000 = 1451.5 a year, 120.958… a month → 121.
    const yearly = [
      { up_to: 'inf', unit_amount: 100, unit_amount_decimal: '100', flat_amount: null, flat_amount_decimal: null },
      { up_to: 10, unit_amount: null, unit_amount_decimal: '150.5', flat_amount: 1000, flat_amount_decimal: '1000' },
    ];
    assert.equal(tiered('2024-06-20', 'graduated', yearly, 3, 'year'), 121);
    // Without its tiers (a webhook sends the price unexpanded), a tiered item still counts 0.
    assert.equal(tiered('2025-09-30.clover', 'graduated', [], 12), 0);
  });

  it('parses discounts: embedded coupon (legacy), source.coupon (clover), and references by id (basil+)', () => {
    const legacy = parseDiscount(discount('2024-06-20', { id: 'di_1', customer: 'cus_1', subscription: 'sub_1', coupon: { id: 'HALF', percentOff: 50 }, start: 1 }), false);
    assert.deepEqual(legacy?.coupon?.percentOff, decimal(50));
    const clover = parseDiscount(discount('2025-09-30.clover', { id: 'di_2', customer: 'cus_1', subscription: 'sub_1', coupon: { id: 'HALF', percentOff: 50 }, start: 1 }), false);
    assert.equal(clover?.coupon, null);
    assert.equal(clover?.couponId, 'HALF');
    const basil = parseSubscription(subscription('2025-03-31.basil', { id: 'sub_B', customer: 'cus_B', status: 'active', items: [{ unitAmount: 1 }], created: 1, discountIds: ['di_9'] }));
    assert.deepEqual(basil?.discountIds, ['di_9']);
    assert.deepEqual(basil?.embeddedCoupons, []);
    const old = parseSubscription(subscription('2024-06-20', { id: 'sub_O', customer: 'cus_O', status: 'active', items: [{ unitAmount: 1 }], created: 1, coupon: { id: 'X', amountOff: 5 } }));
    assert.deepEqual(old?.discountIds, [], 'the embedded discount is not counted twice through its id');
    assert.equal(old?.embeddedCoupons.length, 1);
  });

  it('writes a unit amount as the decimal it was (analytics.subscriptions items)', () => {
    assert.deepEqual(
      [rat(29000n), rat(1n, 8n), rat(-1n, 4n), rat(123456789n, 1000000n), rat(0n), rat(1n, 3n)].map(decimalText),
      ['29000', '0.125', '-0.25', '123.456789', '0', '1/3'],
    );
  });
});
