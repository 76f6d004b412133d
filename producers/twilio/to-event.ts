/**
 * Pure mapping from a Twilio message status callback (form fields) to a DeliveryEventReceived.
 * Twilio sends no event time: occurred_at is when the callback arrived. Callbacks can arrive out of
 * order; consumers rank statuses rather than trusting arrival.
 */
import { EventlineError } from '../../lib/errors.ts';
import type { DeliveryEventReceived, DeliveryKind } from '../../lib/topics.ts';

const statuses = ['accepted', 'scheduled', 'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'read', 'canceled', 'receiving', 'received'] as const satisfies readonly DeliveryKind[];
const isStatus = (s: string): s is (typeof statuses)[number] => (statuses as readonly string[]).includes(s);

export function parseTwilioCallback(params: Readonly<Record<string, string>>): { messageSid: string; status: string } {
  const messageSid = params.MessageSid ?? params.SmsSid;
  const status = params.MessageStatus ?? params.SmsStatus;
  const problems: string[] = [];
  if (!messageSid || !/^(SM|MM)[0-9a-fA-F]{32}$/.test(messageSid)) problems.push('MessageSid: expected SM/MM followed by 32 hex digits');
  if (!status) problems.push('MessageStatus: missing');
  if (problems.length > 0) throw new EventlineError('bad_request', `not a Twilio status callback: ${problems.join('; ')}`, { detail: problems });
  return { messageSid: messageSid as string, status: status as string };
}

export function toDeliveryEvent(
  params: Readonly<Record<string, string>>,
  notificationId: string | null,
  receivedAt: number,
  userId: string | null = null,
): { key: string; value: DeliveryEventReceived } {
  const { messageSid, status } = parseTwilioCallback(params);
  return {
    key: notificationId ?? messageSid,
    value: {
      event_id: `${messageSid}:${status}`,
      occurred_at: receivedAt,
      received_at: receivedAt,
      provider: 'twilio',
      channel: 'sms',
      notification_id: notificationId,
      provider_message_id: messageSid,
      kind: isStatus(status) ? status : 'unknown',
      provider_event: status,
      recipient: params.To ?? null,
      reason: params.ErrorMessage ?? null,
      error_code: params.ErrorCode ?? null,
      bounce_type: null,
      url: null,
      raw: JSON.stringify(params),
      user_id: userId,
    },
  };
}
