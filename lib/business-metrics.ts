/**
 * Business metrics on GET /metrics, read from the analytics views (the Postgres read models) when
 * Prometheus scrapes: MRR per currency, notifications sent and failed, delivery and bounce rates over
 * the last 7 days, dunning cases by state, fraud actions. Nothing is counted in process memory, so every
 * HTTP instance reports the same numbers and a restart loses none of them.
 *
 * A scrape recomputes them at most every 15 s, in one read-only transaction (one consistent
 * snapshot, one pooled connection, a statement timeout); a scrape while that runs gets the last
 * values at once. A view that does not exist yet (its projection never ran) gives no series, never
 * an error; a failed read keeps the last values and counts eventline_business_metrics_errors_total.
 *
 * Labels are bounded: channel, category, state and action are folded onto closed vocabularies (a
 * value outside one reads as `unknown`, as ADR 0010 decodes it), and only the 20 currencies with the
 * most MRR get their own series, the rest summed into currency="other".
 *
 * The metrics live in a registry of their own, one per HTTP app, so that two apps of one process
 * (tests) never write each other's numbers; /metrics serves it after lib/metrics.ts's.
 */
import client from 'prom-client';
import type { Db, QueryResultRow } from './db.ts';
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';
import { vocabularies } from './topics.ts';

/** Currencies with a series of their own; the rest are summed into OTHER_CURRENCY. */
export const MAX_CURRENCIES = 20;
export const OTHER_CURRENCY = 'other';
/** What a value outside a closed vocabulary reads as (the vocabularies' default, ADR 0010). */
export const UNKNOWN = 'unknown';
export const REFRESH_MS = 15_000;
/** Delivery and bounce rates cover the messages sent on the last RATE_DAYS UTC days, today included. */
export const RATE_DAYS = 7;
/** A read that takes longer fails (and keeps the last values) rather than hold the scrape. */
const STATEMENT_TIMEOUT_MS = 5000;

export const channels: readonly string[] = vocabularies.DeliveryChannel.symbols;
export const dunningStates: readonly string[] = vocabularies.DunningCaseStatus.symbols;
export const fraudActions: readonly string[] = vocabularies.FraudScoreAction.symbols;

// ---- Pure parts ---------------------------------------------------------------------------------

export interface CurrencyMrr {
  readonly currency: string;
  readonly cents: number;
}

/**
 * At most `max` currencies, those with the most MRR (ties by currency code, so every instance
 * picks the same), and the sum of the others as OTHER_CURRENCY when there are any.
 */
