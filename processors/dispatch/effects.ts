/**
 * The dispatch processor's effects: shared per-channel rate limits and guarded sends. (Its state —
 * notifications, caps, digests — is the fold in evolve.ts.)
 *
 * A send is guarded by its idempotency key (the request's event id + channel):
 *   1. the marker says "sent"    → the recorded result, no second send;
 *   2. the marker says "pending" → a crash (or a network error) lost the outcome: if the provider
 *      is idempotent (the outbox) send again; else if a provider callback proves it was accepted,
 *      treat it as sent; else wait until the reconcile window has passed, then send again;
 *   3. no marker → mark pending, call the provider, mark sent (or clear the mark when the provider
 *      answered that it did not accept the message).
 */
import { inSpan, SpanKind } from '../../lib/tracing.ts';
import { randomUUID } from 'node:crypto';
import type { Redis } from '../../lib/redis.ts';
import { type SendEvidence } from '../../notify/index.ts';
import type { Channel } from '../../projections/preferences/document.ts';
import { ProviderError, type EmailMessage, type Providers, type SendResult, type SmsMessage } from './providers.ts';

const TTL = 60 * 86_400;

export type SendOutcome =
  | { readonly kind: 'sent'; readonly result: SendResult; readonly at: number }
  | { readonly kind: 'failed'; readonly error: ProviderError }
  | { readonly kind: 'reconciling'; readonly until: number };

/**
 * Sliding one-second window per channel, shared by every instance: a sorted set of the grants of
 * the last second, kept by one Lua script on Redis' clock (instances on other hosts may disagree
 * on the time; Redis is the one clock they share). A grant is taken only while fewer than `limit`
 * were taken in the 1,000 ms before it, so no second, wherever it starts, holds more than `limit`
 * sends — unlike fixed windows, which allow twice the limit across a window boundary.
 */
const RATE_ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + 1000 - now + 1
`;

export class RateLimiter {
  private readonly redis: Redis;
  private readonly limits: Readonly<Record<Channel, number>>;

  constructor(redis: Redis, limits: Readonly<Record<Channel, number>>) {
    this.redis = redis;
    this.limits = limits;
  }

  /** Waits until a send on `channel` fits within the shared per-second limit, then takes it. */
  async acquire(channel: Channel): Promise<void> {
    const limit = this.limits[channel];
    if (limit <= 0) throw new Error(`no ${channel} sends allowed (rate limit ${limit}/s)`);
    const grant = randomUUID();
    for (;;) {
      const waitMs = Number(await this.redis.eval(RATE_ACQUIRE, 1, `rate:${channel}`, String(limit), grant));
      if (waitMs <= 0) return;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

export class Sender {
  private readonly redis: Redis;
  private readonly providers: Providers;
  private readonly limiter: RateLimiter;
  private readonly evidence: SendEvidence;
  private readonly reconcileMs: number;

  constructor(redis: Redis, providers: Providers, limiter: RateLimiter, evidence: SendEvidence, reconcileMs: number) {
    this.redis = redis;
    this.providers = providers;
    this.limiter = limiter;
    this.evidence = evidence;
    this.reconcileMs = reconcileMs;
  }

  async send(channel: Channel, message: EmailMessage | SmsMessage): Promise<SendOutcome> {
    const markerKey = `dispatch:send:${message.idempotencyKey}`;
    const provider = channel === 'email' ? this.providers.email : this.providers.sms;
    const marker = await this.redis.get(markerKey);
    if (marker?.startsWith('sent|')) {
      const [, name, id, at] = marker.split('|');
      return { kind: 'sent', result: { provider: name ?? provider.name, providerMessageId: id || null }, at: Number(at) };
    }
    if (marker?.startsWith('pending|') && provider.name !== 'outbox') {
      const since = Number(marker.split('|')[1]);
      const evidence = await this.evidence.get(message.notificationId, channel);
      if (evidence !== null) {
        await this.redis.set(markerKey, `sent|${provider.name}|${evidence}|${since}`, 'EX', TTL);
        return { kind: 'sent', result: { provider: provider.name, providerMessageId: evidence || null }, at: since };
      }
      if (Date.now() < since + this.reconcileMs) return { kind: 'reconciling', until: since + this.reconcileMs };
    }
    const started = Date.now();
    await this.redis.set(markerKey, `pending|${started}`, 'EX', TTL);
    await this.limiter.acquire(channel);
    try {
      const name = channel === 'email' ? this.providers.email.name : this.providers.sms.name;
      // The provider call, as a client span: its id and answer, never the recipient or the content.
      const result = await inSpan(`${name} send`, { kind: SpanKind.CLIENT, attributes: { 'eventline.channel': channel, 'eventline.notification_id': message.notificationId, 'eventline.provider': name } }, async (span) => {
        const sent = channel === 'email' ? await this.providers.email.send(message as EmailMessage) : await this.providers.sms.send(message as SmsMessage);
        if (sent.providerMessageId) span.setAttribute('eventline.provider_message_id', sent.providerMessageId);
        return sent;
      });
      await this.redis.set(markerKey, `sent|${result.provider}|${result.providerMessageId ?? ''}|${started}`, 'EX', TTL);
      return { kind: 'sent', result, at: started };
    } catch (err) {
      const error = err instanceof ProviderError ? err : new ProviderError(String(err), true, null);
      // The provider answered: it did not take the message, so a retry must send. A network error
      // (no answer) leaves "pending": the message may have gone out.
      if (error.status !== null) await this.redis.del(markerKey);
      return { kind: 'failed', error };
    }
  }
}
