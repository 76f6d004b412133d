/**
 * POST /webhooks/stripe — verify Stripe-Signature on the raw body with the stripe SDK, append the
 * event verbatim to stripe.events.v1 keyed by customer, and answer 200 only after Kafka
 * acknowledged it (503 while it cannot, so Stripe retries).
 *
 * The signed timestamp must lie within EVENTLINE_WEBHOOK_TOLERANCE_SECONDS of now on both sides:
 * the SDK refuses one that is too old; a timestamp too far in the future (a signature minted ahead
 * of time, to be replayed later) is refused here, since the SDK checks only the age.
 */
import { Router } from 'express';
import Stripe from 'stripe';
import { EventlineError } from '../../lib/errors.ts';
import type { Kafka } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import { metrics } from '../../lib/metrics.ts';
import { bodyBytes, jsonText, rawBody } from '../../lib/http/body.ts';
import type { RecentlySeen } from '../http/recently-seen.ts';
import { parseStripeEvent, toStripeEventReceived } from './to-event.ts';

/** RecentlySeen prefix of Stripe event ids already appended (by the webhook or a backfill). */
export const STRIPE_SEEN_PREFIX = 'stripe:seen';

export interface StripeWebhookDeps {
  readonly kafka: Kafka;
  readonly secret: string | null;
  readonly seen: RecentlySeen;
  readonly bodyLimitBytes: number;
  /** How far the signed timestamp may be from now, either way (EVENTLINE_WEBHOOK_TOLERANCE_SECONDS). */
  readonly toleranceSeconds: number;
  readonly log: Logger;
  readonly now?: () => number;
}

/** The timestamp the SDK verified the signature with: the last `t=` of the header, read as the SDK reads it. */
export function signedTimestamp(header: string): number | null {
  let timestamp: number | null = null;
  for (const item of header.split(',')) {
    const [k, v] = item.split('=');
    if (k === 't') timestamp = Number.parseInt(v ?? '', 10);
  }
  return timestamp !== null && Number.isFinite(timestamp) ? timestamp : null;
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
    const tolerance = deps.toleranceSeconds;
    let verified: unknown;
    try {
      verified = Stripe.webhooks.constructEvent(bytes, signature, deps.secret, tolerance, undefined, receivedAt);
    } catch (err) {
      if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
        if (/tolerance/i.test(err.message)) reject('stale', new EventlineError('timestamp_stale', `Stripe-Signature timestamp is older than ${tolerance} s`));
        reject('signature', new EventlineError('signature_invalid', 'Stripe-Signature does not match the body'));
      }
      reject('json', new EventlineError('bad_request', 'request body is not valid JSON'));
    }
    const signedAt = signedTimestamp(signature);
    if (signedAt === null || signedAt > Math.floor(receivedAt / 1000) + tolerance) {
      reject('stale', new EventlineError('timestamp_stale', `Stripe-Signature timestamp is more than ${tolerance} s in the future`));
    }
    let json: string;
    try {
      json = jsonText(bytes);
    } catch (err) {
      reject('json', err as EventlineError);
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
    const record = toStripeEventReceived(json, shape, receivedAt, 'webhook');
    const appender = await deps.kafka.appender();
    // Answered 503 but acknowledged later: remember the id, so Stripe's retry is a no-op.
    await appender.append('stripe.events.v1', [{ key: record.key, record: 'StripeEventReceived', value: record.value }], { lateAck: () => deps.seen.mark([shape.id]) });
    deps.seen.remember([shape.id]);
    res.status(200).json({ received: true, event_id: shape.id });
  });
  return router;
}
