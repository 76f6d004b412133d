import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { activeVersionCaughtUp } from '../../test/support/projections.ts';
import { runEventline } from '../../test/support/process.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { coupon, discount, event, invoice, subscription, type ApiVersion, type CouponSpec, type ItemSpec } from '../../cli/demo/stripe-objects.ts';
import { mrrProjection } from './main.ts';

const DAY = 86_400;
const jan1 = Date.UTC(2026, 0, 1) / 1000;
let seq = 0;

/** One subscription event for a customer's story. */
function sub(
  v: ApiVersion,
  customer: string,
  at: number,
  spec: { id?: string; status: string; items: ItemSpec[]; type?: string; cancelAtPeriodEnd?: boolean; canceledAt?: number; currency?: string; coupon?: CouponSpec; discountIds?: string[] },
): Record<string, unknown> {
  const type = spec.type ?? 'customer.subscription.updated';
  seq++;
  return event(v, {
    id: `evt_${customer}_${String(seq).padStart(4, '0')}`,
    type,
    created: at,
    object: subscription(v, { id: spec.id ?? `sub_${customer}`, customer, created: jan1, ...spec }),
  });
}

describe('MRR projection through Kafka into the analytics views', () => {
  let t: TestEnv;
  let running: { stop(): Promise<void> };
  const events: Record<string, unknown>[] = [];
  const v: ApiVersion = '2025-03-31.basil';
  const legacy: ApiVersion = '2024-06-20';
  const clover: ApiVersion = '2025-09-30.clover';

  // Interval normalization, quantity, items (one customer each; MRR computed by hand).
  events.push(sub(v, 'cus_month', jan1, { status: 'active', items: [{ unitAmount: 2900 }], type: 'customer.subscription.created' })); // 2900
  events.push(sub(legacy, 'cus_year', jan1, { status: 'active', items: [{ unitAmount: 29000, interval: 'year' }] })); // 2416.67 → 2417
  events.push(sub(v, 'cus_week', jan1, { status: 'active', items: [{ unitAmount: 1000, interval: 'week' }] })); // 4333.33 → 4333
  events.push(sub(clover, 'cus_day', jan1, { status: 'active', items: [{ unitAmount: 100, interval: 'day' }] })); // 3041.67 → 3042
  events.push(sub(v, 'cus_quarter', jan1, { status: 'active', items: [{ unitAmount: 9000, interval: 'month', intervalCount: 3 }] })); // 3000
  events.push(sub(v, 'cus_qty', jan1, { status: 'active', items: [{ unitAmount: 1200, quantity: 5 }] })); // 6000
  events.push(sub(legacy, 'cus_items', jan1, { status: 'active', items: [{ unitAmount: 2900 }, { unitAmount: 12000, interval: 'year' }] })); // 2900 + 1000
  // Discounts: embedded (legacy), by reference (basil), by reference to a coupon delivered late (clover).
  events.push(sub(legacy, 'cus_pct', jan1, { status: 'active', items: [{ unitAmount: 4000 }], coupon: { id: 'Q25', percentOff: 25 } })); // 3000
  events.push(sub(v, 'cus_amt', jan1, { status: 'active', items: [{ unitAmount: 24000, interval: 'year' }], discountIds: ['di_amt'] })); // 2000 − 6000/12 = 1500
  events.push(event(v, { id: 'evt_cus_amt_disc', type: 'customer.discount.created', created: jan1, object: discount(v, { id: 'di_amt', customer: 'cus_amt', subscription: 'sub_cus_amt', coupon: { id: 'OFF60', amountOff: 6000 }, start: jan1 }) }));
  events.push(sub(clover, 'cus_late', jan1, { status: 'active', items: [{ unitAmount: 5000 }], discountIds: ['di_late'] })); // 5000 × 0.8 = 4000
  events.push(event(clover, { id: 'evt_cus_late_disc', type: 'customer.discount.created', created: jan1, object: discount(clover, { id: 'di_late', customer: 'cus_late', subscription: 'sub_cus_late', coupon: { id: 'SAVE20', percentOff: 20 }, start: jan1 }) }));
  const lateCoupon = event(clover, { id: 'evt_coupon_save20', type: 'coupon.created', created: jan1 - 10 * DAY, object: coupon({ id: 'SAVE20', percentOff: 20 }) });
  // Lifecycles.
  events.push(sub(v, 'cus_trial', jan1, { status: 'trialing', items: [{ unitAmount: 4900 }], type: 'customer.subscription.created' }));
  events.push(sub(v, 'cus_trial', jan1 + 14 * DAY, { status: 'active', items: [{ unitAmount: 4900 }] })); // new on Jan 15
  events.push(sub(v, 'cus_trial2', jan1 + 19 * DAY, { status: 'trialing', items: [{ unitAmount: 4900 }], type: 'customer.subscription.created' })); // a trial from Jan 20 …
  events.push(sub(v, 'cus_trial2', jan1 + 33 * DAY, { status: 'canceled', items: [{ unitAmount: 4900 }], type: 'customer.subscription.deleted' })); // … cancelled unpaid: no MRR ever
  events.push(sub(v, 'cus_trial3', jan1 + 64 * DAY, { status: 'trialing', items: [{ unitAmount: 900 }], type: 'customer.subscription.created' })); // trialing since Mar 6
  events.push(sub(v, 'cus_pastdue', jan1, { status: 'active', items: [{ unitAmount: 1000 }] }));
  events.push(sub(v, 'cus_pastdue', jan1 + 31 * DAY, { status: 'past_due', items: [{ unitAmount: 1000 }] })); // still 1000
  events.push(sub(v, 'cus_unpaid', jan1, { status: 'active', items: [{ unitAmount: 1500 }] }));
  events.push(sub(v, 'cus_unpaid', jan1 + 45 * DAY, { status: 'unpaid', items: [{ unitAmount: 1500 }] })); // churn Feb 15
  events.push(sub(v, 'cus_cape', jan1, { status: 'active', items: [{ unitAmount: 2000 }] }));
  events.push(sub(v, 'cus_cape', jan1 + 10 * DAY, { status: 'active', items: [{ unitAmount: 2000 }], cancelAtPeriodEnd: true })); // no movement
  events.push(sub(v, 'cus_cape', jan1 + 31 * DAY, { status: 'canceled', items: [{ unitAmount: 2000 }], cancelAtPeriodEnd: true, canceledAt: jan1 + 10 * DAY, type: 'customer.subscription.deleted' })); // churn Feb 1
  events.push(sub(v, 'cus_cancel', jan1, { status: 'active', items: [{ unitAmount: 800 }] }));
  events.push(sub(v, 'cus_cancel', jan1 + 5 * DAY, { status: 'canceled', items: [{ unitAmount: 800 }], type: 'customer.subscription.deleted' })); // churn Jan 6
  events.push(sub(v, 'cus_back', jan1, { id: 'sub_back1', status: 'active', items: [{ unitAmount: 1000 }] }));
  events.push(sub(v, 'cus_back', jan1 + 20 * DAY, { id: 'sub_back1', status: 'canceled', items: [{ unitAmount: 1000 }] })); // churn Jan 21
  events.push(sub(v, 'cus_back', jan1 + 70 * DAY, { id: 'sub_back2', status: 'active', items: [{ unitAmount: 1200 }], type: 'customer.subscription.created' })); // reactivation Mar 12
  events.push(sub(v, 'cus_two', jan1, { id: 'sub_two_a', status: 'active', items: [{ unitAmount: 3000 }] }));
  events.push(sub(v, 'cus_two', jan1 + 40 * DAY, { id: 'sub_two_b', status: 'active', items: [{ unitAmount: 500 }] })); // expansion Feb 10
  events.push(sub(v, 'cus_two', jan1 + 60 * DAY, { id: 'sub_two_a', status: 'canceled', items: [{ unitAmount: 3000 }] })); // contraction Mar 2
  events.push(sub(v, 'cus_fx', jan1, { id: 'sub_fx_usd', status: 'active', items: [{ unitAmount: 1000, currency: 'usd' }], currency: 'usd' }));
  events.push(sub(v, 'cus_fx', jan1 + DAY, { id: 'sub_fx_eur', status: 'active', items: [{ unitAmount: 900, currency: 'eur' }], currency: 'eur' }));

  // Invoices: in_1 fails twice (insufficient funds, then do not honor), then is paid; in_2 (legacy
  // API) fails with a decline code, then fails again without one; in_3 is a draft, then deleted.
  const inv = (ver: ApiVersion, id: string, at: number, status: string, extra: { attemptCount?: number; declineCode?: string; type?: string } = {}) =>
    event(ver, {
      id: `evt_${id}_${at}`,
      type: extra.type ?? (status === 'paid' ? 'invoice.paid' : status === 'open' ? 'invoice.payment_failed' : 'invoice.updated'),
      created: at,
      object: invoice(ver, { id, customer: 'cus_pastdue', subscription: 'sub_cus_pastdue', amountDue: 1000, status, created: jan1 + 31 * DAY, ...extra }),
    });
  events.push(inv(clover, 'in_1', jan1 + 31 * DAY, 'open', { attemptCount: 1, declineCode: 'insufficient_funds' }));
  events.push(inv(clover, 'in_1', jan1 + 34 * DAY, 'open', { attemptCount: 2, declineCode: 'do_not_honor' }));
  events.push(inv(clover, 'in_1', jan1 + 38 * DAY, 'paid', { attemptCount: 3 }));
  events.push(inv(legacy, 'in_2', jan1 + 62 * DAY, 'open', { attemptCount: 1, declineCode: 'expired_card' }));
  events.push(inv(legacy, 'in_2', jan1 + 65 * DAY, 'open', { attemptCount: 2 }));
  events.push(inv(v, 'in_3', jan1 + 70 * DAY, 'draft', { type: 'invoice.created' }));
  events.push(inv(v, 'in_3', jan1 + 71 * DAY, 'draft', { type: 'invoice.deleted' }));

  before(async () => {
    t = await createTestEnv('mrr');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const appender = await t.rt.kafka.appender();
    // Out of order and with duplicates, as Stripe delivers: reversed, then everything again; the coupon last.
    await appender.append('stripe.events.v1', stripeRecords([...events].reverse()));
    await appender.append('stripe.events.v1', stripeRecords(events.slice(0, 12)));
    await appender.append('stripe.events.v1', stripeRecords([lateCoupon]));
    running = await runVersionedProjection(t.rt, mrrProjection, { pollMs: 200 });
    await activeVersionCaughtUp(t.rt, 'mrr', ['stripe.events.v1']);
  });
  after(async () => {
    await running?.stop();
    await t?.cleanup();
  });

  const q = async <R extends Record<string, unknown>>(sql: string, values: unknown[] = []) => (await t.rt.db.query<R>(sql, values)).rows;

  it('computes each customer MRR as the policy says (values computed by hand)', async () => {
    const rows = await q<{ customer_id: string; currency: string; mrr_cents: number }>('SELECT customer_id, currency, mrr_cents FROM analytics.customer_mrr ORDER BY 1, 2');
    const got = Object.fromEntries(rows.map((r) => [`${r.customer_id}/${r.currency}`, r.mrr_cents]));
    assert.deepEqual(got, {
      'cus_amt/usd': 1500,
      'cus_back/usd': 1200,
      'cus_cancel/usd': 0,
      'cus_cape/usd': 0,
      'cus_day/usd': 3042,
      'cus_fx/eur': 900,
      'cus_fx/usd': 1000,
      'cus_items/usd': 3900,
      'cus_late/usd': 4000,
      'cus_month/usd': 2900,
      'cus_pastdue/usd': 1000,
      'cus_pct/usd': 3000,
      'cus_qty/usd': 6000,
      'cus_quarter/usd': 3000,
      'cus_trial/usd': 4900,
      'cus_two/usd': 500,
      'cus_unpaid/usd': 0,
      'cus_week/usd': 4333,
      'cus_year/usd': 2417,
    });
  });

  it('records each lifecycle change as the right movement at the right time', async () => {
    const rows = await q<{ customer_id: string; day: string; movement: string; delta_cents: number }>(
      `SELECT customer_id, to_char(occurred_at AT TIME ZONE 'UTC', 'MM-DD') AS day, movement, delta_cents FROM analytics.mrr_movements
       WHERE customer_id IN ('cus_trial','cus_pastdue','cus_unpaid','cus_cape','cus_cancel','cus_back','cus_two','cus_fx') ORDER BY customer_id, occurred_at, currency`,
    );
    assert.deepEqual(
      rows.map((r) => `${r.customer_id} ${r.day} ${r.movement} ${r.delta_cents}`),
      [
        'cus_back 01-01 new 1000',
        'cus_back 01-21 churn -1000',
        'cus_back 03-12 reactivation 1200',
        'cus_cancel 01-01 new 800',
        'cus_cancel 01-06 churn -800',
        'cus_cape 01-01 new 2000',
        'cus_cape 02-01 churn -2000',
        'cus_fx 01-01 new 1000',
        'cus_fx 01-02 new 900',
        'cus_pastdue 01-01 new 1000',
        'cus_trial 01-15 new 4900',
        'cus_two 01-01 new 3000',
        'cus_two 02-10 expansion 500',
        'cus_two 03-02 contraction -3000',
        'cus_unpaid 01-01 new 1500',
        'cus_unpaid 02-15 churn -1500',
      ],
    );
  });

  it('bridges every month: opening + movements = closing, closing = next opening, matching customer MRR now', async () => {
    const months = await q<{ month: string; opening_mrr_cents: number; new_cents: number; expansion_cents: number; contraction_cents: number; churn_cents: number; reactivation_cents: number; closing_mrr_cents: number }>(
      "SELECT to_char(month, 'YYYY-MM') AS month, opening_mrr_cents, new_cents, expansion_cents, contraction_cents, churn_cents, reactivation_cents, closing_mrr_cents FROM analytics.mrr_monthly WHERE currency = 'usd' ORDER BY 1",
    );
    assert.equal(months[0]?.month, '2026-01');
    assert.equal(months.at(-1)?.month, new Date().toISOString().slice(0, 7));
    for (const [i, m] of months.entries()) {
      assert.equal(m.opening_mrr_cents + m.new_cents + m.expansion_cents + m.contraction_cents + m.churn_cents + m.reactivation_cents, m.closing_mrr_cents, m.month);
      if (i > 0) assert.equal(m.opening_mrr_cents, months[i - 1]?.closing_mrr_cents, m.month);
    }
    // February by hand: expansion 500 (cus_two); churn −2000 (cus_cape) −1500 (cus_unpaid).
    const feb = months.find((m) => m.month === '2026-02');
    assert.deepEqual([feb?.new_cents, feb?.expansion_cents, feb?.contraction_cents, feb?.churn_cents, feb?.reactivation_cents], [0, 500, 0, -3500, 0]);
    const [now] = await q<{ total: number }>("SELECT sum(mrr_cents)::bigint AS total FROM analytics.customer_mrr WHERE currency = 'usd'");
    assert.equal(months.at(-1)?.closing_mrr_cents, now?.total);
  });

  it('traces each movement to the subscriptions and Stripe events behind it (mrr_lineage)', async () => {
    const rows = await q<{ customer_id: string; day: string; movement: string; delta_cents: number; stripe_event_id: string; subscription_id: string; before: number; after: number }>(
      `SELECT customer_id, to_char(occurred_at AT TIME ZONE 'UTC', 'MM-DD') AS day, movement, delta_cents, stripe_event_id, subscription_id,
              subscription_mrr_before_cents AS before, subscription_mrr_after_cents AS after
       FROM analytics.mrr_lineage WHERE customer_id IN ('cus_two', 'cus_back') ORDER BY customer_id, occurred_at, subscription_id`,
    );
    const eventOf = (customer: string, subscription: string, at: number) =>
      (events.find((e) => {
        const object = (e.data as { object: { id: string; customer: string } }).object;
        return object.customer === customer && object.id === subscription && e.created === at;
      })?.id as string | undefined) ?? 'missing';
    assert.deepEqual(
      rows.map((r) => `${r.customer_id} ${r.day} ${r.movement} ${r.subscription_id} ${r.before}->${r.after} ${r.delta_cents} ${r.stripe_event_id}`),
      [
        `cus_back 01-01 new sub_back1 0->1000 1000 ${eventOf('cus_back', 'sub_back1', jan1)}`,
        `cus_back 01-21 churn sub_back1 1000->0 -1000 ${eventOf('cus_back', 'sub_back1', jan1 + 20 * DAY)}`,
        `cus_back 03-12 reactivation sub_back2 0->1200 1200 ${eventOf('cus_back', 'sub_back2', jan1 + 70 * DAY)}`,
        `cus_two 01-01 new sub_two_a 0->3000 3000 ${eventOf('cus_two', 'sub_two_a', jan1)}`,
        `cus_two 02-10 expansion sub_two_b 0->500 500 ${eventOf('cus_two', 'sub_two_b', jan1 + 40 * DAY)}`,
        `cus_two 03-02 contraction sub_two_a 3000->0 -3000 ${eventOf('cus_two', 'sub_two_a', jan1 + 60 * DAY)}`,
      ],
    );
    const unbalanced = await q(
      `SELECT m.customer_id, m.occurred_at FROM analytics.mrr_movements m
       LEFT JOIN (SELECT customer_id, currency, occurred_at, stripe_event_id, sum(delta_cents) AS parts FROM analytics.mrr_lineage GROUP BY 1, 2, 3, 4) l
         USING (customer_id, currency, occurred_at, stripe_event_id)
       WHERE l.parts IS DISTINCT FROM m.delta_cents`,
    );
    assert.deepEqual(unbalanced, [], "every movement's parts add up to its delta");
  });

  it('lists every subscription as it stands, with its MRR now adding up to the customer\'s (analytics.subscriptions)', async () => {
    const rows = await q<Record<string, unknown>>(
      `SELECT subscription_id, customer_id, status, currency, mrr_cents, cancel_at_period_end, canceled_at IS NOT NULL AS canceled, jsonb_array_length(items) AS items,
              items->0->>'unit_amount' AS unit_amount, items->0->>'interval' AS interval, to_char(updated_at AT TIME ZONE 'UTC', 'MM-DD') AS updated
       FROM analytics.subscriptions WHERE customer_id IN ('cus_two', 'cus_cape', 'cus_items', 'cus_amt', 'cus_fx') ORDER BY subscription_id`,
    );
    assert.deepEqual(rows, [
      { subscription_id: 'sub_cus_amt', customer_id: 'cus_amt', status: 'active', currency: 'usd', mrr_cents: 1500, cancel_at_period_end: false, canceled: false, items: 1, unit_amount: '24000', interval: 'year', updated: '01-01' },
      { subscription_id: 'sub_cus_cape', customer_id: 'cus_cape', status: 'canceled', currency: 'usd', mrr_cents: 0, cancel_at_period_end: true, canceled: true, items: 1, unit_amount: '2000', interval: 'month', updated: '02-01' },
      { subscription_id: 'sub_cus_items', customer_id: 'cus_items', status: 'active', currency: 'usd', mrr_cents: 3900, cancel_at_period_end: false, canceled: false, items: 2, unit_amount: '2900', interval: 'month', updated: '01-01' },
      { subscription_id: 'sub_fx_eur', customer_id: 'cus_fx', status: 'active', currency: 'eur', mrr_cents: 900, cancel_at_period_end: false, canceled: false, items: 1, unit_amount: '900', interval: 'month', updated: '01-02' },
      { subscription_id: 'sub_fx_usd', customer_id: 'cus_fx', status: 'active', currency: 'usd', mrr_cents: 1000, cancel_at_period_end: false, canceled: false, items: 1, unit_amount: '1000', interval: 'month', updated: '01-01' },
      // No canceled_at in this payload: the column shows what Stripe sent.
      { subscription_id: 'sub_two_a', customer_id: 'cus_two', status: 'canceled', currency: 'usd', mrr_cents: 0, cancel_at_period_end: false, canceled: false, items: 1, unit_amount: '3000', interval: 'month', updated: '03-02' },
      { subscription_id: 'sub_two_b', customer_id: 'cus_two', status: 'active', currency: 'usd', mrr_cents: 500, cancel_at_period_end: false, canceled: false, items: 1, unit_amount: '500', interval: 'month', updated: '02-10' },
    ]);
    const mismatched = await q(
      `SELECT c.customer_id FROM analytics.customer_mrr c LEFT JOIN (SELECT customer_id, currency, sum(mrr_cents) AS mrr FROM analytics.subscriptions GROUP BY 1, 2) s USING (customer_id, currency)
       WHERE COALESCE(s.mrr, 0) <> c.mrr_cents`,
    );
    assert.deepEqual(mismatched, []);
  });

  it('counts trials by the month they started, and their conversions to paid (analytics.trials_monthly)', async () => {
    const rows = await q<Record<string, unknown>>(
      `SELECT to_char(month, 'YYYY-MM') AS month, currency, trials_started, converted, still_trialing, conversion_rate::text, extract(day FROM median_time_to_convert)::int AS median_days
       FROM analytics.trials_monthly ORDER BY month, currency`,
    );
    assert.deepEqual(rows, [
      // cus_trial (Jan 1, paid from Jan 15) and cus_trial2 (Jan 20, cancelled unpaid).
      { month: '2026-01', currency: 'usd', trials_started: 2, converted: 1, still_trialing: 0, conversion_rate: '0.5000', median_days: 14 },
      { month: '2026-03', currency: 'usd', trials_started: 1, converted: 0, still_trialing: 1, conversion_rate: '0.0000', median_days: null },
    ]);
    const trialing = await q<{ subscription_id: string }>("SELECT subscription_id FROM analytics.subscriptions WHERE status = 'trialing'");
    assert.deepEqual(trialing.map((r) => r.subscription_id), ['sub_cus_trial3']);
  });

  it('keeps every invoice as it stands, with the last decline code it had (analytics.invoices)', async () => {
    const rows = await q<Record<string, unknown>>(
      `SELECT invoice_id, customer_id, subscription_id, status, amount_due_cents, amount_paid_cents, currency, attempt_count, last_decline_code, to_char(updated_at AT TIME ZONE 'UTC', 'MM-DD') AS updated
       FROM analytics.invoices ORDER BY invoice_id`,
    );
    assert.deepEqual(rows, [
      { invoice_id: 'in_1', customer_id: 'cus_pastdue', subscription_id: 'sub_cus_pastdue', status: 'paid', amount_due_cents: 1000, amount_paid_cents: 1000, currency: 'usd', attempt_count: 3, last_decline_code: 'do_not_honor', updated: '02-08' },
      { invoice_id: 'in_2', customer_id: 'cus_pastdue', subscription_id: 'sub_cus_pastdue', status: 'open', amount_due_cents: 1000, amount_paid_cents: 0, currency: 'usd', attempt_count: 2, last_decline_code: 'expired_card', updated: '03-07' },
      { invoice_id: 'in_3', customer_id: 'cus_pastdue', subscription_id: 'sub_cus_pastdue', status: 'deleted', amount_due_cents: 1000, amount_paid_cents: 0, currency: 'usd', attempt_count: 1, last_decline_code: null, updated: '03-13' },
    ]);
    const columns = await q<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' AND table_name = 'invoices'");
    assert.ok(!columns.some((c) => c.column_name.includes('url')), 'no hosted invoice URL');
  });

  it('converts MRR into the reporting currency with the loaded rates, movements at the day\'s rate and rate changes as the FX line (eventline fx load)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fx-'));
    const csv = join(dir, 'rates.csv');
    writeFileSync(csv, 'date,currency,rate\n2026-01-01,eur,1.10\n2026-03-01,EUR,1.20\n');
    const load = await runEventline(t.env, ['fx', 'load', csv]);
    assert.equal(load.code, 0, load.stderr);
    assert.match(load.stdout, /loaded 2 rates into usd for eur, 2026-01-01 to 2026-03-01/);
    writeFileSync(csv, '2026-04-01,eur,1.3\n2026-04-02,eur,zero\n');
    const bad = await runEventline(t.env, ['fx', 'load', csv]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /line 2: "zero" is not a positive decimal rate/);
    assert.equal((await q("SELECT 1 FROM public.fx_rates WHERE day = '2026-04-01'")).length, 0, 'one bad line loads nothing');

    const day = async (d: string) =>
      (
        await q<{ mrr: number; movements: number; fx: number; usd: number; complete: boolean }>(
          `SELECT r.mrr_cents AS mrr, r.movements_cents AS movements, r.fx_impact_cents AS fx, d.mrr_cents AS usd, r.rates_complete AS complete
           FROM analytics.mrr_reporting_daily r JOIN analytics.mrr_daily d ON d.day = r.day AND d.currency = 'usd' WHERE r.reporting_currency = 'usd' AND r.day = $1`,
          [d],
        )
      )[0];
    // Jan 2: cus_fx's 900 EUR at 1.10 = 990 USD, a movement; no USD movement that day.
    const jan2 = await day('2026-01-02');
    assert.deepEqual([jan2?.movements, jan2?.fx, jan2?.mrr, jan2?.complete], [990, 0, (jan2?.usd ?? 0) + 990, true]);
    // Mar 1: the rate moves to 1.20: the standing 900 EUR gains 90 USD, an FX line, not a movement.
    const mar1 = await day('2026-03-01');
    assert.deepEqual([mar1?.movements, mar1?.fx, mar1?.mrr], [0, 90, (mar1?.usd ?? 0) + 1080]);
    // Every day: mrr = previous mrr + movements + FX, exactly, in cents.
    const broken = await q(
      `SELECT day FROM (SELECT day, mrr_cents - lag(mrr_cents) OVER (ORDER BY day) - movements_cents - fx_impact_cents AS gap FROM analytics.mrr_reporting_daily WHERE reporting_currency = 'usd') x WHERE gap <> 0`,
    );
    assert.deepEqual(broken, []);
    // Into a currency with a rate for EUR only, USD's MRR cannot be converted: NULLs, and said so.
    await t.rt.db.query("INSERT INTO public.fx_rates (reporting_currency, day, currency, rate) VALUES ('gbp', '2026-01-01', 'eur', 0.85)");
    const gbp = await q<{ mrr: number | null; fx: number | null; complete: boolean }>(
      "SELECT mrr_cents AS mrr, fx_impact_cents AS fx, rates_complete AS complete FROM analytics.mrr_reporting_daily WHERE reporting_currency = 'gbp' AND day = '2026-02-01'",
    );
    assert.deepEqual(gbp, [{ mrr: null, fx: null, complete: false }]);
  });

  it('gives the SaaS metrics of each month as ARCHITECTURE §6 defines them (values computed by hand)', async () => {
    const rows = await q<Record<string, unknown>>(
      `SELECT to_char(month, 'YYYY-MM') AS month, currency, opening_mrr_cents, closing_mrr_cents, arr_cents, net_new_mrr_cents,
              customers_opening, customers_closing, new_customers, churned_customers, reactivated_customers,
              quick_ratio::text, gross_mrr_churn_rate::text, net_mrr_churn_rate::text, grr::text, nrr::text, logo_churn_rate::text, arpa_cents, ltv_cents
       FROM analytics.saas_metrics_monthly WHERE month <= '2026-04-01' ORDER BY currency, month`,
    );
    const row = (month: string, currency: string, o: number, closing: number, customers: [number, number, number, number, number], ratios: (string | null)[], arpa: number | null, ltv: number | null) => ({
      month,
      currency,
      opening_mrr_cents: o,
      closing_mrr_cents: closing,
      arr_cents: closing * 12,
      net_new_mrr_cents: closing - o,
      customers_opening: customers[0],
      customers_closing: customers[1],
      new_customers: customers[2],
      churned_customers: customers[3],
      reactivated_customers: customers[4],
      quick_ratio: ratios[0],
      gross_mrr_churn_rate: ratios[1],
      net_mrr_churn_rate: ratios[2],
      grr: ratios[3],
      nrr: ratios[4],
      logo_churn_rate: ratios[5],
      arpa_cents: arpa,
      ltv_cents: ltv,
    });
    assert.deepEqual(rows, [
      // eur: cus_fx's second subscription, new on Jan 2; no opening MRR, no churn.
      row('2026-01', 'eur', 0, 900, [0, 1, 1, 0, 0], [null, null, null, null, null, null], 900, null),
      row('2026-02', 'eur', 900, 900, [1, 1, 0, 0, 0], [null, '0.0000', '0.0000', '1.0000', '1.0000', '0.0000'], 900, null),
      row('2026-03', 'eur', 900, 900, [1, 1, 0, 0, 0], [null, '0.0000', '0.0000', '1.0000', '1.0000', '0.0000'], 900, null),
      row('2026-04', 'eur', 900, 900, [1, 1, 0, 0, 0], [null, '0.0000', '0.0000', '1.0000', '1.0000', '0.0000'], 900, null),
      // January: 18 new customers worth 49,292 (the list in the test above), cus_cancel (−800) and
      // cus_back (−1000) churn. Quick ratio 49292 / 1800 = 27.38444; ARPA 47492 / 16 = 2968.25.
      row('2026-01', 'usd', 0, 47492, [0, 16, 18, 2, 0], ['27.3844', null, null, null, null, null], 2968, null),
      // February: cus_two +500, cus_cape −2000 and cus_unpaid −1500. Quick 500 / 3500 = 0.142857;
      // gross 3500 / 47492 = 0.073697; net 3000 / 47492 = 0.063168; GRR 43992 / 47492 = 0.926303;
      // NRR 44492 / 47492 = 0.936832; logo 2 / 16; ARPA 44492 / 14 = 3178; LTV 44492 × 16 / (14 × 2) = 25424.
      row('2026-02', 'usd', 47492, 44492, [16, 14, 0, 2, 0], ['0.1429', '0.0737', '0.0632', '0.9263', '0.9368', '0.1250'], 3178, 25424),
      // March: cus_two −3000 (contraction), cus_back +1200 (reactivation). Quick 1200 / 3000; gross
      // 3000 / 44492 = 0.067428; net 1800 / 44492 = 0.040457; GRR 41492 / 44492 = 0.932572; NRR
      // 42692 / 44492 = 0.959543; ARPA 42692 / 15 = 2846.13; no churn: no LTV.
      row('2026-03', 'usd', 44492, 42692, [14, 15, 0, 0, 1], ['0.4000', '0.0674', '0.0405', '0.9326', '0.9595', '0.0000'], 2846, null),
      // April: nothing moves.
      row('2026-04', 'usd', 42692, 42692, [15, 15, 0, 0, 0], [null, '0.0000', '0.0000', '1.0000', '1.0000', '0.0000'], 2846, null),
    ]);
  });

  it('has a row for every UTC day from the first movement to today, with paying customers', async () => {
    const [span] = await q<{ days: number; rows: number }>(
      "SELECT (current_date - '2026-01-01'::date + 1) AS days, count(*)::int AS rows FROM analytics.mrr_daily WHERE currency = 'usd'",
    );
    assert.equal(span?.rows, span?.days);
    const [jan6] = await q<{ mrr_cents: number; paying_customers: number }>("SELECT mrr_cents, paying_customers FROM analytics.mrr_daily WHERE currency = 'usd' AND day = '2026-01-06'");
    // Jan 6: every usd customer active on Jan 1 minus cus_cancel (churned that day); cus_trial not yet paying.
    assert.deepEqual(jan6, { mrr_cents: 2900 + 2417 + 4333 + 3042 + 3000 + 6000 + 3900 + 3000 + 1500 + 4000 + 1000 + 1500 + 2000 + 1000 + 3000 + 1000, paying_customers: 16 });
  });

  it('splits each day-end MRR into active and past due, and shows what is already set to cancel (values by hand)', async () => {
    // cus_cape is set to cancel at period end on Jan 11 (2,000) until its deletion on Feb 1;
    // cus_pastdue is past due from Feb 1 (1,000, still counted); cus_unpaid's unpaid drops its MRR.
    const rows = await q<{ day: string; currency: string; past_due: number; scheduled: number }>(
      `SELECT to_char(day, 'MM-DD') AS day, currency, past_due_mrr_cents AS past_due, scheduled_churn_mrr_cents AS scheduled FROM analytics.mrr_status_daily
       WHERE day IN ('2026-01-10', '2026-01-11', '2026-01-31', '2026-02-01', '2026-02-15', '2026-06-30') ORDER BY currency, day`,
    );
    assert.deepEqual(
      rows.map((r) => `${r.currency} ${r.day} ${r.past_due} ${r.scheduled}`),
      ['eur 01-10 0 0', 'eur 01-11 0 0', 'eur 01-31 0 0', 'eur 02-01 0 0', 'eur 02-15 0 0', 'eur 06-30 0 0', 'usd 01-10 0 0', 'usd 01-11 0 2000', 'usd 01-31 0 2000', 'usd 02-01 1000 0', 'usd 02-15 1000 0', 'usd 06-30 1000 0'],
    );
    const mismatches = await q(
      `SELECT s.day, s.currency FROM analytics.mrr_status_daily s FULL JOIN analytics.mrr_daily d USING (day, currency)
       WHERE s.mrr_cents IS DISTINCT FROM d.mrr_cents OR s.active_mrr_cents + s.past_due_mrr_cents IS DISTINCT FROM d.mrr_cents OR s.scheduled_churn_mrr_cents > s.mrr_cents`,
    );
    assert.deepEqual(mismatches, [], 'active + past due = the MRR of mrr_daily, every day; the scheduled part is part of it');
    assert.ok((await q('SELECT 1 FROM analytics.mrr_status_daily')).length > 300, 'a row for every day since January');
  });

  it('builds revenue cohorts from first new movements; a returning customer stays in its cohort', async () => {
    const rows = await q<{ cohort: string; k: number; cohort_customers: number; retained_customers: number; cohort_mrr_cents: number; retained_mrr_cents: number }>(
      "SELECT to_char(cohort_month, 'YYYY-MM') AS cohort, months_since_start AS k, cohort_customers, retained_customers, cohort_mrr_cents, retained_mrr_cents FROM analytics.cohort_retention WHERE currency = 'usd' AND months_since_start <= 2 ORDER BY 1, 2",
    );
    // January usd cohort: 18 customers (all but cus_fx's eur side); new MRR as computed above + cus_trial 4900.
    const jan = rows.filter((r) => r.cohort === '2026-01');
    assert.equal(jan.length, 3);
    const janMrr = 2900 + 2417 + 4333 + 3042 + 3000 + 6000 + 3900 + 3000 + 1500 + 4000 + 4900 + 1000 + 1500 + 2000 + 800 + 1000 + 3000 + 1000;
    assert.deepEqual(jan[0], { cohort: '2026-01', k: 0, cohort_customers: 18, retained_customers: 16, cohort_mrr_cents: janMrr, retained_mrr_cents: janMrr - 800 - 1000 });
    // End of February: also cus_cape and cus_unpaid gone; cus_two at 3500.
    assert.equal(jan[1]?.retained_customers, 14);
    assert.equal(jan[1]?.retained_mrr_cents, janMrr - 800 - 1000 - 2000 - 1500 + 500);
    // End of March: cus_back is back (1200, counted in its January cohort); cus_two down to 500.
    assert.equal(jan[2]?.retained_customers, 15);
    assert.equal(jan[2]?.retained_mrr_cents, janMrr - 800 - 1000 - 2000 - 1500 + 500 - 3000 + 1200);
  });
});
