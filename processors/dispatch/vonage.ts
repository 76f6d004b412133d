/**
 * Vonage as a second SMS provider (failover behind Twilio), through the official SDK
 * (@vonage/server-sdk, its `sms` client: the SMS API, POST {restHost}/sms/json).
 *
 * The SMS API answers HTTP 200 even when it refuses a message: each part of the message has its
 * own `status` ("0" accepted; "1" throttled and "5" internal error are worth retrying; anything
 * else — bad credentials, barred number, no credit, … — will not change on a retry). The SDK turns
 * a non-zero status into MessageSendAllFailure / MessageSendPartialFailure (the response attached),
 * and an HTTP error (429, 5xx) into a VetchError (the fetch Response attached). Neither class is
 * exported by @vonage/server-sdk, so they are recognised by shape here.
 *
 * Error messages carry status codes and Vonage's error text with digit runs masked; never the
 * recipient's number or the message body (the SDK's errors hold both, in the request they keep:
 * they are never passed on).
 */
import { Vonage } from '@vonage/server-sdk';
import { smsSize } from '../../notify/index.ts';
import { ProviderError, type SendResult, type SmsMessage, type SmsProvider } from './providers.ts';

/** Where Eventline receives Vonage's delivery receipts (the producer's route must be mounted here). */
export const VONAGE_STATUS_PATH = '/webhooks/vonage/status';

/** The per-message delivery-receipt URL, carrying the notification id back as Twilio's does. */
export function vonageStatusCallback(publicUrl: string, notificationId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${VONAGE_STATUS_PATH}?notification_id=${encodeURIComponent(notificationId)}`;
}

/** SMS API statuses a later attempt may get through: 1 throttled, 5 internal error. */
const RETRYABLE_VONAGE_STATUS = new Set(['1', '5']);

const retryableHttp = (status: number) => status === 429 || status >= 500;

/** Vonage's error text without anything that looks like a phone number, and short. */
const scrub = (text: string) => text.replace(/\+?\d[\d ().-]{4,}\d/g, '[digits]').slice(0, 200);

/** E.164 as the SMS API documents it: digits only, no leading "+" (alphanumeric sender ids unchanged). */
const vonageNumber = (n: string) => (/^\+\d+$/.test(n) ? n.slice(1) : n);

type SmsParams = Parameters<Vonage['sms']['send']>[0] & object;
/** The SDK types `type` as its own enum (in @vonage/sms, not exported by @vonage/server-sdk); the API takes the string. */
const UNICODE = 'unicode' as NonNullable<SmsParams['type']>;

interface PartAnswer {
  readonly status?: string;
  readonly errorText?: string;
  readonly messageId?: string;
}

export interface VonageSmsOptions {
  /** Abort a request after this long (the SDK sets no timeout by default). */
  readonly timeoutMs?: number;
}

export class VonageSms implements SmsProvider {
  readonly name = 'vonage';
  private readonly client: Vonage;
  private readonly from: string;
  private readonly callbackBase: string | null;

  /**
   * @param baseUrl     another host for the SMS API (a local stand-in in tests), else rest.nexmo.com
   * @param callbackBase Eventline's public URL: each message asks for its delivery receipt at
   *                    `${callbackBase}/webhooks/vonage/status?notification_id=…`; null leaves the
   *                    account's default delivery-receipt URL (set in the Vonage dashboard).
   */
  constructor(apiKey: string, apiSecret: string, from: string, baseUrl: string | null, callbackBase: string | null, options: VonageSmsOptions = {}) {
    this.from = vonageNumber(from);
    this.callbackBase = callbackBase;
    this.client = new Vonage(
      { apiKey, apiSecret },
      {
        ...(baseUrl ? { restHost: baseUrl.replace(/\/+$/, '') } : {}),
        timeout: options.timeoutMs ?? 10_000,
      },
    );
  }

  async send(m: SmsMessage): Promise<SendResult> {
    const params: SmsParams = {
      to: vonageNumber(m.to),
      from: this.from,
      text: m.body,
      // The SMS API encodes `text` as GSM-7 unless told otherwise.
      ...(smsSize(m.body).encoding === 'UCS-2' ? { type: UNICODE } : {}),
      clientRef: m.idempotencyKey,
      ...(this.callbackBase ? { callback: vonageStatusCallback(this.callbackBase, m.notificationId) } : {}),
    };
    let parts: readonly PartAnswer[];
    try {
      parts = (await this.client.sms.send(params)).messages ?? [];
    } catch (err) {
      throw providerError(err);
    }
    // A long text goes as several parts, each with its own id (and delivery receipt): the first names the message.
    return { provider: this.name, providerMessageId: parts.find((p) => p.status === '0')?.messageId ?? null };
  }
}

/** What the SDK threw, as a ProviderError: `status` null when Vonage may have taken the message. */
function providerError(err: unknown): ProviderError {
  const e = err as { name?: unknown; response?: { status?: unknown; messages?: unknown }; cause?: { code?: unknown } };
  const parts = e.response?.messages;
  if (Array.isArray(parts)) {
    const all = parts as PartAnswer[];
    const failed = all.filter((p) => p.status !== '0');
    const code = failed[0]?.status ?? null;
    const retryable = failed.every((p) => p.status !== undefined && RETRYABLE_VONAGE_STATUS.has(p.status));
    const text = failed[0]?.errorText ? ` ${scrub(failed[0].errorText)}` : '';
    if (failed.length < all.length) {
      // Some parts were accepted and will arrive: whether the message counts as sent is for a
      // delivery receipt to tell (status null keeps the send pending, as after a network error).
      return new ProviderError(`vonage: ${failed.length} of ${all.length} parts refused, status ${code}:${text}`, retryable, null, code);
    }
    return new ProviderError(`vonage status ${code}:${text}`, retryable, 200, code);
  }
  const status = e.response?.status;
  if (typeof status === 'number') {
    // 2xx here: an answer the SDK could not decode; the message may have been taken.
    if (status >= 200 && status < 300) return new ProviderError(`vonage ${status}: undecodable answer`, true, null);
    return new ProviderError(`vonage ${status}`, retryableHttp(status), status);
  }
  const cause = typeof e.cause?.code === 'string' ? ` ${e.cause.code}` : '';
  const name = typeof e.name === 'string' ? e.name : 'Error';
  return new ProviderError(`vonage network: ${name}${cause}`, true, null);
}
