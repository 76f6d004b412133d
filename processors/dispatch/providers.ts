/**
 * Message providers behind one narrow interface: SendGrid (@sendgrid/mail), Twilio (twilio) and
 * the local outbox (a Postgres table, used when no provider credentials are configured). Each
 * adapter maps our message to the SDK and the provider's answer to sent / retryable / permanent.
 */
import { Client as SendGridClient } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import twilio from 'twilio';
import RequestClient from 'twilio/lib/base/RequestClient.js';
import type { Config } from '../../lib/config.ts';
import type { Db } from '../../lib/db.ts';
import type { PushProvider } from './push.ts';
import { SmtpEmail } from './smtp.ts';
import { VonageSms } from './vonage.ts';

export interface EmailMessage {
  readonly to: string;
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly customArgs: Readonly<Record<string, string>>;
  readonly notificationId: string;
  readonly idempotencyKey: string;
}

export interface SmsMessage {
  readonly to: string;
  readonly body: string;
  readonly statusCallback: string;
  readonly notificationId: string;
  readonly idempotencyKey: string;
}

export interface SendResult {
  readonly provider: string;
  readonly providerMessageId: string | null;
}

/** A provider refused or failed; `retryable` for 429, 5xx and network errors. */
export class ProviderError extends Error {
  readonly retryable: boolean;
  readonly status: number | null;
  readonly providerCode: string | null;
  constructor(message: string, retryable: boolean, status: number | null, providerCode: string | null = null) {
    super(message);
    this.name = 'ProviderError';
    this.retryable = retryable;
    this.status = status;
    this.providerCode = providerCode;
  }
}

export interface EmailProvider {
  readonly name: string;
  send(message: EmailMessage): Promise<SendResult>;
}
export interface SmsProvider {
  readonly name: string;
  send(message: SmsMessage): Promise<SendResult>;
}

const retryableStatus = (status: number | null) => status === null || status === 429 || status >= 500;

export class SendGridEmail implements EmailProvider {
  readonly name = 'sendgrid';
  private readonly mail: MailService;

  constructor(apiKey: string, baseUrl: string | null) {
    const client = new SendGridClient();
    client.setApiKey(apiKey);
    if (baseUrl) client.setDefaultRequest('baseUrl', baseUrl);
    this.mail = new MailService();
    this.mail.setClient(client);
  }

  async send(m: EmailMessage): Promise<SendResult> {
    try {
      const [response] = await this.mail.send({
        to: m.to,
        from: m.from,
        subject: m.subject,
        text: m.text,
        html: m.html,
        headers: { ...m.headers },
        customArgs: { ...m.customArgs },
      });
      const id = response.headers['x-message-id'];
      return { provider: this.name, providerMessageId: typeof id === 'string' ? id : null };
    } catch (err) {
      const e = err as { code?: number; response?: { body?: unknown } };
      const status = typeof e.code === 'number' ? e.code : null;
      throw new ProviderError(`sendgrid ${status ?? 'network'}: ${JSON.stringify(e.response?.body ?? (err as Error).message).slice(0, 300)}`, retryableStatus(status), status);
    }
  }
}

export class TwilioSms implements SmsProvider {
  readonly name = 'twilio';
  private readonly client: twilio.Twilio;
  private readonly from: string;

  constructor(accountSid: string, authToken: string, from: string, baseUrl: string | null) {
    this.from = from;
    this.client = twilio(accountSid, authToken, baseUrl ? { httpClient: new RedirectingRequestClient(baseUrl) } : {});
  }

  async send(m: SmsMessage): Promise<SendResult> {
    try {
      const msg = await this.client.messages.create({ to: m.to, from: this.from, body: m.body, statusCallback: m.statusCallback });
      return { provider: this.name, providerMessageId: msg.sid };
    } catch (err) {
      const e = err as { status?: number; code?: number; message?: string };
      const status = typeof e.status === 'number' ? e.status : null;
      throw new ProviderError(`twilio ${status ?? 'network'}: ${e.message ?? String(err)}`, retryableStatus(status), status, e.code === undefined ? null : String(e.code));
    }
  }
}

