/**
 * POST /webhooks/vonage/status — Vonage SMS API delivery receipts (DLRs). The body is a form
 * (webhook method POST) or a JSON object (POST-JSON), as the account is set; either way a flat set
 * of string fields, signed with the account's signature secret (VONAGE_SIGNATURE_SECRET, signed
 * webhooks on) over every field but `sig`, the signed `timestamp` within
 * EVENTLINE_WEBHOOK_TOLERANCE_SECONDS of now (to-event.ts checkVonageSignature). A verified receipt
 * is appended to notify.delivery-events.v1 as a DeliveryEventReceived keyed by notification id,
 * its event id `${messageId}:${status}`, so a receipt Vonage retries is the same event (not
 * appended again while RecentlySeen remembers it; consumers dedupe by event id after that).
 *
 * Answers, like the Twilio route: 503 not_configured without a secret; 415 for another content
 * type; 400 (JSON errors) for a body that is not a flat set of fields, a missing or wrong signature
 * (signature_invalid), a signed timestamp too far from now (timestamp_stale) or a signed body that
 * is no delivery receipt (bad_request); nothing is appended on any of them.
 */
import type { Request } from 'express';
import { Router } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { bodyBytes, parseJson, rawBody, requireContentType } from '../../lib/http/body.ts';
import type { Kafka } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import { metrics } from '../../lib/metrics.ts';
import type { SendEvidence, VonageMessageIndex } from '../../notify/index.ts';
import type { RecentlySeen } from '../http/recently-seen.ts';
import { checkVonageSignature, parseVonageDlr, toDeliveryEvent, vonageDlrError, type VonageDlrFailure, type VonageSignatureMethod } from './to-event.ts';

/**
 * Where Vonage posts delivery receipts: VONAGE_STATUS_PATH of processors/dispatch/vonage.ts, which
 * asks for them there (producers may not import processors; route.int.test.ts checks they agree).
 */
export const VONAGE_WEBHOOK_PATH = '/webhooks/vonage/status';
const ROUTE = VONAGE_WEBHOOK_PATH;

export interface VonageWebhookDeps {
  readonly kafka: Kafka;
  /** VONAGE_SIGNATURE_SECRET; null: every receipt is refused with 503. */
  readonly signatureSecret: string | null;
  /** The account's signature method (Vonage dashboard → API settings); MD5 hash, the dashboard's default, unless given. */
  readonly signatureMethod?: VonageSignatureMethod;
  readonly index: VonageMessageIndex;
  readonly seen: RecentlySeen;
  readonly evidence: SendEvidence;
  readonly bodyLimitBytes: number;
  /** How far the signed timestamp may be from now, either way (EVENTLINE_WEBHOOK_TOLERANCE_SECONDS). */
  readonly toleranceSeconds: number;
  readonly log: Logger;
  readonly now?: () => number;
}

function reject(reason: string, err: EventlineError): never {
  metrics.ingestRejections.inc({ route: ROUTE, reason });
  throw err;
}

const rejectionReason: Readonly<Record<VonageDlrFailure['code'], string>> = { invalid_payload: 'shape', invalid_signature: 'signature', stale_timestamp: 'stale' };

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

/**
 * The receipt's fields exactly as Vonage sent them (the signature covers these and nothing else).
 * JSON: one object of strings; a number or boolean is taken as its text and a null as empty (the
 * signature decides whether that is what Vonage signed); nested values are refused.
 */
function fieldsOf(req: Request): Record<string, string> {
  const bytes = bodyBytes(req);
  const type = (req.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== JSON_TYPE) return Object.fromEntries(new URLSearchParams(bytes.toString('utf8')));
  const body = parseJson(bytes);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new EventlineError('bad_request', 'a Vonage delivery receipt in JSON is one object of fields');
  const fields: [string, string][] = [];
  for (const [k, v] of Object.entries(body)) {
    if (typeof v === 'string') fields.push([k, v]);
    else if (typeof v === 'number' || typeof v === 'boolean') fields.push([k, String(v)]);
    else if (v === null) fields.push([k, '']);
    else throw new EventlineError('bad_request', `field ${JSON.stringify(k.slice(0, 64))} is not a string: a Vonage delivery receipt is a flat set of fields`);
  }
  return Object.fromEntries(fields);
}

export function vonageWebhookRoutes(deps: VonageWebhookDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  const method = deps.signatureMethod ?? 'md5hash';
  if (!deps.signatureSecret) deps.log.warn({ route: ROUTE }, 'VONAGE_SIGNATURE_SECRET is not set: every Vonage delivery receipt will be rejected with 503');

  router.post(ROUTE, rawBody(deps.bodyLimitBytes), async (req, res) => {
    if (!deps.signatureSecret) reject('not_configured', new EventlineError('not_configured', 'VONAGE_SIGNATURE_SECRET is not configured on this Eventline'));
    try {
      requireContentType(req, [FORM, JSON_TYPE]);
    } catch (err) {
      reject('content_type', err as EventlineError);
    }
    let params: Record<string, string>;
    try {
      params = fieldsOf(req);
    } catch (err) {
      reject('json', err as EventlineError);
    }
    const receivedAt = now();
    const checked = checkVonageSignature(params, { secret: deps.signatureSecret, method, nowMs: receivedAt, toleranceMs: deps.toleranceSeconds * 1000 });
    if (!checked.ok) reject(rejectionReason[checked.code], vonageDlrError(checked));
    const parsed = parseVonageDlr(params);
    if (!parsed.ok) reject(rejectionReason[parsed.code], vonageDlrError(parsed));
    const { dlr } = parsed;

    // Which notification: Vonage signs the body, not the callback URL, so our `notification_id`
    // query parameter could have been changed by whoever replays a signed receipt. The message-id
    // index (written by the dispatcher after the send) comes first; the parameter is used only when
    // the index has nothing (Redis flushed or slow, or a later part of a multi-part message, whose
    // id the index does not hold) and is ignored when it disagrees. A replayed receipt keeps its
    // event id (`messageId:status`), so it is a duplicate whatever its query parameter says.
    const fromQuery = typeof req.query.notification_id === 'string' && req.query.notification_id !== '' ? req.query.notification_id : null;
    const indexed = await deps.index.lookup(dlr.messageId);
    if (indexed !== null && fromQuery !== null && indexed !== fromQuery) {
      deps.log.warn({ route: ROUTE, messageId: dlr.messageId }, 'notification_id in the callback URL disagrees with the message-id index: the index is used');
    }
    const record = toDeliveryEvent(dlr, indexed ?? fromQuery, receivedAt);

    const duplicate = (await deps.seen.seen([record.value.event_id])).size > 0;
    if (!duplicate) {
      const appender = await deps.kafka.appender();
      // Answered 503 but acknowledged later: remember the id, so Vonage's retry is a no-op.
      await appender.append('notify.delivery-events.v1', [{ key: record.key, record: 'DeliveryEventReceived', value: record.value }], {
        lateAck: () => deps.seen.mark([record.value.event_id]),
      });
      deps.seen.remember([record.value.event_id]);
    }
    await deps.evidence.recordAll([{ notificationId: record.value.notification_id, channel: 'sms', providerMessageId: record.value.provider_message_id }]);
    res.status(200).json({ received: true, event_id: record.value.event_id, duplicate });
  });
  return router;
}
