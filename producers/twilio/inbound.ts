/**
 * POST /webhooks/twilio/inbound — SMS replies. Validated like the status callback (X-Twilio-Signature
 * against EVENTLINE_PUBLIC_URL + path), appended to notify.delivery-events.v1 as a `received` event
 * (the audit trail: who replied what, when), and acted on:
 *   STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT → the consent to SMS of every user the number is
 *     about is withdrawn (a preference change, source `keyword`): no SMS goes to them any more,
 *     essential ones included;
 *   START, UNSTOP → consent given again (source `keyword`);
 *   HELP, INFO → a help reply (TwiML), nothing changed.
 * Twilio's own Advanced Opt-Out answers STOP and START itself; Eventline keeps its own record so
 * that a second SMS provider, or a future one, never texts a number that said STOP.
 */
import { Router } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { rawBody } from '../../lib/http/body.ts';
import type { Logger } from '../../lib/log.ts';
import { metrics } from '../../lib/metrics.ts';
import type { Runtime } from '../../lib/runtime.ts';
import type { DeliveryEventReceived } from '../../lib/topics.ts';
import { changePreferences, keywordOf, usersOfNumber } from '../../notify/index.ts';
import { optInSms, optOutSms } from '../../projections/preferences/document.ts';
import type { RecentlySeen } from '../http/recently-seen.ts';
import { verifiedTwilioForm } from './verify.ts';

export const TWILIO_INBOUND_PATH = '/webhooks/twilio/inbound';

export interface TwilioInboundDeps {
  readonly rt: Runtime;
  readonly authToken: string | null;
  readonly publicUrl: string;
  readonly seen: RecentlySeen;
  readonly bodyLimitBytes: number;
  readonly log: Logger;
  /** The reply to HELP: who is texting and how to stop it (CTIA). */
  readonly helpText: string;
  readonly now?: () => number;
}

function reject(reason: string, err: EventlineError): never {
  metrics.ingestRejections.inc({ route: TWILIO_INBOUND_PATH, reason });
  throw err;
}

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);

export function twilioInboundRoutes(deps: TwilioInboundDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  router.post(TWILIO_INBOUND_PATH, rawBody(deps.bodyLimitBytes), async (req, res) => {
    const params = verifiedTwilioForm(req, TWILIO_INBOUND_PATH, deps.authToken, deps.publicUrl);
    const sid = params.MessageSid ?? params.SmsSid ?? '';
    const from = params.From ?? '';
    const problems = [
      ...(/^(SM|MM)[0-9a-fA-F]{32}$/.test(sid) ? [] : ['MessageSid: expected SM/MM followed by 32 hex digits']),
      ...(/^\+[1-9]\d{6,14}$/.test(from) ? [] : ['From: expected an E.164 number']),
      ...(typeof params.Body === 'string' ? [] : ['Body: missing']),
    ];
    if (problems.length > 0) reject('shape', new EventlineError('bad_request', `not a Twilio inbound message: ${problems.join('; ')}`, { detail: problems }));
    const keyword = keywordOf(params.Body ?? '');
    const at = now();
    const event: DeliveryEventReceived = {
      event_id: `${sid}:received`,
      occurred_at: at,
      received_at: at,
      provider: 'twilio',
      channel: 'sms',
      notification_id: null,
      provider_message_id: sid,
      kind: 'received',
      provider_event: `inbound${keyword ? `:${keyword}` : ''}`,
      recipient: from,
      reason: null,
      error_code: null,
      bounce_type: null,
      url: null,
      raw: JSON.stringify(params),
      user_id: null,
    };
    const first = (await deps.seen.seen([event.event_id])).size === 0;
    if (first) {
      await (await deps.rt.kafka.appender()).append('notify.delivery-events.v1', [{ key: from, record: 'DeliveryEventReceived', value: event }], { lateAck: () => deps.seen.mark([event.event_id]) });
    }
    if (keyword === 'stop' || keyword === 'start') {
      // Idempotent: a redelivered reply finds the consent already as it asks.
      const users = await usersOfNumber(deps.rt.db, from);
      for (const userId of users) {
        await changePreferences(deps.rt, {
          userId,
          change: keyword === 'stop' ? 'sms_opted_out' : 'sms_opted_in',
          actor: 'twilio',
          reason: `${keyword.toUpperCase()} replied (${sid})`,
          source: 'keyword',
          category: null,
          next: (current) => (keyword === 'stop' ? optOutSms(current) : optInSms(current, 'keyword', at)),
        });
      }
      deps.log.info({ keyword, users: users.length }, 'SMS keyword reply');
    }
    if (first) await deps.seen.mark([event.event_id]);
    res.status(200).type('text/xml').send(keyword === 'help' ? `<Response><Message>${xmlEscape(deps.helpText)}</Message></Response>` : '<Response/>');
  });
  return router;
}
