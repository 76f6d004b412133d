import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { event, invoice, subscription, type ApiVersion, type InvoiceLineSpec } from '../../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { activeVersionCaughtUp } from '../../test/support/projections.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { mrrProjection } from './main.ts';

const DAY = 86_400;
const jan1 = Date.UTC(2026, 0, 1) / 1000;
const feb1 = Date.UTC(2026, 1, 1) / 1000;
const mar1 = Date.UTC(2026, 2, 1) / 1000;
const basil: ApiVersion = '2025-03-31.basil';
const clover: ApiVersion = '2025-09-30.clover';
const legacy: ApiVersion = '2024-06-20';

describe('usage revenue from invoices (analytics.usage_revenue_monthly), out of MRR', () => {
  let t: TestEnv;
  let running: { stop(): Promise<void> };
  let n = 0;
  const events: Record<string, unknown>[] = [];
  const inv = (v: ApiVersion, id: string, at: number, status: string, lines: InvoiceLineSpec[]) =>
    event(v, { id: `evt_${String(n++).padStart(3, '0')}`, type: status === 'paid' ? 'invoice.paid' : status === 'void' ? 'invoice.voided' : 'invoice.finalized', created: at, object: invoice(v, { id, customer: 'cus_usage', subscription: 'sub_usage', amountDue: 0, status, created: at, lines }) });
  const base = { id: 'il_base', amount: 2000, priceId: 'price_base', subscriptionItem: 'si_usage_0' };
  const calls = (id: string, amount: number, periodStart: number) => ({ id, amount, priceId: 'price_api_calls', periodStart, subscriptionItem: 'si_usage_1' });

  // A base fee (licensed, 20.00 a month) and API calls billed as metered usage.
  events.push(
    event(basil, {
      id: 'evt_sub',
      type: 'customer.subscription.created',
      created: jan1,
      object: subscription(basil, { id: 'sub_usage', customer: 'cus_usage', status: 'active', created: jan1, items: [{ unitAmount: 2000, priceId: 'price_base' }, { unitAmount: 5, priceId: 'price_api_calls', usageType: 'metered' }] }),
    }),
  );
  // January's usage on a basil invoice, paid: its lines name the price only; the subscription says price_api_calls is metered.
  events.push(inv(basil, 'in_jan', feb1, 'open', [{ ...base, periodStart: feb1 }, calls('il_jan', 1234, jan1)]));
  events.push(inv(basil, 'in_jan', feb1 + DAY, 'paid', [{ ...base, periodStart: feb1 }, calls('il_jan', 1234, jan1)]));
  // February's usage on a 2024-06-20 invoice still open: each line carries its price and usage type (this one metered, a price no subscription event shows).
  events.push(inv(legacy, 'in_feb', mar1, 'open', [{ ...base, periodStart: mar1, usageType: 'licensed' }, { id: 'il_feb', amount: 800, priceId: 'price_legacy_meter', usageType: 'metered', periodStart: feb1 }]));
  // A February usage invoice voided: not revenue.
  events.push(inv(clover, 'in_void', mar1, 'open', [calls('il_void', 500, feb1)]));
  events.push(inv(clover, 'in_void', mar1 + DAY, 'void', [calls('il_void', 500, feb1)]));
  // March's usage, corrected between the first version (300) and the paid one (350): the latest version counts.
  events.push(inv(clover, 'in_mar', mar1 + 31 * DAY, 'open', [calls('il_mar', 300, mar1)]));
  events.push(inv(clover, 'in_mar', mar1 + 32 * DAY, 'paid', [calls('il_mar', 350, mar1)]));

  before(async () => {
    t = await createTestEnv('usagerev');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    // Reversed (the invoices before the subscription that says which price is metered) and again in part.
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords([...events].reverse()));
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords(events.slice(2, 6)));
    running = await runVersionedProjection(t.rt, mrrProjection, { pollMs: 200 });
    await activeVersionCaughtUp(t.rt, 'mrr', ['stripe.events.v1']);
  });
  after(async () => {
    await running?.stop();
    await t?.cleanup();
  });

  it('sums the usage lines of open and paid invoices as they stand, by the month of the usage period (hand-computed), and keeps them out of MRR', async () => {
    const rows = await t.rt.db.query(
      `SELECT to_char(month, 'YYYY-MM') AS month, currency, usage_paid_cents::int AS paid, usage_invoiced_cents::int AS invoiced, invoices::int, customers::int
       FROM analytics.usage_revenue_monthly ORDER BY month, currency`,
    );
    assert.deepEqual(rows.rows, [
      { month: '2026-01', currency: 'usd', paid: 1234, invoiced: 1234, invoices: 1, customers: 1 },
      { month: '2026-02', currency: 'usd', paid: 0, invoiced: 800, invoices: 1, customers: 1 },
      { month: '2026-03', currency: 'usd', paid: 350, invoiced: 350, invoices: 1, customers: 1 },
    ]);
    const mrr = await t.rt.db.query<{ mrr_cents: number }>("SELECT mrr_cents FROM analytics.customer_mrr WHERE customer_id = 'cus_usage'");
    assert.deepEqual(mrr.rows, [{ mrr_cents: 2000 }], 'the base fee only: metered usage is not recurring revenue');
  });
});
