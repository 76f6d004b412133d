import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { event, subscription } from '../../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { runProcessor } from '../../lib/processor.ts';
import { buildVersion, projectionLag, runVersionedProjection } from '../../lib/projection.ts';
import { activeVersion, checkpointName } from '../../lib/projection-versions.ts';
import { mrrProjection } from '../../projections/mrr/main.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeStripe } from '../../test/support/fake-providers.ts';
import { providerEnv } from '../../test/support/providers.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { stripeClient } from '../../lib/stripe/client.ts';
import { priceTiersProcessor } from './price-tiers.ts';

const v = '2025-09-30.clover';
const at = Date.UTC(2026, 2, 1) / 1000;
/** Up to 5 at 10.00, up to 10 at 8.00 + 5.00 flat, above at 6.00 (as Stripe writes tiers). */
const tiers = [
  { up_to: 5, unit_amount: 1000, unit_amount_decimal: '1000', flat_amount: null, flat_amount_decimal: null },
  { up_to: 10, unit_amount: 800, unit_amount_decimal: '800', flat_amount: 500, flat_amount_decimal: '500' },
  { up_to: null, unit_amount: 600, unit_amount_decimal: '600', flat_amount: null, flat_amount_decimal: null },
];

function price(id: string, mode: 'graduated' | 'volume'): Record<string, unknown> {
  return { id, object: 'price', active: true, billing_scheme: 'tiered', currency: 'usd', livemode: false, recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed' }, tiers_mode: mode, tiers, type: 'recurring', unit_amount: null, unit_amount_decimal: null };
}

/** A subscription event whose one item is on `priceId`, tiered and sent as webhooks send it: without `tiers`. */
function tieredSubscription(eventId: string, customer: string, priceId: string, mode: 'graduated' | 'volume', quantity: number, created = at): Record<string, unknown> {
  const sub = subscription(v, { id: `sub_${customer}`, customer, status: 'active', items: [{ unitAmount: 1, quantity, priceId }], created: at }) as Record<string, unknown>;
  const item = (sub.items as { data: Record<string, Record<string, unknown>>[] }).data[0]!;
  item.price = { ...item.price, billing_scheme: 'tiered', tiers_mode: mode, unit_amount: null, unit_amount_decimal: null };
  return event(v, { id: eventId, type: 'customer.subscription.updated', created, object: sub });
}

describe('tiers of tiered prices, fetched through Stripe API and kept on stripe.events.v1', () => {
  let t: TestEnv;
  let stripe: FakeStripe;
  const running: { stop(): Promise<void> }[] = [];

  before(async () => {
    stripe = await new FakeStripe().start();
    stripe.prices.set('price_grad', price('price_grad', 'graduated'));
    stripe.prices.set('price_vol', price('price_vol', 'volume'));
    t = await createTestEnv('pricetiers', { ...providerEnv, STRIPE_API_KEY: stripe.apiKey, STRIPE_API_URL: stripe.url });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
  });
  after(async () => {
    for (const r of running) await r.stop();
    await t?.cleanup();
    await stripe?.close();
  });

  const mrr = async (): Promise<Record<string, number>> => {
    const res = await t.rt.db.query<{ customer_id: string; mrr_cents: number }>("SELECT customer_id, mrr_cents::int FROM analytics.customer_mrr WHERE currency = 'usd' ORDER BY 1");
    return Object.fromEntries(res.rows.map((r) => [r.customer_id, r.mrr_cents]));
  };

  async function caughtUp(fetches: number): Promise<void> {
    await eventually(async () => {
      const done = Number((await t.rt.db.query<{ n: string }>('SELECT count(*) AS n FROM public.stripe_price_fetches')).rows[0]?.n);
      const version = await activeVersion(t.rt.db, 'mrr');
      return done === fetches && version && (await projectionLag(t.rt, checkpointName(version), ['stripe.events.v1'])) === 0 ? true : undefined;
    }, { what: `${fetches} prices appended and the MRR projection caught up` });
  }

  it('counts graduated and volume prices at their hand-computed value, fetching each price once for every customer, ignoring a price Stripe does not know', async () => {
    const appender = await t.rt.kafka.appender();
    await appender.append(
      'stripe.events.v1',
      stripeRecords([
        tieredSubscription('evt_g12', 'cus_g12', 'price_grad', 'graduated', 12),
        tieredSubscription('evt_g7', 'cus_g7', 'price_grad', 'graduated', 7),
        tieredSubscription('evt_v7', 'cus_v7', 'price_vol', 'volume', 7),
        tieredSubscription('evt_gone', 'cus_gone', 'price_gone', 'graduated', 3),
      ]),
    );
    running.push(await runVersionedProjection(t.rt, mrrProjection, { pollMs: 200 }));
    running.push(await runProcessor(t.rt, priceTiersProcessor(t.rt, stripeClient(stripe.apiKey, stripe.url))));
    await caughtUp(3);
    // Graduated 12: 5 × 10.00 + (5 × 8.00 + 5.00) + 2 × 6.00 = 107.00; graduated 7: 50.00 + 2 × 8.00 + 5.00 = 71.00; volume 7: 7 × 8.00 + 5.00 = 61.00.
    assert.deepEqual(await mrr(), { cus_g12: 10700, cus_g7: 7100, cus_v7: 6100 });
    const priceRequests = stripe.requests.filter((r) => r.path.startsWith('/v1/prices/'));
    assert.deepEqual(priceRequests.map((r) => [r.path, r.status, r.query.toString()]).sort(), [
      ['/v1/prices/price_gone', 404, 'expand%5B0%5D=tiers'],
      ['/v1/prices/price_grad', 200, 'expand%5B0%5D=tiers'],
      ['/v1/prices/price_vol', 200, 'expand%5B0%5D=tiers'],
    ]);
  });

  it('a later event of the same customer fetches nothing again; a seat change is counted with the kept tiers', async () => {
    const before = stripe.requests.length;
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords([tieredSubscription('evt_g12b', 'cus_g12', 'price_grad', 'graduated', 5, at + 86_400)]));
    await eventually(async () => ((await mrr()).cus_g12 === 5000 ? true : undefined), { what: 'cus_g12 at 5 seats' });
    assert.equal(stripe.requests.length, before, 'no API call');
    const kept = await t.rt.kafka.recordCount('stripe.events.v1');
    assert.equal(kept, 8, 'five subscription events and three price records (one per customer and price)');
  });

  it('a replay needs no API: the tiers come from the topic', async () => {
    await stripe.close();
    const replayed = await buildVersion(t.rt, mrrProjection, { fresh: true, maxLag: 0 });
    assert.equal(replayed.status, 'active');
    assert.deepEqual(await mrr(), { cus_g12: 5000, cus_g7: 7100, cus_v7: 6100 });
    const types = await t.rt.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${replayed.schema}.price_tiers`);
    assert.equal(Number(types.rows[0]?.n), 3);
  });
});
