/**
 * Tiers for tiered prices. Stripe leaves a price's `tiers` out of every webhook (they come only
 * when the price is expanded with `expand[]=tiers`), so a subscription on a graduated or volume
 * price would count 0. This consumer of stripe.events.v1 (group processor.stripe-prices) sees each
 * subscription item whose price is tiered and came without its tiers, fetches the price once
 * through the `stripe` SDK, and appends it to stripe.events.v1 as an eventline.price_fetched record
 * (source `api`) keyed by the customer, once per customer and price. The MRR projection reads the
 * tiers from that record: a replay needs no API, and a price fetched after its subscription's
 * events recomputes that customer like any late event.
 *
 * Stripe prices are immutable (their amounts and tiers cannot change), so a price is fetched once
 * for all customers (public.stripe_prices) and the record's id is deterministic: a copy appended
 * twice after a crash is the same fact. A price Stripe does not know (404) is remembered as
 * missing and logged; any other API failure fails the batch, which is retried.
 */
import Stripe from 'stripe';
import { EventlineError } from '../../lib/errors.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { PRICE_FETCHED_TYPE, readStripeEvent, readSubscription } from '../../lib/stripe/index.ts';

/** The (customer, price) pairs of a subscription event whose tiered prices came without tiers. */
export function pricesWithoutTiers(type: string, payload: string): { customerId: string; priceIds: string[] } | null {
  // Most Stripe events are not subscriptions on tiered prices: skip them without parsing.
  if (!type.startsWith('customer.subscription.') || !payload.includes('"tiered"')) return null;
  const sub = readSubscription(readStripeEvent(payload).object);
  if (!sub?.customerId) return null;
  const priceIds = [...new Set(sub.items.filter((i) => i.billingScheme === 'tiered' && (i.tiers === null || i.tiers.length === 0) && i.priceId !== null).map((i) => i.priceId as string))];
  return priceIds.length > 0 ? { customerId: sub.customerId, priceIds } : null;
}

export function priceFetchedEventId(priceId: string, customerId: string): string {
  return `evtl_price_${priceId}_${customerId}`;
}

export function priceTiersProcessor(rt: Runtime, stripe: Stripe): ProcessorDefinition<'stripe.events.v1'> {
  /** The price with its tiers: from public.stripe_prices, else Stripe's API (then stored); null when Stripe has no such price. */
  const price = async (priceId: string): Promise<Record<string, unknown> | null> => {
    const known = await rt.db.query<{ price: Record<string, unknown> | null }>('SELECT price FROM public.stripe_prices WHERE price_id = $1', [priceId]);
    if (known.rows[0]) return known.rows[0].price;
    let fetched: Record<string, unknown> | null;
    try {
      fetched = (await stripe.prices.retrieve(priceId, { expand: ['tiers'] })) as unknown as Record<string, unknown>;
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError && err.statusCode === 404) fetched = null;
      else throw new EventlineError('provider_failed', `fetching price ${priceId} from Stripe failed: ${(err as Error).message}`, { cause: err });
    }
    await rt.db.query('INSERT INTO public.stripe_prices (price_id, price) VALUES ($1, $2) ON CONFLICT (price_id) DO NOTHING', [priceId, fetched === null ? null : JSON.stringify(fetched)]);
    return fetched;
  };

  return {
    name: 'stripe-prices',
    topics: ['stripe.events.v1'],
    async handle(record, log) {
      const wanted = pricesWithoutTiers(record.value.type, record.value.payload);
      if (!wanted) return;
      const { customerId } = wanted;
      const done = await rt.db.query<{ price_id: string }>('SELECT price_id FROM public.stripe_price_fetches WHERE customer_id = $1 AND price_id = ANY($2::text[])', [customerId, wanted.priceIds]);
      const have = new Set(done.rows.map((r) => r.price_id));
      for (const priceId of wanted.priceIds.filter((p) => !have.has(p))) {
        const object = await price(priceId);
        if (object === null) {
          log.warn({ priceId, customerId }, 'Stripe has no such price: its items count 0 in MRR');
          continue;
        }
        const eventId = priceFetchedEventId(priceId, customerId);
        const now = Date.now();
        const payload = JSON.stringify({ id: eventId, object: 'event', type: PRICE_FETCHED_TYPE, created: Math.floor(now / 1000), data: { object } });
        const appender = await rt.kafka.appender();
        await appender.append('stripe.events.v1', [
          {
            key: customerId,
            record: 'StripeEventReceived',
            value: {
              event_id: eventId,
              occurred_at: now,
              received_at: now,
              type: PRICE_FETCHED_TYPE,
              api_version: null,
              account: null,
              livemode: object.livemode === true,
              customer_id: customerId,
              object_id: priceId,
              object_type: 'price',
              source: 'api',
              payload,
            },
          },
        ]);
        await rt.db.query('INSERT INTO public.stripe_price_fetches (customer_id, price_id, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [customerId, priceId, eventId]);
        log.info({ priceId, customerId }, 'appended the tiers of a tiered price');
      }
    },
  };
}