/** Twilio's own HTTP client, sending every request to another base URL (a local stand-in in tests). */
class RedirectingRequestClient extends RequestClient {
  private readonly base: URL;
  constructor(baseUrl: string) {
    super();
    this.base = new URL(baseUrl);
  }
  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const target = new URL(opts.uri);
    target.protocol = this.base.protocol;
    target.host = this.base.host;
    return super.request<TData>({ ...opts, uri: target.toString() });
  }
}

/** The local outbox: messages stored in Postgres (shown on the dashboard). Exactly once per idempotency key. */
export class Outbox implements EmailProvider, SmsProvider {
  readonly name = 'outbox';
  private readonly db: Db;
  private readonly channel: 'email' | 'sms';

  constructor(db: Db, channel: 'email' | 'sms') {
    this.db = db;
    this.channel = channel;
  }

  async send(m: EmailMessage | SmsMessage): Promise<SendResult> {
    const email = 'subject' in m ? m : null;
    const res = await this.db.query<{ message_id: string }>(
      `INSERT INTO dispatch.outbox (idempotency_key, notification_id, channel, recipient, subject, body_text, body_html, headers, message_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $3 = 'sms' THEN 'SM' || md5($1) ELSE 'outbox_' || md5($1) END)
       ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = excluded.idempotency_key
       RETURNING message_id`,
      [
        m.idempotencyKey,
        m.notificationId,
        this.channel,
        m.to,
        email?.subject ?? null,
        email ? email.text : (m as SmsMessage).body,
        email?.html ?? null,
        JSON.stringify(email ? { ...email.headers, ...Object.fromEntries(Object.entries(email.customArgs).map(([k, v]) => [`x-arg-${k}`, v])) } : { statusCallback: (m as SmsMessage).statusCallback }),
      ],
    );
    return { provider: this.name, providerMessageId: res.rows[0]?.message_id ?? null };
  }
}

export interface Providers {
  readonly email: EmailProvider;
  /** The primary SMS provider. */
  readonly sms: SmsProvider;
  /** A second SMS provider: with it, SMS are routed by price and health, and fail over (routing.ts). */
  readonly smsSecondary?: SmsProvider;
  /** A second email path (SMTP to a relay): with it, email fails over from the primary. */
  readonly emailSecondary?: EmailProvider;
  /** Web Push (push.ts) when a VAPID identity is configured; without it, push is not a channel. */
  readonly push?: PushProvider;
}

/**
 * SendGrid and Twilio when their credentials are configured, else the local outbox; Vonage as the
 * second SMS provider when its credentials are (the only one when Twilio's are not), and SMTP to a
 * relay (SMTP_URL) as the second email path (the only one without a SendGrid key).
 */
export function providersFor(config: Config, db: Db): Providers {
  const { sendgrid, twilio: tw, vonage: vg } = config;
  const twilioSms = tw.accountSid && tw.authToken && tw.fromNumber ? new TwilioSms(tw.accountSid, tw.authToken, tw.fromNumber, tw.apiUrl) : null;
  const vonageSms = vg.apiKey && vg.apiSecret && vg.fromNumber ? new VonageSms(vg.apiKey, vg.apiSecret, vg.fromNumber, vg.apiUrl, config.http.publicUrl) : null;
  const sms = twilioSms ?? vonageSms ?? new Outbox(db, 'sms');
  const sendgridEmail = sendgrid.apiKey ? new SendGridEmail(sendgrid.apiKey, sendgrid.apiUrl) : null;
  const smtpEmail = config.smtp.url ? new SmtpEmail(config.smtp.url) : null;
  return {
    email: sendgridEmail ?? smtpEmail ?? new Outbox(db, 'email'),
    sms,
    ...(twilioSms && vonageSms ? { smsSecondary: vonageSms } : {}),
    ...(sendgridEmail && smtpEmail ? { emailSecondary: smtpEmail } : {}),
  };
}
