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
import { runScript, type Redis } from '../../lib/redis.ts';
import { type SendEvidence } from '../../notify/index.ts';
import type { Channel } from '../../projections/preferences/document.ts';
import { smsSize } from '../../notify/index.ts';
import type { CircuitBreakers, CircuitTransition } from './circuit.ts';
import { ProviderError, type EmailMessage, type EmailProvider, type Providers, type SendResult, type SmsMessage, type SmsProvider } from './providers.ts';
import type { PushMessage, PushProvider } from './push.ts';
import { countryOf, idealOrder, priceOf, reasonFor, routeOrder, type Candidate, type PriceTable, type RoutePolicy, type RouteReason, type SuccessRates } from './routing.ts';

const TTL = 60 * 86_400;

export type SendOutcome =
  | { readonly kind: 'sent'; readonly result: SendResult; readonly at: number; readonly route: SendRoute | null }
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
      const waitMs = Number(await runScript(this.redis, RATE_ACQUIRE, 1, `rate:${channel}`, String(limit), grant));
      if (waitMs <= 0) return;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

/** How an SMS was routed: recorded on its dispatch outcome. */
export interface SendRoute {
  readonly country: string | null;
  /** The price table's figure per segment times the segments, in millionths of `currency`; null when not priced. */
  readonly priceMicros: number | null;
  readonly currency: string | null;
  readonly reason: RouteReason;
}

/** Routing over two providers of a channel: the circuits, the success rates, the price table (SMS), and where circuit changes go. */
export interface ProviderRouting {
  readonly breakers: CircuitBreakers;
  readonly rates: SuccessRates;
  readonly prices: () => PriceTable;
  readonly policy?: RoutePolicy;
  onTransition(t: CircuitTransition, channel: Channel): Promise<void>;
}

/** A provider answered, and the fault is the provider's (down, overloaded, refusing our account): try the next one. */
const providerFault = (e: ProviderError) => e.status !== null && (e.status >= 500 || e.status === 429 || e.status === 401 || e.status === 403);

/** A circuit as routing sees it: an open one whose time is up is ready for its probe. */
async function circuitFor(breakers: CircuitBreakers, provider: string): Promise<Candidate['circuit']> {
  const status = await breakers.status(provider);
  return status.state === 'open' && status.openUntil !== null && status.openUntil <= Date.now() ? 'half_open' : status.state;
}

export class Sender {
  private readonly redis: Redis;
  private readonly providers: Providers;
  private readonly limiter: RateLimiter;
  private readonly evidence: SendEvidence;
  private readonly reconcileMs: number;
  private readonly routing: ProviderRouting | null;

  constructor(redis: Redis, providers: Providers, limiter: RateLimiter, evidence: SendEvidence, reconcileMs: number, routing: ProviderRouting | null = null) {
    this.redis = redis;
    this.providers = providers;
    this.limiter = limiter;
    this.evidence = evidence;
    this.reconcileMs = reconcileMs;
    this.routing = routing;
  }

  async send(channel: Channel, message: EmailMessage | SmsMessage | PushMessage): Promise<SendOutcome> {
    const markerKey = `dispatch:send:${message.idempotencyKey}`;
    const provider = this.providerOf(channel);
    if (!provider) return { kind: 'failed', error: new ProviderError(`no ${channel} provider is configured`, false, null, 'no_provider') };
    const marker = await this.redis.get(markerKey);
    if (marker?.startsWith('sent|')) {
      const [, name, id, at] = marker.split('|');
      return { kind: 'sent', result: { provider: name ?? provider.name, providerMessageId: id || null }, at: Number(at), route: null };
    }
    // The marker spans providers: a send whose outcome is unknown is reconciled whichever provider
    // it went to, so failover never sends one notification twice.
    const routed = this.routedProviders(channel);
    const idempotent = provider.name === 'outbox' && routed.length < 2;
    if (marker?.startsWith('pending|') && !idempotent) {
      const since = Number(marker.split('|')[1]);
      const pendingWith = marker.split('|')[2] || provider.name;
      const evidence = await this.evidence.get(message.notificationId, channel);
      if (evidence !== null) {
        await this.redis.set(markerKey, `sent|${pendingWith}|${evidence}|${since}`, 'EX', TTL);
        return { kind: 'sent', result: { provider: pendingWith, providerMessageId: evidence || null }, at: since, route: null };
      }
      if (Date.now() < since + this.reconcileMs) return { kind: 'reconciling', until: since + this.reconcileMs };
    }
    const started = Date.now();
    await this.limiter.acquire(channel);
    if (this.routing && routed.length > 1 && (channel === 'email' || channel === 'sms')) return this.sendRouted(channel, routed, markerKey, message as EmailMessage | SmsMessage, started);
    await this.redis.set(markerKey, `pending|${started}|${provider.name}`, 'EX', TTL);
    try {
      const result = await this.call(provider, channel, message);
      await this.redis.set(markerKey, `sent|${result.provider}|${result.providerMessageId ?? ''}|${started}`, 'EX', TTL);
      return { kind: 'sent', result, at: started, route: null };
    } catch (err) {
      const error = err instanceof ProviderError ? err : new ProviderError(String(err), true, null);
      // The provider answered: it did not take the message, so a retry must send. A network error
      // (no answer) leaves "pending": the message may have gone out.
      if (error.status !== null) await this.redis.del(markerKey);
      return { kind: 'failed', error };
    }
  }

