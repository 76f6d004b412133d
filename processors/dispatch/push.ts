/**
 * The push channel: Web Push (RFC 8030, with RFC 8291 message encryption and RFC 8292 VAPID)
 * through the `web-push` library, to every browser the user registered
 * (POST /v1/users/:userId/push-subscriptions, notify/push-subscriptions.ts).
 *
 * One message goes to each of the user's subscriptions at once, as the JSON
 * `{notification_id, title, body, url}` (the service worker shows it), shortened to fit one
 * 4096-byte push message. Outcome:
 * - sent when at least one push service took it (201): provider `webpush`, message id = that
 *   service's Location header (the message's URI), else the notification id;
 * - a subscription whose push service answers 404 or 410 is gone for good: it is deleted, and the
 *   others still get the message;
 * - none registered → permanent ProviderError (404 'no push subscription'); all gone → permanent
 *   (410); a request that got no answer (network, timeout) → retryable with status null (it may
 *   have been delivered); else 429 or 5xx → retryable with that status; else (400, 401/403: our
 *   VAPID key refused, 413) → permanent with that status.
 * A subscription that refused while another took the message is not retried: the user has it.
 *
 * Each message carries a Topic derived from its idempotency key, so a retry of one notification
 * replaces a copy the push service still holds for an offline browser instead of adding a second.
 *
 * Endpoints identify browsers: no error message or log line carries one, only the push service's
 * host and the subscription id.
 */
import { createECDH, createHash } from 'node:crypto';
import type { Agent } from 'node:https';
import webpush from 'web-push';
import { EventlineError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { pushServiceOf, type PushSubscriptions, type StoredPushSubscription } from '../../notify/index.ts';
import { ProviderError, type SendResult } from './providers.ts';

export type PushUrgency = 'very-low' | 'low' | 'normal' | 'high';

export interface PushMessage {
  readonly userId: string;
  readonly notificationId: string;
  readonly idempotencyKey: string;
  readonly title: string;
  readonly body: string;
  readonly url: string | null;
  /** RFC 8030 Urgency: how soon a battery-saving device should wake for it. Default normal. */
  readonly urgency?: PushUrgency;
}

export interface PushProvider {
  readonly name: string;
  send(message: PushMessage): Promise<SendResult>;
}

/** The application server's VAPID identity (EVENTLINE_VAPID_*): a P-256 key pair, base64url, and a contact. */
export interface VapidDetails {
  /** mailto: or https: — who push services contact about this sender. */
  readonly subject: string;
  /** The uncompressed public point, 65 bytes, base64url (browsers subscribe with it as applicationServerKey). */
  readonly publicKey: string;
  /** The private scalar, 32 bytes, base64url. */
  readonly privateKey: string;
}

export interface WebPushSenderOptions {
  /** How long a push service keeps a message for a browser that is offline (TTL header), in seconds. Default one day. */
  readonly ttlSeconds?: number;
  /** Abort a request to a push service after this long. Default 10 s. */
  readonly timeoutMs?: number;
  /** The https agent: tests pass one that trusts a local push service's certificate. */
  readonly agent?: Agent;
}

/**
 * The largest plaintext of one push message: 4096 bytes of aes128gcm body, less its header with
 * the sender's key (86), the record's tag (16) and padding delimiter (1).
 */
export const MAX_PUSH_PLAINTEXT_BYTES = 4096 - 86 - 16 - 1;

const canonicalBase64url = (text: string): Buffer | null => {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
};

/** What is wrong with a VAPID identity (empty when nothing): key shapes, the pair matching, the subject. */
export function vapidProblems(v: VapidDetails): string[] {
  const problems: string[] = [];
  const pub = canonicalBase64url(v.publicKey);
  const priv = canonicalBase64url(v.privateKey);
  if (pub === null || pub.length !== 65 || pub[0] !== 0x04) problems.push('the VAPID public key must be an uncompressed P-256 point (65 bytes) in unpadded base64url');
  if (priv === null || priv.length !== 32) problems.push('the VAPID private key must be 32 bytes in unpadded base64url');
  if (pub && priv && problems.length === 0) {
    try {
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(priv);
      if (!ecdh.getPublicKey().equals(pub)) problems.push('the VAPID public key is not the private key’s');
    } catch {
      problems.push('the VAPID private key is not a P-256 private key');
    }
  }
  if (!/^(mailto:\S+@\S+|https:\/\/\S+)$/.test(v.subject)) problems.push('the VAPID subject must be a mailto: address or an https: URL');
  return problems;
}

/**
 * The message as the service worker receives it: `{notification_id, title, body, url}` as JSON of
 * at most MAX_PUSH_PLAINTEXT_BYTES, the body (then the title) shortened with "…" when it is longer.
 */
export function pushPayload(m: Pick<PushMessage, 'notificationId' | 'title' | 'body' | 'url'>): string {
  const json = (title: string, body: string) => JSON.stringify({ notification_id: m.notificationId, title, body, url: m.url });
  const fits = (title: string, body: string) => Buffer.byteLength(json(title, body), 'utf8') <= MAX_PUSH_PLAINTEXT_BYTES;
  if (fits(m.title, m.body)) return json(m.title, m.body);
  if (fits(m.title, '…')) return json(m.title, longestFitting([...m.body], (cut) => fits(m.title, cut)));
  if (fits('…', '')) return json(longestFitting([...m.title], (cut) => fits(cut, '')), '');
  throw new ProviderError('webpush: the message is over the push payload limit without its title and body (its url is too long)', false, 413, 'payload_too_large');
}

/** The longest prefix of `chars` (whole code points) that, followed by "…", `fits`; `fits` holds for "…" alone. */
function longestFitting(chars: readonly string[], fits: (cut: string) => boolean): string {
  let lo = 0; // fits
  let hi = chars.length; // the whole text does not fit
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(`${chars.slice(0, mid).join('')}…`)) lo = mid;
    else hi = mid;
  }
  return `${chars.slice(0, lo).join('')}…`;
}