export function foldCurrencies(rows: readonly CurrencyMrr[], max = MAX_CURRENCIES): CurrencyMrr[] {
  const byCurrency = new Map<string, number>();
  for (const r of rows) byCurrency.set(r.currency, (byCurrency.get(r.currency) ?? 0) + r.cents);
  const ranked = [...byCurrency].map(([currency, cents]) => ({ currency, cents })).sort((a, b) => b.cents - a.cents || (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
  const kept = ranked.slice(0, max);
  const rest = ranked.slice(max);
  return rest.length === 0 ? kept : [...kept, { currency: OTHER_CURRENCY, cents: rest.reduce((sum, r) => sum + r.cents, 0) }];
}

/** The value if the vocabulary has it, else UNKNOWN: a label never takes a value outside the list. */
export function inVocabulary(value: string | null, symbols: readonly string[]): string {
  return value !== null && symbols.includes(value) ? value : UNKNOWN;
}

/** part / whole, or null when nothing was counted (a rate of nothing is not 0). */
export function rate(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** One row of the delivery read: all-time sent and failed, and the last RATE_DAYS days' counts. */
export interface DeliveryRow {
  readonly channel: string | null;
  readonly category: string | null;
  readonly sent: number;
  readonly failed: number;
  readonly recentSent: number;
  readonly recentDelivered: number;
  readonly recentBounced: number;
}

export interface MessageCounts {
  readonly channel: string;
  readonly category: string;
  readonly sent: number;
  readonly failed: number;
}

/** Messages sent and failed per (channel, category), both folded onto their vocabularies. */
export function byChannelAndCategory(rows: readonly DeliveryRow[], categories: readonly string[]): MessageCounts[] {
  const out = new Map<string, MessageCounts>();
  for (const r of rows) {
    const channel = inVocabulary(r.channel, channels);
    const category = inVocabulary(r.category, categories);
    const key = `${channel}\u0000${category}`;
    const before = out.get(key);
    out.set(key, { channel, category, sent: (before?.sent ?? 0) + r.sent, failed: (before?.failed ?? 0) + r.failed });
  }
  return [...out.values()];
}

export interface ChannelRates {
  readonly channel: string;
  readonly delivery: number | null;
  readonly bounce: number | null;
}

/**
 * Delivery (delivered / sent) and bounce (bounced / sent) rates per channel, from the summed
 * counts — not an average of daily or per-category rates, which would weigh a quiet day like a busy one.
 */
export function ratesByChannel(rows: readonly DeliveryRow[]): ChannelRates[] {
  const sums = new Map<string, { sent: number; delivered: number; bounced: number }>();
  for (const r of rows) {
    const channel = inVocabulary(r.channel, channels);
    const s = sums.get(channel) ?? { sent: 0, delivered: 0, bounced: 0 };
    sums.set(channel, { sent: s.sent + r.recentSent, delivered: s.delivered + r.recentDelivered, bounced: s.bounced + r.recentBounced });
  }
  return [...sums].map(([channel, s]) => ({ channel, delivery: rate(s.delivered, s.sent), bounce: rate(s.bounced, s.sent) }));
}

/** Counts per symbol of a vocabulary, every symbol present (0 when none), values outside it under UNKNOWN. */
export function countsBySymbol(rows: readonly { readonly key: string | null; readonly n: number }[], symbols: readonly string[]): Map<string, number> {
  const out = new Map<string, number>(symbols.map((s) => [s, 0]));
  for (const r of rows) {
    const key = inVocabulary(r.key, symbols);
    out.set(key, (out.get(key) ?? 0) + r.n);
  }
  return out;
}

// ---- Reading the views --------------------------------------------------------------------------

/** What one refresh read; null for a view that does not exist yet (no series). */
export interface BusinessSnapshot {
  readonly mrr: readonly CurrencyMrr[] | null;
  readonly delivery: readonly DeliveryRow[] | null;
  readonly dunning: readonly { readonly key: string | null; readonly n: number }[] | null;
  readonly fraud: readonly { readonly key: string | null; readonly n: number }[] | null;
}

const views = ['customer_mrr', 'delivery_metrics_daily', 'dunning_cases', 'fraud_scores'] as const;
type View = (typeof views)[number];

// Money and counts come back as bigint (parsed to numbers by lib/db.ts); sums are cast back to it.
const queries: Record<View, string> = {
  customer_mrr: 'SELECT currency, COALESCE(sum(mrr_cents), 0)::bigint AS cents FROM analytics.customer_mrr GROUP BY currency',
  // delivery_metrics_daily reads the running sums the delivery projection keeps per day, channel,
  // category and template: its `sent` adds up to the messages (notification × channel) handed to a
  // provider, what analytics.notifications lists in `channels`, without recounting every message.
  delivery_metrics_daily: `SELECT channel, category, COALESCE(sum(sent), 0)::bigint AS sent, COALESCE(sum(failed), 0)::bigint AS failed,
      COALESCE(sum(sent) FILTER (WHERE recent), 0)::bigint AS recent_sent,
      COALESCE(sum(delivered) FILTER (WHERE recent), 0)::bigint AS recent_delivered,
      COALESCE(sum(bounced) FILTER (WHERE recent), 0)::bigint AS recent_bounced
    FROM (SELECT *, day > (now() AT TIME ZONE 'UTC')::date - ${RATE_DAYS} AS recent FROM analytics.delivery_metrics_daily) d
    GROUP BY channel, category`,
  dunning_cases: 'SELECT status AS key, count(*)::bigint AS n FROM analytics.dunning_cases GROUP BY status',
  fraud_scores: 'SELECT action AS key, count(*)::bigint AS n FROM analytics.fraud_scores GROUP BY action',
};

/** Reads every business view that exists, in one read-only snapshot. */
export async function readSnapshot(db: Pick<Db, 'transaction'>): Promise<BusinessSnapshot> {
  return db.transaction(async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
    // Asking first, rather than catching "relation does not exist", keeps the transaction usable
    // for the views that do exist.
    const exists = (await client.query<Record<View, boolean>>(`SELECT ${views.map((v) => `to_regclass('analytics.${v}') IS NOT NULL AS ${v}`).join(', ')}`)).rows[0];
    const read = async <R extends QueryResultRow>(view: View): Promise<R[] | null> => (exists?.[view] ? (await client.query<R>(queries[view])).rows : null);
    const mrr = await read<{ currency: string; cents: number }>('customer_mrr');
    const delivery = await read<{ channel: string | null; category: string | null; sent: number; failed: number; recent_sent: number; recent_delivered: number; recent_bounced: number }>(
      'delivery_metrics_daily',
    );
    const dunning = await read<{ key: string | null; n: number }>('dunning_cases');
    const fraud = await read<{ key: string | null; n: number }>('fraud_scores');
    return {
      mrr: mrr && mrr.map((r) => ({ currency: r.currency, cents: r.cents })),
      delivery:
        delivery &&
        delivery.map((r) => ({
          channel: r.channel,
          category: r.category,
          sent: r.sent,
          failed: r.failed,
          recentSent: r.recent_sent,
          recentDelivered: r.recent_delivered,
          recentBounced: r.recent_bounced,
        })),
      dunning: dunning && dunning.map((r) => ({ key: r.key, n: r.n })),
      fraud: fraud && fraud.map((r) => ({ key: r.key, n: r.n })),
    };
  });
}

// ---- The metrics --------------------------------------------------------------------------------

export interface BusinessMetricsOptions {
  /** The notification categories (notify/template-categories.ts): the closed vocabulary of `category`. */
  readonly categories: readonly string[];
  readonly log: Logger;
  readonly refreshMs?: number;
  /** The clock deciding when values are stale (tests move it). */
  readonly now?: () => number;
}

export class BusinessMetrics {
  readonly registry = new client.Registry();
  private readonly db: Pick<Db, 'transaction'>;
  private readonly categories: readonly string[];
  private readonly log: Logger;
  private readonly refreshMs: number;
  private readonly now: () => number;
  private lastAttempt: number | null = null;
  private inFlight: Promise<void> | null = null;

  private readonly mrr = new client.Gauge({
    name: 'eventline_mrr_cents',
    help: `MRR now in minor units per currency (sum of analytics.customer_mrr); the ${MAX_CURRENCIES} currencies with the most MRR, the rest as currency="${OTHER_CURRENCY}".`,
    labelNames: ['currency'] as const,
    registers: [this.registry],
  });
  // Counters whose value is read, not incremented: the read model only grows (a message once sent
  // stays sent), so Prometheus' rate() and increase() apply.
  private readonly sent = new client.Counter({
    name: 'eventline_notifications_sent_total',
    help: 'Messages (one per notification and channel) handed to a provider or the local outbox, from the delivery read model.',
    labelNames: ['channel', 'category'] as const,
    registers: [this.registry],
  });
  private readonly failed = new client.Counter({
    name: 'eventline_notifications_failed_total',
    help: 'Messages that failed: sending failed, the provider dropped them, or an SMS failed or was undelivered (analytics.delivery_metrics_daily `failed`).',
    labelNames: ['channel', 'category'] as const,
    registers: [this.registry],
  });
  private readonly deliveryRate = new client.Gauge({
    name: 'eventline_delivery_rate',
    help: `Delivered / sent over messages sent on the last ${RATE_DAYS} UTC days (analytics.delivery_metrics_daily); no series while nothing was sent.`,
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  private readonly bounceRate = new client.Gauge({
    name: 'eventline_bounce_rate',
    help: `Bounced / sent over messages sent on the last ${RATE_DAYS} UTC days (analytics.delivery_metrics_daily); no series while nothing was sent.`,
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  private readonly dunning = new client.Gauge({
    name: 'eventline_dunning_cases',
    help: 'Dunning cases by state (analytics.dunning_cases): open, or how they closed.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  private readonly fraud = new client.Counter({
    name: 'eventline_fraud_actions_total',
    help: 'Scored payment events by the action decided (analytics.fraud_scores).',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  private readonly errors = new client.Counter({
    name: 'eventline_business_metrics_errors_total',
    help: 'Refreshes of the business metrics that failed to read the analytics views (the last values were kept).',
    registers: [this.registry],
  });

  constructor(db: Pick<Db, 'transaction'>, options: BusinessMetricsOptions) {
    this.db = db;
    this.categories = [...new Set([...options.categories, UNKNOWN])];
    this.log = options.log.child({ component: 'business-metrics' });
    this.refreshMs = options.refreshMs ?? REFRESH_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Brings the values up to date if the last attempt is older than the refresh interval; the
   * scrape that starts a refresh waits for it, one that comes while it runs does not. Never throws.
   */
  async refresh(): Promise<void> {
    if (this.inFlight) return;
    const now = this.now();
    if (this.lastAttempt !== null && now - this.lastAttempt < this.refreshMs) return;
    // Stamped at the attempt, not the success: a database that is down is asked once per interval.
    this.lastAttempt = now;
    this.inFlight = readSnapshot(this.db)
      .then((snapshot) => this.apply(snapshot))
      .catch((err: unknown) => {
        this.errors.inc();
        this.log.warn({ err: errorMessage(err) }, 'business metrics not refreshed; serving the last values');
      })
      .finally(() => {
        this.inFlight = null;
      });
    await this.inFlight;
  }

  /** Replaces every series at once (synchronously, so no scrape renders half of a refresh). */
  private apply(s: BusinessSnapshot): void {
    this.mrr.reset();
    for (const r of s.mrr ? foldCurrencies(s.mrr) : []) this.mrr.set({ currency: r.currency }, r.cents);
    this.sent.reset();
    this.failed.reset();
    for (const r of s.delivery ? byChannelAndCategory(s.delivery, this.categories) : []) {
      this.sent.inc({ channel: r.channel, category: r.category }, r.sent);
      this.failed.inc({ channel: r.channel, category: r.category }, r.failed);
    }
    this.deliveryRate.reset();
    this.bounceRate.reset();
    for (const r of s.delivery ? ratesByChannel(s.delivery) : []) {
      if (r.delivery !== null) this.deliveryRate.set({ channel: r.channel }, r.delivery);
      if (r.bounce !== null) this.bounceRate.set({ channel: r.channel }, r.bounce);
    }
    this.dunning.reset();
    for (const [state, n] of s.dunning ? countsBySymbol(s.dunning, dunningStates) : []) this.dunning.set({ state }, n);
    this.fraud.reset();
    for (const [action, n] of s.fraud ? countsBySymbol(s.fraud, fraudActions) : []) this.fraud.inc({ action }, n);
  }
}