  /**
   * An SMS through the routed providers (routing.ts): the cheapest healthy first; an open circuit
   * is passed over, a provider that answers with its own fault (5xx, 429, 401/403) is recorded as
   * failing and the next one tried at once. A provider that gives no answer may have sent the
   * message: no other is tried, the marker stays pending and reconciliation decides.
   */
  private async sendRouted(channel: 'email' | 'sms', all: readonly (EmailProvider | SmsProvider)[], markerKey: string, message: EmailMessage | SmsMessage, started: number): Promise<SendOutcome> {
    const routing = this.routing as ProviderRouting;
    const table = routing.prices();
    // Prices are per SMS destination country; email is routed on health alone (no prices: the configured order).
    const country = channel === 'sms' ? countryOf(message.to) : null;
    const candidates: Candidate[] = await Promise.all(
      all.map(async (p) => ({ provider: p.name, price: priceOf(table, p.name, country), successRate: (await routing.rates.rate(p.name)).rate, circuit: await circuitFor(routing.breakers, p.name) })),
    );
    const order = routeOrder(candidates, routing.policy);
    let lastError: ProviderError | null = null;
    for (const candidate of order) {
      const provider = all.find((p) => p.name === candidate.provider) as EmailProvider | SmsProvider;
      const admission = await routing.breakers.admit(provider.name);
      if (!admission.allowed) continue;
      if (admission.transition) await routing.onTransition(admission.transition, channel);
      await this.redis.set(markerKey, `pending|${started}|${provider.name}`, 'EX', TTL);
      const callStarted = Date.now();
      try {
        const result = await this.call(provider, channel, message);
        const transition = await routing.breakers.record(provider.name, true, Date.now() - callStarted);
        if (transition) await routing.onTransition(transition, channel);
        await this.redis.set(markerKey, `sent|${result.provider}|${result.providerMessageId ?? ''}|${started}`, 'EX', TTL);
        const segments = channel === 'sms' ? smsSize((message as SmsMessage).body).segments : 1;
        return {
          kind: 'sent',
          result,
          at: started,
          route: { country, priceMicros: candidate.price === null ? null : candidate.price * segments, currency: candidate.price === null ? null : table.currency, reason: reasonFor(candidate, idealOrder(candidates, routing.policy), routing.policy, admission.probe) },
        };
      } catch (err) {
        const error = err instanceof ProviderError ? err : new ProviderError(String(err), true, null);
        const transition = await routing.breakers.record(provider.name, !(error.status === null || providerFault(error)), Date.now() - callStarted);
        if (transition) await routing.onTransition(transition, channel);
        if (error.status === null) return { kind: 'failed', error };
        await this.redis.del(markerKey);
        if (!providerFault(error)) return { kind: 'failed', error };
        lastError = error;
      }
    }
    await this.redis.del(markerKey);
    return { kind: 'failed', error: lastError ?? new ProviderError('no SMS provider can take a message now: every circuit is open', true, 503) };
  }

  /** The channel's primary provider (push has one, when configured; in-app is not sent through a provider). */
  private providerOf(channel: Channel): EmailProvider | SmsProvider | PushProvider | null {
    if (channel === 'email') return this.providers.email;
    if (channel === 'sms') return this.providers.sms;
    if (channel === 'push') return this.providers.push ?? null;
    return null;
  }

  /** The providers a channel is routed over, in configured order (primary first). */
  private routedProviders(channel: Channel): (EmailProvider | SmsProvider)[] {
    if (channel === 'sms') return [this.providers.sms, ...(this.providers.smsSecondary ? [this.providers.smsSecondary] : [])];
    if (channel === 'email') return [this.providers.email, ...(this.providers.emailSecondary ? [this.providers.emailSecondary] : [])];
    return [];
  }

  /** The provider call, as a client span: its id and answer, never the recipient or the content. */
  private call(provider: EmailProvider | SmsProvider | PushProvider, channel: Channel, message: EmailMessage | SmsMessage | PushMessage): Promise<SendResult> {
    return inSpan(`${provider.name} send`, { kind: SpanKind.CLIENT, attributes: { 'eventline.channel': channel, 'eventline.notification_id': message.notificationId, 'eventline.provider': provider.name } }, async (span) => {
      const sent = await (provider as { send(m: EmailMessage | SmsMessage | PushMessage): Promise<SendResult> }).send(message);
      if (sent.providerMessageId) span.setAttribute('eventline.provider_message_id', sent.providerMessageId);
      return sent;
    });
  }
}
