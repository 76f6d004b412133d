/**
 * POST /webhooks/stripe — verify Stripe-Signature on the raw body with the stripe SDK (300 s
 * tolerance), append the event verbatim to stripe.events.v1 keyed by customer, and answer 200 only
 * after Kafka acknowledged it (503 while it cannot, so Stripe retries).
 */
import { Router } from 'express';
import Stripe from 'stripe';
import { EventlineError } from '../../lib/errors.ts';
import type { Kafka } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import { metrics } from '../../lib/metrics.ts';
import { bodyBytes, rawBody } from '../../lib/http/body.ts';
import type { RecentlySeen } from '../http/recently-seen.ts';
import { parseStripeEvent, toStripeEventReceived } from './to-event.ts';

export const STRIPE_TOLERANCE_SECONDS = 300;
/** RecentlySeen prefix of Stripe event ids already appended (by the webhook or a backfill). */
export const STRIPE_SEEN_PREFIX = 'stripe:seen';

export interface StripeWebhookDeps {
  readonly kafka: Kafka;
  readonly secret: string | null;
  readonly seen: RecentlySeen;
  readonly bodyLimitBytes: number;
  readonly log: Logger;
  readonly now?: () => number;
}

function reject(reason: string, err: EventlineError): never {
  metrics.ingestRejections.inc({ route: '/webhooks/stripe', reason });
  throw err;
}

export function stripeWebhookRoutes(deps: StripeWebhookDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  if (!deps.secret) deps.log.warn({ route: '/webhooks/stripe' }, 'STRIPE_WEBHOOK_SECRET is not set: every Stripe webhook will be rejected with 503');

  router.post('/webhooks/stripe', rawBody(deps.bodyLimitBytes), async (req, res) => {
    if (!deps.secret) reject('not_configured', new EventlineError('not_configured', 'STRIPE_WEBHOOK_SECRET is not configured on this Eventline'));
    const signature = req.get('stripe-signature');
    if (!signature) reject('signature', new EventlineError('signature_invalid', 'missing Stripe-Signature header'));
    const bytes = bodyBytes(req);
    const receivedAt = now();
    let verified: unknown;
    try {
      verified = Stripe.webhooks.constructEvent(bytes, signature, deps.secret, STRIPE_TOLERANCE_SECONDS, undefined, receivedAt);
    } catch (err) {
      if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
        if (/tolerance/i.test(err.message)) reject('stale', new EventlineError('timestamp_stale', `Stripe-Signature timestamp is older than ${STRIPE_TOLERANCE_SECONDS} s`));
        reject('signature', new EventlineError('signature_invalid', 'Stripe-Signature does not match the body'));
      }
      reject('json', new EventlineError('bad_request', 'request body is not valid JSON'));
    }
    let shape;
    try {
      shape = parseStripeEvent(verified);
    } catch (err) {
      reject('shape', err as EventlineError);
    }
    if ((await deps.seen.seen([shape.id])).size > 0) {
      res.status(200).json({ received: true, event_id: shape.id, duplicate: true });
      return;
    }
    const record = toStripeEventReceived(bytes.toString('utf8'), shape, receivedAt, 'webhook');
    const appender = await deps.kafka.appender();
    // Answered 503 but acknowledged later: remember the id, so Stripe's retry is a no-op.
    await appender.append('stripe.events.v1', [{ key: record.key, record: 'StripeEventReceived', value: record.value }], { lateAck: () => deps.seen.mark([shape.id]) });
    await deps.seen.mark([shape.id]);
    res.status(200).json({ received: true, event_id: shape.id });
  });
  return router;
}
