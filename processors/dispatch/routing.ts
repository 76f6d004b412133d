/**
 * Least-cost routing for SMS with failover: the order in which a message tries the providers.
 *
 *   1. Providers whose circuit is open are left out (circuit.ts); a half-open one is tried only by
 *      the caller that won its probe.
 *   2. Among the others, those whose recent delivery success rate (learnt from delivery events,
 *      per provider: `SuccessRates`) is at least `minSuccessRate` come first, cheapest first for the
 *      destination country (the price table: prices/sms.json, or the file `eventline providers
 *      prices` installed); equal prices keep the configured order (the primary first).
 *   3. Then the rest, best success rate first: a message still goes out when every provider is
 *      doing badly.
 *
 * The order is decided here, purely; the sender walks it (effects.ts), moving to the next provider
 * at once when one answers with an error, never after a send whose outcome is unknown.
 */
import { readFileSync } from 'node:fs';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { z } from 'zod';
import { EventlineError } from '../../lib/errors.ts';
import type { Db } from '../../lib/db.ts';
import type { Redis } from '../../lib/redis.ts';

export const priceTableSchema = z.object({
  doc: z.string().optional(),
  currency: z.string().regex(/^[a-z]{3}$/, 'a lowercase ISO 4217 code'),
  providers: z.record(
    z.string().regex(/^[a-z][a-z0-9_-]*$/),
    z.record(z.string().regex(/^([A-Z]{2}|\*)$/, 'an ISO 3166 alpha-2 country or *'), z.number().int().min(0).max(100_000_000)),
  ),
});
export type PriceTable = z.infer<typeof priceTableSchema>;

export const SHIPPED_SMS_PRICES = new URL('./prices/sms.json', import.meta.url);