/** RFC 8030 Topic (at most 32 base64url characters) for one notification's sends. */
export function pushTopic(idempotencyKey: string): string {
  return createHash('sha256').update(idempotencyKey, 'utf8').digest('base64url').slice(0, 32);
}

/** A push service's error text, short and without URLs (one could be the endpoint). */
const scrub = (text: string) =>
  text
    .replace(/https?:\/\/\S+/g, '[url]')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);

type Attempt =
  | { readonly kind: 'sent'; readonly subscription: StoredPushSubscription; readonly location: string | null }
  | { readonly kind: 'expired'; readonly subscription: StoredPushSubscription; readonly status: number }
  | { readonly kind: 'failed'; readonly subscription: StoredPushSubscription; readonly status: number | null; readonly retryable: boolean; readonly detail: string };

export class WebPushSender implements PushProvider {
  readonly name = 'webpush';
  private readonly subscriptions: PushSubscriptions;
  private readonly vapid: VapidDetails;
  private readonly log: Logger;
  private readonly ttlSeconds: number;
  private readonly timeoutMs: number;
  private readonly agent: Agent | undefined;

  constructor(subscriptions: PushSubscriptions, vapid: VapidDetails, log: Logger, options: WebPushSenderOptions = {}) {
    const problems = vapidProblems(vapid);
    if (problems.length > 0) throw new EventlineError('config_invalid', `invalid VAPID identity: ${problems.join('; ')}`, { detail: problems });
    const ttl = options.ttlSeconds ?? 86_400;
    const timeout = options.timeoutMs ?? 10_000;
    if (!Number.isInteger(ttl) || ttl < 0) throw new EventlineError('config_invalid', 'the push TTL must be a whole number of seconds, 0 or more');
    if (!Number.isInteger(timeout) || timeout < 1) throw new EventlineError('config_invalid', 'the push timeout must be a positive whole number of milliseconds');
    this.subscriptions = subscriptions;
    this.vapid = { subject: vapid.subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey };
    this.log = log.child({ component: 'webpush' });
    this.ttlSeconds = ttl;
    this.timeoutMs = timeout;
    this.agent = options.agent;
  }

