import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { StripeEventReceived } from '../../lib/topics.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { coupon, discount, event, invoice, subscription, type ApiVersion, type Interval } from '../../cli/demo/stripe-objects.ts';
import { mrrProjection } from './main.ts';
import { applyStripeEvents, deriveAll, loadStripeEvents } from './store.ts';

const base = Date.UTC(2026, 2, 1) / 1000;
const statuses = ['active', 'active', 'active', 'past_due', 'trialing', 'canceled', 'unpaid', 'paused', 'incomplete'];
const versions: ApiVersion[] = ['2024-06-20', '2024-10-28.acacia', '2025-03-31.basil', '2025-09-30.clover'];

const item = fc.record({
  unitAmount: fc.integer({ min: 0, max: 50_000 }),
  quantity: fc.integer({ min: 1, max: 5 }),
  interval: fc.constantFrom<Interval>('day', 'week', 'month', 'year'),
  intervalCount: fc.integer({ min: 1, max: 3 }),
});

const subscriptionVersion = fc.record({
  day: fc.integer({ min: 0, max: 60 }), // few distinct days: ties at the same instant are common
  status: fc.constantFrom(...statuses),
  items: fc.array(item, { minLength: 1, maxLength: 2 }),
  version: fc.constantFrom(...versions),
  currency: fc.constantFrom('usd', 'usd', 'eur'),
  discounted: fc.boolean(),
  cancelAtPeriodEnd: fc.boolean(),
});

