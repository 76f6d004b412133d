/** Stripe events as the webhook appends them (same key, envelope and verbatim payload). */
import type { Outgoing } from '../../lib/kafka.ts';
import { parseStripeEvent, toStripeEventReceived } from '../../producers/stripe/to-event.ts';

export function stripeRecords(events: readonly Record<string, unknown>[], receivedAt = Date.now()): Outgoing<'stripe.events.v1'>[] {
  return events.map((e) => {
    const raw = JSON.stringify(e);
    const { key, value } = toStripeEventReceived(raw, parseStripeEvent(e), receivedAt, 'webhook');
    return { key, record: 'StripeEventReceived' as const, value };
  });
}
