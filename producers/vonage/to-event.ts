/**
 * Vonage SMS API delivery receipts (DLRs): checking their signature and mapping them, pure, to the
 * DeliveryEventReceived that Twilio's status callbacks also become (notify.delivery-events.v1).
 *
 * A DLR is a flat set of string fields (query string, form or JSON object, as the account's
 * webhook method says): messageId, status, err-code, msisdn (the recipient), to (OUR sender id),
 * network-code, price, scts, message-timestamp, client-ref (Eventline's idempotency key), api-key
 * and, with signed webhooks enabled, timestamp, nonce and sig.
 *
 * Signature (Vonage's "Signing Messages" guide; the same construction as the official SDKs'
 * verifiers — Node's SMS.verifySignature, Python's check_signature, Java's RequestSigning): every
 * field but `sig`, sorted by name, each value with "&" and "=" replaced by "_", concatenated as
 * "&name=value&name=value…"; then either MD5 of that string followed by the signature secret
 * ("MD5 hash", the dashboard's default) or an HMAC (MD5, SHA-1, SHA-256, SHA-512) of the string
 * keyed by the secret; hex, compared without regard to case. The method is an account setting and
 * must be passed in. The SDKs disagree on one point: Java leaves out fields whose value is empty,
 * the others keep them; both forms are accepted here (each needs the secret).
 *
 * Only the fields Vonage sent may be passed in: not Eventline's own `notification_id` query
 * parameter (part of the callback URL, not signed by Vonage).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { EventlineError } from '../../lib/errors.ts';
import type { DeliveryEventReceived, DeliveryKind } from '../../lib/topics.ts';

export type VonageSignatureMethod = 'md5hash' | 'md5hmac' | 'sha1hmac' | 'sha256hmac' | 'sha512hmac';
export const vonageSignatureMethods: readonly VonageSignatureMethod[] = ['md5hash', 'md5hmac', 'sha1hmac', 'sha256hmac', 'sha512hmac'];

/** Why a DLR was refused: fields missing or malformed; no or a wrong signature; a signed timestamp too far from now. */
export type VonageDlrErrorCode = 'invalid_payload' | 'invalid_signature' | 'stale_timestamp';
export interface VonageDlrFailure {
  readonly ok: false;
  readonly code: VonageDlrErrorCode;
  readonly detail: string;
}

export interface VonageSignatureOptions {
  /** The account's signature secret (Vonage dashboard → API settings). */
  readonly secret: string;
  readonly method: VonageSignatureMethod;
  readonly nowMs: number;
  /** How far the signed `timestamp` may be from nowMs, either way (Vonage's SDKs use 5 min). */
  readonly toleranceMs: number;
}

const hmacAlgorithm: Readonly<Record<Exclude<VonageSignatureMethod, 'md5hash'>, string>> = { md5hmac: 'md5', sha1hmac: 'sha1', sha256hmac: 'sha256', sha512hmac: 'sha512' };

const clean = (s: string) => s.replace(/[&=]/g, '_');

function expectedSignature(fields: readonly (readonly [string, string])[], secret: string, method: VonageSignatureMethod): string {
  const signed = [...fields]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `&${clean(k)}=${clean(v)}`)
    .join('');
  return method === 'md5hash' ? createHash('md5').update(signed + secret, 'utf8').digest('hex') : createHmac(hmacAlgorithm[method], secret).update(signed, 'utf8').digest('hex');
}

