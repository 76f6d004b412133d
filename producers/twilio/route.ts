/**
 * POST /webhooks/twilio/status — validate X-Twilio-Signature with the twilio SDK against the public
 * URL Twilio called (EVENTLINE_PUBLIC_URL + path and query), then append the status callback to
 * notify.delivery-events.v1, keyed by notification id (query parameter, else the SID index).
 */
import { Router } from 'express';
import type { EventlineError } from '../../lib/errors.ts';
import type { Kafka } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import { metrics } from '../../lib/metrics.ts';
import { rawBody } from '../../lib/http/body.ts';
import type { SendEvidence, TwilioMessageIndex } from '../../notify/index.ts';
import type { RecentlySeen } from '../http/recently-seen.ts';
import { verifiedTwilioForm } from './verify.ts';
import { toDeliveryEvent } from './to-event.ts';

export interface TwilioWebhookDeps {
  readonly kafka: Kafka;
  readonly authToken: string | null;
  readonly publicUrl: string;
  readonly index: TwilioMessageIndex;
  readonly seen: RecentlySeen;
  readonly evidence: SendEvidence;
  readonly bodyLimitBytes: number;
  readonly log: Logger;
  readonly now?: () => number;
}

function reject(reason: string, err: EventlineError): never {
  metrics.ingestRejections.inc({ route: '/webhooks/twilio/status', reason });
  throw err;
}

export function twilioWebhookRoutes(deps: TwilioWebhookDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  if (!deps.authToken) deps.log.warn({ route: '/webhooks/twilio/status' }, 'TWILIO_AUTH_TOKEN is not set: every Twilio callback will be rejected with 503');

  router.post('/webhooks/twilio/status', rawBody(deps.bodyLimitBytes), async (req, res) => {
    const params = verifiedTwilioForm(req, '/webhooks/twilio/status', deps.authToken, deps.publicUrl);
    const fromQuery = typeof req.query.notification_id === 'string' && req.query.notification_id !== '' ? req.query.notification_id : null;
    const sid = params.MessageSid ?? params.SmsSid ?? '';
    const notificationId = fromQuery ?? (sid ? await deps.index.lookup(sid) : null);
    let record;
    try {
      const userId = typeof req.query.user_id === 'string' && req.query.user_id !== '' ? req.query.user_id : null;
      record = toDeliveryEvent(params, notificationId, now(), userId);
    } catch (err) {
      reject('shape', err as EventlineError);
    }
    if ((await deps.seen.seen([record.value.event_id])).size === 0) {
      const appender = await deps.kafka.appender();
      await appender.append('notify.delivery-events.v1', [{ key: record.key, record: 'DeliveryEventReceived', value: record.value }], {
        lateAck: () => deps.seen.mark([record.value.event_id]),
      });
      deps.seen.remember([record.value.event_id]);
    }
    await deps.evidence.recordAll([{ notificationId: record.value.notification_id, channel: 'sms', providerMessageId: record.value.provider_message_id }]);
    res.status(200).type('text/xml').send('<Response/>');
  });
  return router;
}
