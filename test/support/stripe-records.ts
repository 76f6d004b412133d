/** Stripe events as the webhook appends them (same key, envelope and verbatim payload). */
import type { Kafka, Outgoing } from '../../lib/kafka/index.ts';
import { storedOffsets } from '../../lib/projection.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { parseStripeEvent, toStripeEventReceived } from '../../producers/stripe/to-event.ts';

export function stripeRecords(events: readonly Record<string, unknown>[], receivedAt = Date.now()): Outgoing<'stripe.events.v1'>[] {
  return events.map((e) => {
    const raw = JSON.stringify(e);
    const { key, value } = toStripeEventReceived(raw, parseStripeEvent(e), receivedAt, 'webhook');
    return { key, record: 'StripeEventReceived' as const, value };
  });
}

/** Appends Stripe events to stripe.events.v1 as the webhook would, in chunks. */
export async function appendStripeEvents(kafka: Kafka, events: readonly Record<string, unknown>[]): Promise<void> {
  const appender = await kafka.appender();
  for (let i = 0; i < events.length; i += 2000) await appender.append('stripe.events.v1', stripeRecords(events.slice(i, i + 2000)));
}

/** The sum of a projection checkpoint's stored offsets: it grows with every committed batch. */
export async function checkpointProgress(rt: Runtime, checkpoint: string): Promise<bigint> {
  let sum = 0n;
  for (const v of (await storedOffsets(rt, checkpoint)).values()) sum += BigInt(v);
  return sum;
}