function sameHex(expected: string, given: string): boolean {
  const a = Buffer.from(expected.toLowerCase(), 'utf8');
  const b = Buffer.from(given.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks a DLR's `sig` and `timestamp` (the fields exactly as Vonage sent them, `sig` included). */
export function checkVonageSignature(params: Readonly<Record<string, string>>, options: VonageSignatureOptions): { readonly ok: true } | VonageDlrFailure {
  const fail = (code: VonageDlrErrorCode, detail: string): VonageDlrFailure => ({ ok: false, code, detail });
  if (!options.secret) return fail('invalid_signature', 'no Vonage signature secret is configured');
  if (!vonageSignatureMethods.includes(options.method)) return fail('invalid_signature', `unknown signature method ${String(options.method)}`);
  const { sig, timestamp } = params;
  if (!sig) return fail('invalid_signature', 'unsigned: no sig field (enable signed webhooks for the API key)');
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return fail('invalid_signature', 'the timestamp field is missing or not unix seconds');
  const fields = Object.entries(params).filter(([k]) => k !== 'sig');
  const nonEmpty = fields.filter(([, v]) => v.trim() !== '');
  const valid =
    sameHex(expectedSignature(fields, options.secret, options.method), sig) ||
    (nonEmpty.length < fields.length && sameHex(expectedSignature(nonEmpty, options.secret, options.method), sig));
  if (!valid) return fail('invalid_signature', `sig does not match the fields (${options.method})`);
  if (Math.abs(options.nowMs - Number(timestamp) * 1000) > options.toleranceMs) {
    return fail('stale_timestamp', `the signed timestamp is more than ${Math.round(options.toleranceMs / 1000)} s away from now`);
  }
  return { ok: true };
}

/** The fields of a DLR that Eventline reads. */
export interface VonageDlr {
  readonly messageId: string;
  readonly status: string;
  readonly errCode: string | null;
  /** The recipient, as Vonage writes it (digits, no "+"). */
  readonly msisdn: string | null;
  /** Unix seconds, when signed, else from message-timestamp (UTC); null when neither parses. */
  readonly at: number | null;
  readonly scts: string | null;
  readonly clientRef: string | null;
  readonly raw: Readonly<Record<string, string>>;
}

const MESSAGE_ID = /^[0-9A-Za-z-]{8,64}$/;
const MESSAGE_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

function timeOf(params: Readonly<Record<string, string>>): number | null {
  const ts = params.timestamp;
  if (ts && /^\d{1,12}$/.test(ts)) return Number(ts) * 1000;
  const m = MESSAGE_TIMESTAMP.exec(params['message-timestamp'] ?? '');
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const at = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isFinite(at) ? at : null;
}

const orNull = (s: string | undefined) => (s === undefined || s === '' ? null : s);

export function parseVonageDlr(params: Readonly<Record<string, string>>): { readonly ok: true; readonly dlr: VonageDlr } | VonageDlrFailure {
  const messageId = params.messageId ?? params['message-id'];
  const status = params.status;
  const problems: string[] = [];
  if (!messageId || !MESSAGE_ID.test(messageId)) problems.push('messageId: missing or not a Vonage message id');
  if (!status) problems.push('status: missing');
  if (problems.length > 0 || !messageId || !status) return { ok: false, code: 'invalid_payload', detail: `not a Vonage delivery receipt: ${problems.join('; ')}` };
  return {
    ok: true,
    dlr: {
      messageId,
      status,
      errCode: orNull(params['err-code']),
      msisdn: orNull(params.msisdn),
      at: timeOf(params),
      scts: orNull(params.scts),
      clientRef: orNull(params['client-ref']),
      raw: params,
    },
  };
}

/**
 * DLR status → DeliveryKind, in Twilio's terms: "accepted" and "buffered" mean a carrier took the
 * message (Twilio's "sent"; Twilio's own "accepted" is earlier, before its queue); "expired" is
 * Twilio's "undelivered" (the carrier gave up); "rejected" (by Vonage or the carrier) is "failed".
 */
const kindOf: Readonly<Record<string, DeliveryKind>> = {
  delivered: 'delivered',
  accepted: 'sent',
  buffered: 'sent',
  expired: 'undelivered',
  failed: 'failed',
  rejected: 'failed',
  unknown: 'unknown',
};

/** DLR err-code meanings (Vonage support, "SMS Delivery Error Codes"); any non-zero code: not delivered. */
const errCodeMeaning: Readonly<Record<string, string>> = {
  '1': 'Unknown',
  '2': 'Absent Subscriber - Temporary',
  '3': 'Absent Subscriber - Permanent',
  '4': 'Call Barred by User',
  '5': 'Portability Error',
  '6': 'Anti-Spam Rejection',
  '7': 'Handset Busy',
  '8': 'Network Error',
  '9': 'Illegal Number',
  '10': 'Illegal Message',
  '11': 'Unroutable',
  '12': 'Destination Unreachable',
  '13': 'Subscriber Age Restriction',
  '14': 'Number Blocked by Carrier',
};

export function toDeliveryEvent(dlr: VonageDlr, notificationId: string | null, receivedAt: number): { key: string; value: DeliveryEventReceived } {
  const errCode = dlr.errCode === '0' ? null : dlr.errCode;
  return {
    key: notificationId ?? dlr.messageId,
    value: {
      event_id: `${dlr.messageId}:${dlr.status}`,
      occurred_at: dlr.at ?? receivedAt,
      received_at: receivedAt,
      provider: 'vonage',
      channel: 'sms',
      notification_id: notificationId,
      provider_message_id: dlr.messageId,
      kind: Object.hasOwn(kindOf, dlr.status) ? (kindOf[dlr.status] ?? 'unknown') : 'unknown',
      provider_event: dlr.status,
      recipient: dlr.msisdn === null ? null : /^\d+$/.test(dlr.msisdn) ? `+${dlr.msisdn}` : dlr.msisdn,
      reason: errCode === null ? null : (errCodeMeaning[errCode] ?? null),
      error_code: errCode,
      bounce_type: null,
      url: null,
      raw: JSON.stringify(dlr.raw),
      user_id: null,
    },
  };
}

/** What a route does with a DLR: check its signature, then its fields, then map it. */
export function vonageDeliveryEvent(
  params: Readonly<Record<string, string>>,
  notificationId: string | null,
  receivedAt: number,
  signature: Omit<VonageSignatureOptions, 'nowMs'>,
): { readonly ok: true; readonly key: string; readonly value: DeliveryEventReceived } | VonageDlrFailure {
  const checked = checkVonageSignature(params, { ...signature, nowMs: receivedAt });
  if (!checked.ok) return checked;
  const parsed = parseVonageDlr(params);
  if (!parsed.ok) return parsed;
  return { ok: true, ...toDeliveryEvent(parsed.dlr, notificationId, receivedAt) };
}

const eventlineCode = { invalid_payload: 'bad_request', invalid_signature: 'signature_invalid', stale_timestamp: 'timestamp_stale' } as const;

/** A refusal as the EventlineError the HTTP layer answers (400), its Vonage code in `detail.reason`. */
export function vonageDlrError(failure: VonageDlrFailure): EventlineError {
  return new EventlineError(eventlineCode[failure.code], failure.detail, { detail: { reason: failure.code } });
}