  async send(m: PushMessage): Promise<SendResult> {
    let subscriptions: StoredPushSubscription[];
    try {
      subscriptions = await this.subscriptions.forUser(m.userId);
    } catch (err) {
      // Nothing went out: a status (not null) tells the caller a retry must send.
      throw new ProviderError(`webpush: the push subscriptions could not be read (${err instanceof Error ? err.message : String(err)})`, true, 503, 'subscriptions_unavailable');
    }
    if (subscriptions.length === 0) throw new ProviderError('no push subscription', false, 404, 'no_subscription');
    const payload = pushPayload(m);
    const topic = pushTopic(m.idempotencyKey);
    const attempts = await Promise.all(subscriptions.map((s) => this.attempt(s, payload, m.urgency ?? 'normal', topic)));

    for (const a of attempts) {
      const service = pushServiceOf(a.subscription.endpoint);
      if (a.kind === 'expired') await this.expire(a.subscription, a.status, service);
      else if (a.kind === 'failed') this.log.warn({ notificationId: m.notificationId, subscriptionId: a.subscription.id, service, status: a.status, detail: a.detail }, 'push send refused');
    }
    const sent = attempts.filter((a) => a.kind === 'sent');
    const first = sent[0];
    if (first) {
      const ids = sent.map((a) => a.subscription.id);
      // The message went out: failing to note it must not turn the send into a failure (and a resend).
      await this.subscriptions.markSucceeded(ids, new Date()).catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'push success not recorded'));
      return { provider: this.name, providerMessageId: first.location ?? m.notificationId };
    }
    const failed = attempts.filter((a) => a.kind === 'failed');
    if (failed.length === 0) throw new ProviderError(`webpush: every push subscription of the user has expired (${attempts.length} removed)`, false, 410, 'subscriptions_expired');
    const chosen = failed.find((a) => a.status === null) ?? failed.find((a) => a.retryable) ?? failed[0];
    if (!chosen) throw new Error('unreachable: failed is not empty');
    const service = pushServiceOf(chosen.subscription.endpoint);
    throw new ProviderError(`webpush ${chosen.status ?? 'network'} from ${service}: ${chosen.detail}`, chosen.retryable, chosen.status);
  }

  private async attempt(subscription: StoredPushSubscription, payload: string, urgency: PushUrgency, topic: string): Promise<Attempt> {
    try {
      const res = await webpush.sendNotification({ endpoint: subscription.endpoint, keys: { p256dh: subscription.keys.p256dh, auth: subscription.keys.auth } }, payload, {
        vapidDetails: this.vapid,
        TTL: this.ttlSeconds,
        urgency,
        topic,
        timeout: this.timeoutMs,
        ...(this.agent ? { agent: this.agent } : {}),
      });
      const location = res.headers.location;
      return { kind: 'sent', subscription, location: typeof location === 'string' && location !== '' ? location : null };
    } catch (err) {
      if (err instanceof webpush.WebPushError) {
        const status = err.statusCode;
        if (status === 404 || status === 410) return { kind: 'expired', subscription, status };
        return { kind: 'failed', subscription, status, retryable: status === 429 || status >= 500, detail: scrub(typeof err.body === 'string' && err.body !== '' ? err.body : err.message) };
      }
      // No answer: refused connection, TLS failure, timeout. The library's own errors name the host at most.
      const code = err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : null;
      return { kind: 'failed', subscription, status: null, retryable: true, detail: code ?? scrub(err instanceof Error ? err.message : String(err)) };
    }
  }

  private async expire(subscription: StoredPushSubscription, status: number, service: string): Promise<void> {
    try {
      const removed = await this.subscriptions.expire(subscription);
      if (removed) this.log.info({ userId: subscription.userId, subscriptionId: subscription.id, service, status, reason: 'expired' }, 'push subscription removed');
    } catch (err) {
      // The next send to this user finds it again and retries the removal.
      this.log.warn({ subscriptionId: subscription.id, service, err: err instanceof Error ? err.message : String(err) }, 'expired push subscription not removed');
    }
  }
}
