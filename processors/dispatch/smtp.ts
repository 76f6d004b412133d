/**
 * The second email path: SMTP through `nodemailer` to any relay (a SendGrid subuser's SMTP
 * endpoint, Amazon SES, Postmark, the company's own MTA), behind the same interface as SendGrid.
 *
 * What an SMTP answer means for failover (effects.ts): a relay that cannot be reached, or answers
 * 4xx (421 service unavailable, 451 local error, 452 out of storage), did not take the message: the
 * provider's fault, the next provider may send it (status 503). A 5xx answer to the recipient (550
 * no such mailbox) is the address's fault: no other provider would do better (status 400). A
 * connection lost after the message data was handed over leaves the outcome unknown (status null).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { ProviderError, type EmailMessage, type EmailProvider, type SendResult } from './providers.ts';

/** Socket errors of a connection that never got as far as a session: nothing was sent. */
const NEVER_CONNECTED = /\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)\b/;

/** What an SMTP failure means for routing (see the module comment). */
export function smtpFailure(e: { code?: string; command?: string; responseCode?: number; message?: string }): ProviderError {
  const code = e.responseCode;
  const what = `smtp ${code ?? e.code ?? 'error'}${e.command ? ` at ${e.command}` : ''}`;
  if (code !== undefined && code >= 500) {
    // Refusing our login is the relay refusing us, not the address.
    if (e.command?.startsWith('AUTH')) return new ProviderError(`${what}: the relay refused the credentials`, true, 401, String(code));
    return new ProviderError(`${what}: the relay refused the message for good`, false, 400, String(code));
  }
  if (code !== undefined && code >= 400) return new ProviderError(`${what}: the relay could not take the message now`, true, 503, String(code));
  if (e.command === 'CONN' && NEVER_CONNECTED.test(e.message ?? '')) return new ProviderError(`${what}: the relay cannot be reached`, true, 503);
  // The connection broke or timed out with no answer: the message may have gone.
  return new ProviderError(what, true, null);
}

export class SmtpEmail implements EmailProvider {
  readonly name = 'smtp';
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;

  /** `url`: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://… (TLS from the start). */
  constructor(url: string, options: { timeoutMs?: number } = {}) {
    const timeout = options.timeoutMs ?? 10_000;
    this.transport = nodemailer.createTransport(url, { connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout * 3 } as SMTPTransport.Options);
  }

  async send(m: EmailMessage): Promise<SendResult> {
    try {
      const info = await this.transport.sendMail({
        from: m.from,
        to: m.to,
        subject: m.subject,
        text: m.text,
        html: m.html,
        headers: {
          ...m.headers,
          // What SendGrid's custom_args carry, as headers a relay's event webhook can echo back.
          ...Object.fromEntries(Object.entries(m.customArgs).map(([k, v]) => [`X-Eventline-${k.replace(/_/g, '-')}`, v])),
          'X-Eventline-Idempotency-Key': m.idempotencyKey,
        },
      });
      if (info.rejected.length > 0) throw new ProviderError('smtp: the relay refused the recipient', false, 400);
      return { provider: this.name, providerMessageId: info.messageId ?? null };
    } catch (err) {
      throw err instanceof ProviderError ? err : smtpFailure(err as { code?: string; command?: string; responseCode?: number; message?: string });
    }
  }

  close(): void {
    this.transport.close();
  }
}
