/**
 * POST /webhooks/sendgrid — verify the signed event webhook, then append one
 * notify.delivery-events.v1 record per event of the batch (keyed by notification id, else message
 * id) in one acknowledged append. 200 only after Kafka acknowledged all of them.
 */
import type { KeyObject } from 'node:crypto';
import { Router } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import type { Kafka } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import { metrics } from '../../lib/metrics.ts';
import { bodyBytes, parseJson, rawBody } from '../../lib/http/body.ts';
import type { SendEvidence } from '../../notify/index.ts';
import type { RecentlySeen } from '../http/recently-seen.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, checkSendgridSignature } from './verify.ts';
import { parseSendgridBatch, toDeliveryEvent } from './to-event.ts';

export interface SendgridWebhookDeps {
  readonly kafka: Kafka;
  readonly publicKey: KeyObject | null;
  readonly seen: RecentlySeen;
  readonly evidence: SendEvidence;
  readonly bodyLimitBytes: number;
  readonly toleranceSeconds: number;
  readonly log: Logger;
  readonly now?: () => number;
}

function reject(reason: string, err: EventlineError): never {
  metrics.ingestRejections.inc({ route: '/webhooks/sendgrid', reason });
  throw err;
}

export function sendgridWebhookRoutes(deps: SendgridWebhookDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  if (!deps.publicKey) deps.log.warn({ route: '/webhooks/sendgrid' }, 'SENDGRID_WEBHOOK_PUBLIC_KEY is not set: every SendGrid webhook will be rejected with 503');

  router.post('/webhooks/sendgrid', rawBody(deps.bodyLimitBytes), async (req, res) => {
    if (!deps.publicKey) reject('not_configured', new EventlineError('not_configured', 'SENDGRID_WEBHOOK_PUBLIC_KEY is not configured on this Eventline'));
    const bytes = bodyBytes(req);
    const receivedAt = now();
    const check = checkSendgridSignature(deps.publicKey, req.get(SIGNATURE_HEADER), req.get(TIMESTAMP_HEADER), bytes, receivedAt, deps.toleranceSeconds);
    if (!check.ok) reject(check.code === 'timestamp_stale' ? 'stale' : 'signature', new EventlineError(check.code, check.detail));
    let events;
    try {
      events = parseSendgridBatch(parseJson(bytes));
    } catch (err) {
      reject('shape', err as EventlineError);
    }
    const records = events.map((e) => toDeliveryEvent(e, receivedAt));
    const seen = await deps.seen.seen(records.map((r) => r.value.event_id));
    const fresh = records.filter((r) => !seen.has(r.value.event_id));
    const appender = await deps.kafka.appender();
    await appender.append(
      'notify.delivery-events.v1',
      fresh.map((r) => ({ key: r.key, record: 'DeliveryEventReceived' as const, value: r.value })),
      { lateAck: () => deps.seen.mark(fresh.map((r) => r.value.event_id)) },
    );
    deps.seen.remember(fresh.map((r) => r.value.event_id));
    await deps.evidence.recordAll(records.map((r) => ({ notificationId: r.value.notification_id, channel: 'email', providerMessageId: r.value.provider_message_id })));
    res.status(200).json({ received: records.length, appended: fresh.length, duplicates: records.length - fresh.length });
  });
  return router;
}