/** Reads and validates a price table file; a bad one is refused with every problem named. */
export function readPriceTable(path: string | URL): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new EventlineError('bad_request', `price table ${String(path)}: not readable JSON (${(err as Error).message})`);
  }
  const parsed = priceTableSchema.safeParse(raw);
  if (!parsed.success) throw new EventlineError('bad_request', `price table ${String(path)}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** The ISO country of an E.164 number (null when it cannot be told). */
export function countryOf(phone: string): string | null {
  return parsePhoneNumberFromString(phone)?.country ?? null;
}

/** A provider's price per segment for a country, in millionths of the table's currency (null: not priced). */
export function priceOf(table: PriceTable, provider: string, country: string | null): number | null {
  const prices = table.providers[provider];
  if (!prices) return null;
  return (country !== null ? prices[country] : undefined) ?? prices['*'] ?? null;
}

export type RouteReason = 'cheapest_healthy' | 'preferred' | 'failover' | 'probe' | 'only' | 'below_success_threshold';

export interface Candidate {
  readonly provider: string;
  /** Per segment, millionths of the currency; null when the table has no price. */
  readonly price: number | null;
  /** Delivered / (delivered + failed) over the recent window; null with too few samples. */
  readonly successRate: number | null;
  readonly circuit: 'closed' | 'open' | 'half_open';
}

export interface RoutePolicy {
  readonly minSuccessRate: number;
}
export const DEFAULT_ROUTE_POLICY: RoutePolicy = { minSuccessRate: 0.9 };

/**
 * The order to try providers in (pure). `candidates` come in the configured order (primary first);
 * open circuits are dropped, a half-open one stays (the sender tries it only if it wins the probe).
 */
export function routeOrder(candidates: readonly Candidate[], policy: RoutePolicy = DEFAULT_ROUTE_POLICY): Candidate[] {
  const usable = candidates.map((c, i) => ({ c, i })).filter(({ c }) => c.circuit !== 'open');
  const healthy = (c: Candidate) => c.successRate === null || c.successRate >= policy.minSuccessRate;
  const byPrice = (a: { c: Candidate; i: number }, b: { c: Candidate; i: number }) =>
    (a.c.price ?? Number.MAX_SAFE_INTEGER) - (b.c.price ?? Number.MAX_SAFE_INTEGER) || a.i - b.i;
  const good = usable.filter(({ c }) => healthy(c)).sort(byPrice);
  const poor = usable.filter(({ c }) => !healthy(c)).sort((a, b) => (b.c.successRate ?? 0) - (a.c.successRate ?? 0) || a.i - b.i);
  return [...good, ...poor].map(({ c }) => c);
}

/**
 * Why `chosen` sent the message. `ideal` is the order with every circuit closed: a provider that is
 * not first there took the message over from one that failed or was open (failover).
 */
export function reasonFor(chosen: Candidate, ideal: readonly Candidate[], policy: RoutePolicy = DEFAULT_ROUTE_POLICY, probe = false): RouteReason {
  if (probe) return 'probe';
  if (ideal.length === 1) return 'only';
  if (ideal[0]?.provider !== chosen.provider) return 'failover';
  if (chosen.successRate !== null && chosen.successRate < policy.minSuccessRate) return 'below_success_threshold';
  // Unpriced (email): first in the configured order.
  return chosen.price === null ? 'preferred' : 'cheapest_healthy';
}

/** The order had every circuit been closed. */
export function idealOrder(candidates: readonly Candidate[], policy: RoutePolicy = DEFAULT_ROUTE_POLICY): Candidate[] {
  return routeOrder(candidates.map((c) => ({ ...c, circuit: 'closed' as const })), policy);
}

/**
 * Delivery success per provider over the last `hours` hours, from the delivery events (the dispatch
 * processor counts each provider's delivered and failed messages in hourly buckets). Like the
 * circuits, operational state: lost with Redis, relearnt from the next events.
 */
export class SuccessRates {
  private readonly redis: Redis;
  private readonly hours: number;
  private readonly minSamples: number;

  constructor(redis: Redis, options: { hours?: number; minSamples?: number } = {}) {
    this.redis = redis;
    this.hours = options.hours ?? 24;
    this.minSamples = options.minSamples ?? 20;
  }

  private key(provider: string, hour: number): string {
    return `route:delivery:${provider}:${hour}`;
  }

  /** Counts one final delivery outcome (a provider's delivered, or its failed/undelivered/bounced). */
  async observe(provider: string, delivered: boolean, at = Date.now()): Promise<void> {
    const key = this.key(provider, Math.floor(at / 3_600_000));
    await this.redis.multi().hincrby(key, delivered ? 'delivered' : 'failed', 1).expire(key, (this.hours + 1) * 3600).exec();
  }

  /** The provider's success rate, or null with fewer than minSamples outcomes. */
  async rate(provider: string, now = Date.now()): Promise<{ rate: number | null; delivered: number; failed: number }> {
    const hour = Math.floor(now / 3_600_000);
    const m = this.redis.multi();
    for (let h = hour - this.hours + 1; h <= hour; h++) m.hmget(this.key(provider, h), 'delivered', 'failed');
    const rows = ((await m.exec()) ?? []) as [unknown, (string | null)[]][];
    let delivered = 0;
    let failed = 0;
    for (const [, [d, f] = []] of rows) {
      delivered += Number(d ?? 0);
      failed += Number(f ?? 0);
    }
    const n = delivered + failed;
    return { rate: n >= this.minSamples ? delivered / n : null, delivered, failed };
  }
}

/**
 * The SMS price table in force: the one `eventline providers prices` installed in Postgres, else
 * the shipped file; re-read at most every `refreshMs`, so running dispatchers take a new table
 * without a restart. A read that fails keeps the table it had.
 */
export class PriceBook {
  private readonly db: Db;
  private readonly refreshMs: number;
  private table: PriceTable;
  private readAt = 0;
  private reading: Promise<void> | null = null;

  constructor(db: Db, options: { refreshMs?: number; shipped?: PriceTable } = {}) {
    this.db = db;
    this.refreshMs = options.refreshMs ?? 60_000;
    this.table = options.shipped ?? readPriceTable(SHIPPED_SMS_PRICES);
  }

  /** The table now (refreshing it in the background when due). */
  current(): PriceTable {
    if (Date.now() - this.readAt >= this.refreshMs && !this.reading) this.reading = this.refresh().finally(() => (this.reading = null));
    return this.table;
  }

  /** Reads the installed table now. */
  async refresh(): Promise<void> {
    this.readAt = Date.now();
    try {
      const { rows } = await this.db.query<{ prices: unknown }>(`SELECT prices FROM dispatch.price_tables WHERE channel = 'sms'`);
      const parsed = rows[0] ? priceTableSchema.safeParse(rows[0].prices) : null;
      if (parsed?.success) this.table = parsed.data;
    } catch {
      // Postgres away: keep the table in hand.
    }
  }

  /** Installs a validated table for every dispatcher (`eventline providers prices`). */
  static async install(db: Db, table: PriceTable, from: string): Promise<void> {
    await db.query(
      `INSERT INTO dispatch.price_tables (channel, prices, installed_from) VALUES ('sms', $1, $2)
       ON CONFLICT (channel) DO UPDATE SET prices = excluded.prices, installed_at = now(), installed_from = excluded.installed_from`,
      [JSON.stringify(table), from],
    );
  }
}