const story = fc.record({
  subscriptions: fc.array(fc.array(subscriptionVersion, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
  couponPercent: fc.integer({ min: 5, max: 90 }),
  couponDay: fc.integer({ min: -10, max: 60 }),
  discountDeletedDay: fc.option(fc.integer({ min: 0, max: 60 })),
  invoices: fc.array(
    fc.record({
      invoice: fc.nat(1),
      day: fc.integer({ min: 0, max: 60 }),
      status: fc.constantFrom('open', 'open', 'paid', 'void', 'uncollectible'),
      attempt: fc.integer({ min: 1, max: 4 }),
      decline: fc.option(fc.constantFrom('insufficient_funds', 'do_not_honor', 'expired_card')),
      version: fc.constantFrom(...versions),
    }),
    { maxLength: 5 },
  ),
});

type Story = typeof story extends fc.Arbitrary<infer S> ? S : never;

/** Stripe events for a few customers' random histories. */
function eventsFor(stories: readonly Story[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let n = 0;
  stories.forEach((s, c) => {
    const customer = `cus_p${c}`;
    const couponId = `CPN${c}`;
    const discountId = `di_p${c}`;
    s.subscriptions.forEach((history, k) => {
      for (const h of history) {
        const discountIds = h.discounted && h.version >= '2025-03-31' ? [discountId] : [];
        out.push(
          event(h.version, {
            id: `evt_p${String(n++).padStart(5, '0')}`,
            type: 'customer.subscription.updated',
            created: base + h.day * 86_400,
            object: subscription(h.version, {
              id: `sub_p${c}_${k}`,
              customer,
              status: h.status,
              created: base,
              currency: h.currency,
              // The first subscription also bills the customer's metered price (usage, never MRR).
              items: [...h.items, ...(k === 0 ? [{ unitAmount: 3, priceId: `price_p${c}_meter`, usageType: 'metered' as const }] : [])].map((i) => ({ ...i, currency: h.currency })),
              cancelAtPeriodEnd: h.cancelAtPeriodEnd,
              coupon: h.discounted && h.version < '2025-03-31' ? { id: couponId, percentOff: s.couponPercent } : null,
              discountIds,
            }),
          }),
        );
      }
    });
    const d = { id: discountId, customer, subscription: `sub_p${c}_0`, coupon: { id: couponId, percentOff: s.couponPercent }, start: base };
    out.push(event('2025-09-30.clover', { id: `evt_p${String(n++).padStart(5, '0')}`, type: 'customer.discount.created', created: base, object: discount('2025-09-30.clover', d) }));
    if (s.discountDeletedDay !== null) {
      out.push(event('2025-09-30.clover', { id: `evt_p${String(n++).padStart(5, '0')}`, type: 'customer.discount.deleted', created: base + s.discountDeletedDay * 86_400, object: discount('2025-09-30.clover', d) }));
    }
    for (const i of s.invoices) {
      const id = `in_p${c}_${i.invoice}`;
      // A usage line whose amount differs between versions (only the latest counts), and a licensed one.
      const lines = [
        { id: `il_p${c}_${i.invoice}_m`, amount: 100 + i.day, priceId: `price_p${c}_meter`, usageType: 'metered' as const, periodStart: base + i.invoice * 31 * 86_400 },
        { id: `il_p${c}_${i.invoice}_l`, amount: 2500, priceId: `price_p${c}_0_0`, usageType: 'licensed' as const, periodStart: base },
      ];
      const object = invoice(i.version, { id, customer, subscription: `sub_p${c}_0`, amountDue: 2500, status: i.status, attemptCount: i.attempt, created: base, lines, ...(i.decline ? { declineCode: i.decline } : {}) });
      out.push(event(i.version, { id: `evt_p${String(n++).padStart(5, '0')}`, type: i.status === 'paid' ? 'invoice.paid' : 'invoice.updated', created: base + i.day * 86_400, object }));
    }
    out.push(event('2025-09-30.clover', { id: `evt_p${String(n++).padStart(5, '0')}`, type: 'coupon.created', created: base + s.couponDay * 86_400, object: coupon({ id: couponId, percentOff: s.couponPercent }) }));
  });
  return out;
}


/**
 * The daily, monthly and cohort views as first defined, straight from every movement (revision 1):
 * an independent calculation the running sums behind today's views must match.
 */
const referenceViews: Record<'mrr_daily' | 'mrr_status_daily' | 'mrr_monthly' | 'cohort_retention', string> = {
  mrr_daily: `WITH bounds AS (
  SELECT currency, min((occurred_at AT TIME ZONE 'UTC')::date) AS first_day FROM {{schema}}.movements GROUP BY currency
), days AS (
  SELECT b.currency, d::date AS day
  FROM bounds b, generate_series(b.first_day, (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d
), per_day AS (
  SELECT currency, (occurred_at AT TIME ZONE 'UTC')::date AS day,
         sum(delta_cents) AS delta_cents,
         sum(CASE WHEN mrr_before_cents = 0 AND mrr_after_cents > 0 THEN 1 WHEN mrr_before_cents > 0 AND mrr_after_cents = 0 THEN -1 ELSE 0 END) AS delta_customers
  FROM {{schema}}.movements GROUP BY 1, 2
)
SELECT d.day, d.currency,
       (sum(COALESCE(p.delta_cents, 0)) OVER w)::bigint AS mrr_cents,
       (sum(COALESCE(p.delta_customers, 0)) OVER w)::bigint AS paying_customers
FROM days d LEFT JOIN per_day p ON p.currency = d.currency AND p.day = d.day
WINDOW w AS (PARTITION BY d.currency ORDER BY d.day)`,
  mrr_status_daily: `WITH bounds AS (
  SELECT currency, min((occurred_at AT TIME ZONE 'UTC')::date) AS first_day FROM {{schema}}.movements GROUP BY currency
), days AS (
  SELECT b.currency, d::date AS day
  FROM bounds b, generate_series(b.first_day, (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d
), changes AS (
  SELECT currency, (occurred_at AT TIME ZONE 'UTC')::date AS day, delta_cents AS mrr, 0 AS past_due, 0 AS scheduled FROM {{schema}}.movements
  UNION ALL
  SELECT currency, (occurred_at AT TIME ZONE 'UTC')::date, 0, past_due_after_cents - past_due_before_cents, scheduled_after_cents - scheduled_before_cents FROM {{schema}}.status_changes
), per_day AS (
  SELECT currency, day, sum(mrr) AS mrr, sum(past_due) AS past_due, sum(scheduled) AS scheduled FROM changes GROUP BY 1, 2
)
SELECT d.day, d.currency,
       (sum(COALESCE(p.mrr, 0)) OVER w)::bigint AS mrr_cents,
       (sum(COALESCE(p.mrr, 0) - COALESCE(p.past_due, 0)) OVER w)::bigint AS active_mrr_cents,
       (sum(COALESCE(p.past_due, 0)) OVER w)::bigint AS past_due_mrr_cents,
       (sum(COALESCE(p.scheduled, 0)) OVER w)::bigint AS scheduled_churn_mrr_cents
FROM days d LEFT JOIN per_day p ON p.currency = d.currency AND p.day = d.day
WINDOW w AS (PARTITION BY d.currency ORDER BY d.day)`,
  mrr_monthly: `WITH bounds AS (
  SELECT currency, min(date_trunc('month', occurred_at AT TIME ZONE 'UTC'))::date AS first_month FROM {{schema}}.movements GROUP BY currency
), months AS (
  SELECT b.currency, m::date AS month
  FROM bounds b, generate_series(b.first_month, date_trunc('month', now() AT TIME ZONE 'UTC')::date, interval '1 month') AS m
), per_month AS (
  SELECT currency, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS month,
         sum(delta_cents) FILTER (WHERE movement = 'new') AS new_cents,
         sum(delta_cents) FILTER (WHERE movement = 'expansion') AS expansion_cents,
         sum(delta_cents) FILTER (WHERE movement = 'contraction') AS contraction_cents,
         sum(delta_cents) FILTER (WHERE movement = 'churn') AS churn_cents,
         sum(delta_cents) FILTER (WHERE movement = 'reactivation') AS reactivation_cents,
         sum(delta_cents) AS net_cents
  FROM {{schema}}.movements GROUP BY 1, 2
)
SELECT m.month, m.currency,
       (COALESCE(sum(p.net_cents) OVER w, 0) - COALESCE(p.net_cents, 0))::bigint AS opening_mrr_cents,
       COALESCE(p.new_cents, 0)::bigint AS new_cents,
       COALESCE(p.expansion_cents, 0)::bigint AS expansion_cents,
       COALESCE(p.contraction_cents, 0)::bigint AS contraction_cents,
       COALESCE(p.churn_cents, 0)::bigint AS churn_cents,
       COALESCE(p.reactivation_cents, 0)::bigint AS reactivation_cents,
       COALESCE(sum(p.net_cents) OVER w, 0)::bigint AS closing_mrr_cents
FROM months m LEFT JOIN per_month p ON p.currency = m.currency AND p.month = m.month
WINDOW w AS (PARTITION BY m.currency ORDER BY m.month)`,
  cohort_retention: `WITH members AS (
  SELECT customer_id, currency, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS cohort_month, delta_cents AS new_cents
  FROM {{schema}}.movements WHERE movement = 'new'
), grid AS (
  SELECT m.*, k.k AS months_since_start
  FROM members m,
       generate_series(0, ((extract(year FROM now() AT TIME ZONE 'UTC') * 12 + extract(month FROM now() AT TIME ZONE 'UTC'))
                          - (extract(year FROM m.cohort_month) * 12 + extract(month FROM m.cohort_month)))::int) AS k(k)
), state AS (
  SELECT g.*,
         (SELECT mv.mrr_after_cents FROM {{schema}}.movements mv
          WHERE mv.customer_id = g.customer_id AND mv.currency = g.currency
            AND mv.occurred_at < ((g.cohort_month + (g.months_since_start + 1) * interval '1 month')::timestamp AT TIME ZONE 'UTC')
          ORDER BY mv.occurred_at DESC, mv.seq DESC LIMIT 1) AS mrr_then
  FROM grid g
)
SELECT cohort_month, currency, months_since_start,
       count(*)::bigint AS cohort_customers,
       (count(*) FILTER (WHERE mrr_then > 0))::bigint AS retained_customers,
       sum(new_cents)::bigint AS cohort_mrr_cents,
       COALESCE(sum(mrr_then) FILTER (WHERE mrr_then > 0), 0)::bigint AS retained_mrr_cents
FROM state
GROUP BY cohort_month, currency, months_since_start`,
};

describe('MRR projection: the tables depend only on the set of events, applied batch by batch or loaded in bulk', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('mrrorder');
  });
  after(() => t?.cleanup());

  async function freshSchema(name: string, options: { indexes: boolean } = { indexes: true }): Promise<string> {
    await t.rt.db.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await t.rt.db.query(`CREATE SCHEMA ${name}`);
    await t.rt.db.query(mrrProjection.tables(name));
    if (options.indexes) await t.rt.db.query(mrrProjection.indexes?.(name) ?? '');
    return name;
  }

  async function snapshot(schema: string): Promise<unknown[]> {
    const movements = await t.rt.db.query(`SELECT customer_id, seq, currency, occurred_at, movement, delta_cents, mrr_before_cents, mrr_after_cents, stripe_event_id FROM ${schema}.movements ORDER BY customer_id, seq`);
    const current = await t.rt.db.query(`SELECT * FROM ${schema}.customer_mrr ORDER BY customer_id, currency`);
    const statusRows = await t.rt.db.query(`SELECT * FROM ${schema}.status_changes ORDER BY customer_id, currency, seq`);
    const lineage = await t.rt.db.query(`SELECT * FROM ${schema}.lineage ORDER BY customer_id, seq, subscription_id`);
    const subscriptions = await t.rt.db.query(`SELECT * FROM ${schema}.subscriptions ORDER BY subscription_id`);
    const invoices = await t.rt.db.query(`SELECT * FROM ${schema}.invoices ORDER BY invoice_id`);
    // Usage revenue: the deployed view over this version's invoices, lines and metered prices.
    await t.rt.db.query(`DROP SCHEMA IF EXISTS ${schema}_views CASCADE; CREATE SCHEMA ${schema}_views`);
    await t.rt.db.query((mrrProjection.views(schema).split(';').find((stmt) => stmt.includes('CREATE VIEW analytics.usage_revenue_monthly AS')) ?? '').replace('analytics.usage_revenue_monthly', `${schema}_views.usage_revenue_monthly`));
    const usage = await t.rt.db.query(`SELECT * FROM ${schema}_views.usage_revenue_monthly ORDER BY month, currency`);
    const sums = await t.rt.db.query(
      `SELECT c.customer_id, c.currency FROM ${schema}.customer_mrr c
       LEFT JOIN (SELECT customer_id, currency, sum(mrr_cents) AS mrr FROM ${schema}.subscriptions GROUP BY 1, 2) s USING (customer_id, currency)
       WHERE COALESCE(s.mrr, 0) <> c.mrr_cents`,
    );
    assert.deepEqual(sums.rows, [], `each customer's MRR in ${schema} is the sum of its subscriptions'`);
    const unbalanced = await t.rt.db.query(
      `SELECT m.customer_id, m.seq FROM ${schema}.movements m
       LEFT JOIN (SELECT customer_id, seq, sum(subscription_after_cents - subscription_before_cents) AS parts FROM ${schema}.lineage GROUP BY 1, 2) l USING (customer_id, seq)
       WHERE l.parts IS DISTINCT FROM m.delta_cents`,
    );
    assert.deepEqual(unbalanced.rows, [], `every movement of ${schema} is the sum of its subscriptions' parts`);
    const views = [];
    for (const [view, order] of [['mrr_daily', 'currency, day'], ['mrr_status_daily', 'currency, day'], ['mrr_monthly', 'currency, month'], ['cohort_retention', 'cohort_month, currency, months_since_start']] as const) {
      // The view as deployed (over the running sums), made in a schema of its own for this version.
      await t.rt.db.query(`DROP SCHEMA IF EXISTS ${schema}_views CASCADE; CREATE SCHEMA ${schema}_views`);
      const ddl = (mrrProjection.views(schema).split(';').find((stmt) => stmt.includes(`CREATE VIEW analytics.${view} AS`)) ?? '').replace(`analytics.${view}`, `${schema}_views.${view}`);
      await t.rt.db.query(ddl);
      const deployed = await t.rt.db.query(`SELECT * FROM ${schema}_views.${view} ORDER BY ${order}`);
      const reference = await t.rt.db.query(`SELECT * FROM (${referenceViews[view].replaceAll('{{schema}}', schema)}) r ORDER BY ${order}`);
      assert.deepEqual(deployed.rows, reference.rows, `${view} of ${schema} equals its definition over the movements`);
      views.push(deployed.rows);
    }
    await t.rt.db.query(`DROP SCHEMA IF EXISTS ${schema}_views CASCADE; CREATE SCHEMA ${schema}_views`);
    const saasDdl = (mrrProjection.views(schema).split(';').find((stmt) => stmt.includes('CREATE VIEW analytics.saas_metrics_monthly AS')) ?? '').replace('analytics.saas_metrics_monthly', `${schema}_views.saas_metrics_monthly`);
    await t.rt.db.query(saasDdl);
    const saas = await t.rt.db.query(
      `SELECT month::text, currency, opening_mrr_cents, closing_mrr_cents, arr_cents, net_new_mrr_cents, customers_opening, customers_closing, new_customers, churned_customers,
              reactivated_customers, quick_ratio::text, gross_mrr_churn_rate::text, net_mrr_churn_rate::text, grr::text, nrr::text, logo_churn_rate::text, arpa_cents, ltv_cents
       FROM ${schema}_views.saas_metrics_monthly ORDER BY currency, month`,
    );
    assert.deepEqual(saas.rows, await saasMetricsByHand(schema), `saas_metrics_monthly of ${schema} equals the §6 formulas over the reference views`);
    views.push(saas.rows);
    return [movements.rows, current.rows, statusRows.rows, lineage.rows, subscriptions.rows, invoices.rows, usage.rows, views];
  }

  /**
   * ARPA, LTV and the ratios of §6 computed here, in exact integer arithmetic, from the reference
   * monthly bridge, the paying customers at each month's last day (reference mrr_daily) and the
   * movements counted by kind.
   */
  async function saasMetricsByHand(schema: string): Promise<Record<string, unknown>[]> {
    const ref = (view: keyof typeof referenceViews) => referenceViews[view].replaceAll('{{schema}}', schema);
    const bridge = await t.rt.db.query<{ month: string; currency: string; o: string; n: string; e: string; c: string; x: string; r: string; closing: string }>(
      `SELECT month::text, currency, opening_mrr_cents AS o, new_cents AS n, expansion_cents AS e, contraction_cents AS c, churn_cents AS x, reactivation_cents AS r, closing_mrr_cents AS closing
       FROM (${ref('mrr_monthly')}) m ORDER BY currency, month`,
    );
    const paying = new Map<string, bigint>();
    for (const row of (await t.rt.db.query<{ currency: string; month: string; paying: string }>(
      `SELECT DISTINCT ON (currency, date_trunc('month', day)) currency, date_trunc('month', day)::date::text AS month, paying_customers AS paying
       FROM (${ref('mrr_daily')}) d ORDER BY currency, date_trunc('month', day), day DESC`,
    )).rows) paying.set(`${row.currency}|${row.month}`, BigInt(row.paying));
    const counts = new Map<string, Record<string, bigint>>();
    for (const row of (await t.rt.db.query<{ currency: string; month: string; movement: string; n: string }>(
      `SELECT currency, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date::text AS month, movement, count(*) AS n FROM ${schema}.movements GROUP BY 1, 2, 3`,
    )).rows) counts.set(`${row.currency}|${row.month}`, { ...counts.get(`${row.currency}|${row.month}`), [row.movement]: BigInt(row.n) });
    /** a / b rounded half away from zero to `places` decimals, as Postgres prints numeric; null when b = 0. */
    const div = (a: bigint, b: bigint, places: number): string | null => {
      if (b === 0n) return null;
      const scale = 10n ** BigInt(places);
      const negative = a < 0n !== b < 0n;
      const abs = (v: bigint) => (v < 0n ? -v : v);
      const q = (2n * abs(a) * scale + abs(b)) / (2n * abs(b));
      const digits = q.toString().padStart(places + 1, '0');
      const text = places === 0 ? digits : `${digits.slice(0, -places)}.${digits.slice(-places)}`;
      return negative && q !== 0n ? `-${text}` : text;
    };
    const cents = (a: bigint, b: bigint): number | null => (b === 0n ? null : Number(div(a, b, 0)));
    let previous: { currency: string; closing: bigint } | null = null;
    return bridge.rows.map((m) => {
      const [o, n, e, c, x, r, closing] = [m.o, m.n, m.e, m.c, m.x, m.r, m.closing].map((v) => BigInt(v)) as [bigint, bigint, bigint, bigint, bigint, bigint, bigint];
      const kinds = counts.get(`${m.currency}|${m.month}`) ?? {};
      const customersClosing = paying.get(`${m.currency}|${m.month}`) ?? 0n;
      const customersOpening = previous?.currency === m.currency ? previous.closing : 0n;
      previous = { currency: m.currency, closing: customersClosing };
      const lost = -(c + x);
      const churned = kinds.churn ?? 0n;
      return {
        month: m.month,
        currency: m.currency,
        opening_mrr_cents: Number(o),
        closing_mrr_cents: Number(closing),
        arr_cents: Number(closing * 12n),
        net_new_mrr_cents: Number(n + e + r + c + x),
        customers_opening: Number(customersOpening),
        customers_closing: Number(customersClosing),
        new_customers: Number(kinds.new ?? 0n),
        churned_customers: Number(churned),
        reactivated_customers: Number(kinds.reactivation ?? 0n),
        quick_ratio: div(n + e + r, lost, 4),
        gross_mrr_churn_rate: div(lost, o, 4),
        net_mrr_churn_rate: div(lost - e - r, o, 4),
        grr: div(o - lost, o, 4),
        nrr: div(o - lost + e + r, o, 4),
        logo_churn_rate: div(churned, customersOpening, 4),
        arpa_cents: cents(closing, customersClosing),
        ltv_cents: customersOpening === 0n ? null : cents(closing * customersOpening, customersClosing * churned),
      };
    });
  }

  it('given random histories delivered in random orders, batches and duplicates by two concurrent writers, then the tables equal one in-order pass', async () => {
    let runs = 0;
    let withUsage = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(story, { minLength: 1, maxLength: 4 }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 3 }),
        async (stories, randoms, batchSize, bulkPercent, chunk) => {
          runs++;
          const records = stripeRecords(eventsFor(stories)).map((r) => r.value as StripeEventReceived);
          const inOrder = [...records].sort((a, b) => a.occurred_at - b.occurred_at || (a.event_id < b.event_id ? -1 : 1));
          const a = await freshSchema('prop_a');
          await t.rt.db.transaction((client) => applyStripeEvents(client, a, inOrder));

          const rand = randoms[Symbol.iterator]();
          const next = () => rand.next().value as number;
          const shuffled = [...records, ...records.filter(() => next() < 0.3)].sort(() => next() - 0.5);
          const b = await freshSchema('prop_b');
          const batches: StripeEventReceived[][] = [];
          for (let i = 0; i < shuffled.length; i += batchSize) batches.push(shuffled.slice(i, i + batchSize));
          // Two writers, like two partitions consumed at once.
          let cursor = 0;
          const worker = async () => {
            while (cursor < batches.length) {
              const batch = batches[cursor++] as StripeEventReceived[];
              await t.rt.db.transaction((client) => applyStripeEvents(client, b, batch));
            }
          };
          await Promise.all([worker(), worker()]);
          const reference = await snapshot(a);
          if ((reference[6] as unknown[]).length > 0) withUsage++;
          assert.deepEqual(await snapshot(b), reference);

          // A bulk rebuild: the first `loaded` batches only stored (two writers), every timeline
          // derived once, then the rest applied batch by batch, as a rebuild that caught up does.
          const c = await freshSchema('prop_c', { indexes: false });
          const loaded = Math.round((batches.length * bulkPercent) / 100);
          cursor = 0;
          const loader = async () => {
            while (cursor < loaded) {
              const batch = batches[cursor++] as StripeEventReceived[];
              await t.rt.db.transaction((client) => loadStripeEvents(client, c, batch));
            }
          };
          await Promise.all([loader(), loader()]);
          await t.rt.db.transaction(async (client) => {
            await deriveAll(client, c, t.rt.log, chunk);
            await client.query(mrrProjection.indexes?.(c) ?? '');
          });
          for (const batch of batches.slice(loaded)) await t.rt.db.transaction((client) => applyStripeEvents(client, c, batch));
          assert.deepEqual(await snapshot(c), await snapshot(a), `bulk-loaded ${loaded} of ${batches.length} batches`);
        },
      ),
      { numRuns: 40, seed: Number(process.env.PROPERTY_SEED ?? Date.now() % 100000) },
    );
    assert.equal(runs >= 40, true);
    assert.ok(withUsage >= 10, `usage revenue in ${withUsage} of ${runs} runs: the property covers it`);
  });
});
