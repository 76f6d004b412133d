/**
 * What the dashboard shows, read from the analytics views (the same numbers analysts query).
 * A view that does not exist yet (its projection never ran) reads as empty. Recipient addresses of
 * the outbox are personal data: masked (`a***@example.com`, `+1******0123`) unless the caller may
 * see them (a key with `admin`).
 */
import type { Db, QueryResultRow } from '../lib/db.ts';
import { activeVersion } from '../lib/projection-versions.ts';
import type { Runtime } from '../lib/runtime.ts';
import { maskPersonal, type Json } from './mask.ts';
import { monthRange, type MonthRange } from './range.ts';

async function rows<R extends QueryResultRow>(db: Db, sql: string, values: unknown[] = []): Promise<R[]> {
  try {
    return (await db.query<R>(sql, values)).rows;
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return [];
    throw err;
  }
}

/** An email address or phone number with all but its first character (and a phone's last four digits) hidden; the domain stays. */
export function maskRecipient(recipient: string): string {
  const at = recipient.lastIndexOf('@');
  if (at >= 0) return `${recipient.slice(0, Math.min(at, 1))}***@${recipient.slice(at + 1)}`;
  if (/^\+?[\d\s().-]{6,}$/.test(recipient)) {
    const digits = recipient.replace(/\D/g, '');
    const plus = recipient.trim().startsWith('+') ? '+' : '';
    if (digits.length < 8) return `${plus}${'*'.repeat(digits.length)}`;
    return `${plus}${digits.slice(0, 1)}${'*'.repeat(digits.length - 5)}${digits.slice(-4)}`;
  }
  return `${recipient.slice(0, 1)}***`;
}

export interface DashboardOptions {
  /** Show outbox recipients in full (admin keys); masked otherwise. */
  readonly revealRecipients: boolean;
}

export interface DashboardData {
  readonly currency: string;
  readonly currencies: readonly string[];
  /** The months shown (the default filled in): every time series below keeps to them. */
  readonly range: MonthRange;
  readonly kpis: { mrrCents: number; payingCustomers: number; netNewCents: number; churnCents: number; arpaCents: number | null };
  readonly daily: readonly { day: string; mrr_cents: number; paying_customers: number }[];
  /** Today's MRR split (mrr_status_daily): active, past due, and already set to cancel. */
  readonly status: { readonly activeCents: number; readonly pastDueCents: number; readonly scheduledChurnCents: number } | null;
  /** The SaaS metrics of the range's months (saas_metrics_monthly), newest first: the first row is the tiles'. */
  readonly saas: readonly Record<string, unknown>[];
  /** The MRR bridge (mrr_monthly) of the range's months, oldest first; the movements chart draws it. */
  readonly monthly: readonly Record<string, unknown>[];
  /** The latest 25 movements within the range. */
  readonly movements: readonly Record<string, unknown>[];
  readonly cohorts: readonly { cohort_month: string; months_since_start: number; cohort_customers: number; retained_customers: number; cohort_mrr_cents: number; retained_mrr_cents: number }[];
  readonly delivery: readonly Record<string, unknown>[];
  /** Each provider over the last 30 days: delivery (provider_health) and what it cost (messaging_costs). */
  readonly providers: readonly Record<string, unknown>[];
  /**
   * Every template experiment over all time (template_experiments has no time column, so no
   * window): one row per experiment, template and variant, as the view has it.
   */
  readonly experiments: readonly Record<string, unknown>[];
  readonly notifications: readonly Record<string, unknown>[];
  readonly outbox: readonly Record<string, unknown>[];
  readonly fraud: readonly Record<string, unknown>[];
  /** Cases by status, the latest cases, and recovery (analytics.dunning_recovery) of the range's months, newest first. */
  readonly dunning: { readonly byStatus: readonly Record<string, unknown>[]; readonly latest: readonly Record<string, unknown>[]; readonly recovery: readonly Record<string, unknown>[] };
}

async function statusNow(db: Db, currency: string): Promise<DashboardData['status']> {
  const [now] = await rows<{ active: string; past_due: string; scheduled: string }>(
    db,
    `SELECT active_mrr_cents AS active, past_due_mrr_cents AS past_due, scheduled_churn_mrr_cents AS scheduled FROM analytics.mrr_status_daily
     WHERE currency = $1 AND day = (now() AT TIME ZONE 'UTC')::date`,
    [currency],
  );
  return now ? { activeCents: Number(now.active), pastDueCents: Number(now.past_due), scheduledChurnCents: Number(now.scheduled) } : null;
}

/** A month's first day and the next month's, for `$n` holding `YYYY-MM` (validated by web/range.ts). */
const monthStart = (param: string) => `(${param} || '-01')::date`;
const monthAfter = (param: string) => `((${param} || '-01')::date + interval '1 month')::date`;

/**
 * The dashboard for one currency (the requested one when it has MRR, else the largest) over a
 * range of months. The time series (bridge, SaaS metrics, daily MRR, latest movements, cohorts)
 * keep to the range; the KPIs are today's; the operational lists (delivery, notifications,
 * outbox, fraud, dunning, providers) are neither per currency nor per month and keep their own windows;
 * the template experiments are all time (their view has no time to filter by).
 */
export async function dashboardData(
  db: Db,
  requested: string | undefined,
  // The default (the last 12 months) serves callers that predate the range, such as the bench.
  range: MonthRange = monthRange(undefined, undefined, new Date()),
  options: DashboardOptions = { revealRecipients: false },
): Promise<DashboardData> {
  const currencies = (await rows<{ currency: string }>(db, 'SELECT currency FROM analytics.customer_mrr GROUP BY currency ORDER BY sum(mrr_cents) DESC')).map((r) => r.currency);
  const currency = requested && currencies.includes(requested) ? requested : (currencies[0] ?? 'usd');
  const inRange = [currency, range.from, range.to];
  const [now] = await rows<{ mrr: number | null; paying: number }>(
    db,
    'SELECT sum(mrr_cents)::bigint AS mrr, (count(*) FILTER (WHERE mrr_cents > 0))::int AS paying FROM analytics.customer_mrr WHERE currency = $1',
    [currency],
  );
  // The KPIs' "this month" is the bridge's newest month (the current one), whatever the range.
  const [current] = await rows<{ closing_mrr_cents: number; opening_mrr_cents: number; churn_cents: number }>(
    db,
    'SELECT opening_mrr_cents, churn_cents, closing_mrr_cents FROM analytics.mrr_monthly WHERE currency = $1 ORDER BY month DESC LIMIT 1',
    [currency],
  );
  const mrr = Number(now?.mrr ?? 0);
  const paying = now?.paying ?? 0;
  return {
    currency,
    currencies,
    range,
    kpis: {
      mrrCents: mrr,
      payingCustomers: paying,
      netNewCents: current ? Number(current.closing_mrr_cents) - Number(current.opening_mrr_cents) : 0,
      churnCents: current ? Number(current.churn_cents) : 0,
      arpaCents: paying > 0 ? Math.round(mrr / paying) : null,
    },
    status: await statusNow(db, currency),
    saas: await rows(
      db,
      `SELECT to_char(month, 'YYYY-MM') AS month, arr_cents, net_new_mrr_cents, customers_opening, customers_closing, new_customers, churned_customers, reactivated_customers,
              quick_ratio::float8 AS quick_ratio, gross_mrr_churn_rate::float8 AS gross_mrr_churn_rate, grr::float8 AS grr, nrr::float8 AS nrr,
              logo_churn_rate::float8 AS logo_churn_rate, arpa_cents, ltv_cents
       FROM analytics.saas_metrics_monthly WHERE currency = $1 AND month >= ${monthStart('$2')} AND month < ${monthAfter('$3')} ORDER BY month DESC`,
      inRange,
    ),
    daily: await rows(
      db,
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, mrr_cents, paying_customers FROM analytics.mrr_daily
       WHERE currency = $1 AND day >= ${monthStart('$2')} AND day < ${monthAfter('$3')} ORDER BY day`,
      inRange,
    ),
    monthly: await rows(
      db,
      `SELECT to_char(month, 'YYYY-MM') AS month, opening_mrr_cents, new_cents, expansion_cents, contraction_cents, churn_cents, reactivation_cents, closing_mrr_cents
       FROM analytics.mrr_monthly WHERE currency = $1 AND month >= ${monthStart('$2')} AND month < ${monthAfter('$3')} ORDER BY month`,
      inRange,
    ),
    movements: await rows(
      db,
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS at, customer_id, movement, delta_cents, mrr_after_cents
       FROM analytics.mrr_movements m
       WHERE currency = $1 AND m.occurred_at >= ${monthStart('$2')}::timestamp AT TIME ZONE 'UTC' AND m.occurred_at < ${monthAfter('$3')}::timestamp AT TIME ZONE 'UTC'
       ORDER BY m.occurred_at DESC, customer_id LIMIT 25`,
      inRange,
    ),
    cohorts: await rows(
      db,
      `SELECT to_char(cohort_month, 'YYYY-MM') AS cohort_month, months_since_start, cohort_customers, retained_customers, cohort_mrr_cents, retained_mrr_cents
       FROM analytics.cohort_retention WHERE currency = $1 AND cohort_month >= ${monthStart('$2')} AND cohort_month < ${monthAfter('$3')} AND months_since_start <= 12
       ORDER BY cohort_month, months_since_start`,
      inRange,
    ),
    delivery: await rows(
      db,
      `SELECT channel, template, sum(sent)::int AS sent, sum(delivered)::int AS delivered, sum(opened)::int AS opened, sum(clicked)::int AS clicked,
              sum(bounced)::int AS bounced, sum(failed)::int AS failed, round(sum(delivered)::numeric / NULLIF(sum(sent), 0), 3)::float8 AS delivery_rate,
              round(sum(opened)::numeric / NULLIF(sum(delivered), 0), 3)::float8 AS open_rate
       FROM analytics.delivery_metrics_daily WHERE day > current_date - 30 GROUP BY 1, 2 ORDER BY sent DESC LIMIT 30`,
    ),
    providers: await rows(
      db,
      `SELECT h.channel, h.provider, h.sent, h.delivered, h.failed,
              round(h.delivered::numeric / NULLIF(h.delivered + h.failed, 0), 4)::float8 AS success_rate, h.failovers, h.probes,
              c.currency, c.cost_micros
       FROM (SELECT channel, provider, sum(sent)::int AS sent, sum(delivered)::int AS delivered, sum(failed)::int AS failed, sum(failovers)::int AS failovers, sum(probes)::int AS probes
             FROM analytics.provider_health WHERE day > current_date - 30 GROUP BY 1, 2) h
       LEFT JOIN (SELECT channel, provider, min(currency) AS currency, sum(cost_micros)::bigint AS cost_micros
                  FROM analytics.messaging_costs WHERE day > current_date - 30 GROUP BY 1, 2) c USING (channel, provider)
       ORDER BY h.channel, h.sent DESC, h.provider`,
    ),
    experiments: await rows(
      db,
      `SELECT experiment, template, variant, sent, delivered, opened, clicked, open_rate::float8 AS open_rate, click_rate::float8 AS click_rate,
              click_lift_vs_control::float8 AS click_lift_vs_control, p_value, winner
       FROM analytics.template_experiments ORDER BY experiment, template, variant`,
    ),
    notifications: await rows(
      db,
      // n.requested_at: a bare name in ORDER BY would be the formatted output column of that name,
      // sorting every notification by its text instead of reading the newest through the index.
      `SELECT notification_id, user_id, template, category, priority, status, to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS requested_at, channels
       FROM analytics.notifications n ORDER BY n.requested_at DESC NULLS LAST LIMIT 25`,
    ),
    outbox: (
      await rows<{ recipient: string | null } & Record<string, unknown>>(
        db,
        `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at, channel, recipient, COALESCE(subject, left(body_text, 80)) AS summary, notification_id
         FROM dispatch.outbox ORDER BY id DESC LIMIT 20`,
      )
    ).map((r) => (options.revealRecipients || r.recipient === null ? r : { ...r, recipient: maskRecipient(r.recipient) })),
    fraud: await rows(
      db,
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS at, customer_id, payment_id, amount_cents, currency, score::float8 AS score, action, factor_names
       FROM analytics.fraud_scores WHERE action <> 'allow' ORDER BY occurred_at DESC LIMIT 15`,
    ),
    dunning: {
      byStatus: await rows(db, `SELECT status, count(*)::int AS cases, sum(amount_due_cents)::bigint AS amount_cents FROM analytics.dunning_cases GROUP BY status ORDER BY cases DESC`),
      latest: await rows(
        db,
        `SELECT invoice_id, customer_id, to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS opened, status, amount_due_cents, currency, churn_risk::float8 AS churn_risk, reminders_sent
         FROM analytics.dunning_cases ORDER BY opened_at DESC LIMIT 15`,
      ),
      recovery: await rows(
        db,
        `SELECT to_char(month, 'YYYY-MM') AS month, currency, decline_class, step, cases::int AS cases, recovered::int AS recovered, recovery_rate::float8 AS recovery_rate,
                recovered_amount_cents::bigint AS recovered_amount_cents, recovered_mrr_cents::bigint AS recovered_mrr_cents, round(median_days_to_recover::numeric, 1)::float8 AS median_days
         FROM analytics.dunning_recovery WHERE month >= ${monthStart('$1')} AND month < ${monthAfter('$2')}
         ORDER BY month DESC, currency, decline_class, step LIMIT 60`,
        [range.from, range.to],
      ),
    },
  };
}

// ---------------------------------------------------------------- drill-down: month → movements → why

/**
 * A movement as the drill-down lists it. `seq` is the dashboard's key for it: its position (from 0)
 * among the customer's movements in that currency in analytics.mrr_movements, by time then Stripe
 * event id (byte order). One point of a customer's timeline makes at most one movement per
 * currency, so the key is unique; the views do not expose the projection's own sequence number.
 */
export interface MovementRow {
  readonly seq: number;
  readonly at: string;
  readonly customer_id: string;
  readonly movement: string;
  readonly delta_cents: number;
  readonly mrr_before_cents: number;
  readonly mrr_after_cents: number;
  readonly stripe_event_id: string;
}

export interface MonthMovements {
  readonly currency: string;
  readonly month: string;
  /** How many movements the month has; `movements` holds the first MONTH_LIMIT of them. */
  readonly total: number;
  readonly movements: readonly MovementRow[];
}

/** One subscription's part of a movement (analytics.mrr_lineage). */
export interface MovementPart {
  readonly subscription_id: string;
  readonly subscription_mrr_before_cents: number;
  readonly subscription_mrr_after_cents: number;
  readonly delta_cents: number;
  readonly stripe_event_id: string;
}

/** A subscription version as the MRR projection keeps it, personal fields masked. */
export interface VersionShown {
  readonly subscription_id: string;
  readonly event_id: string;
  readonly at: string;
  /** This version came with the movement's own Stripe event (else it was in force before it). */
  readonly at_movement_event: boolean;
  readonly state: Json;
}

export interface MovementDetail {
  readonly currency: string;
  readonly movement: MovementRow;
  readonly subscriptions: readonly MovementPart[];
  readonly versions: readonly VersionShown[];
}

/** The lineage columns of the detail query: null when the movement has no parts. */
interface PartColumns {
  readonly part_subscription: string | null;
  readonly part_before_cents: number | null;
  readonly part_after_cents: number | null;
  readonly part_delta_cents: number | null;
  readonly part_event: string | null;
}

/** A month's list is for reading, not exporting: past this many rows analysts query the view. */
export const MONTH_LIMIT = 500;

/** Every movement with its `seq` (MovementRow); callers filter by customer and currency. */
const NUMBERED = `SELECT m.*, (row_number() OVER (PARTITION BY m.customer_id, m.currency ORDER BY m.occurred_at, m.stripe_event_id COLLATE "C") - 1)::int AS seq
  FROM analytics.mrr_movements m`;
const MOVEMENT_COLUMNS = `seq, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at, customer_id, movement, delta_cents, mrr_before_cents, mrr_after_cents, stripe_event_id`;

/** The movements of one UTC month (`YYYY-MM`, validated by the route) in one currency, oldest first. */
export async function monthMovements(db: Db, currency: string, month: string): Promise<MonthMovements> {
  // The month's bounds in SQL: JavaScript's Date.UTC reads years 0 to 99 as 1900 to 1999.
  const from = `($2 || '-01')::timestamp AT TIME ZONE 'UTC'`;
  const to = `(($2 || '-01')::timestamp + interval '1 month') AT TIME ZONE 'UTC'`;
  // Only the customers moving in the month are numbered, over their movements up to its end: a
  // seq counts earlier movements only, so later ones need not be read.
  const found = await rows<MovementRow & { total: number }>(
    db,
    `WITH movers AS (
       SELECT DISTINCT customer_id FROM analytics.mrr_movements WHERE currency = $1 AND occurred_at >= ${from} AND occurred_at < ${to}
     ), numbered AS (
       ${NUMBERED} JOIN movers USING (customer_id) WHERE m.currency = $1 AND m.occurred_at < ${to}
     )
     SELECT ${MOVEMENT_COLUMNS}, (count(*) OVER ())::int AS total
     FROM numbered WHERE occurred_at >= ${from} ORDER BY occurred_at, customer_id, seq LIMIT ${MONTH_LIMIT}`,
    [currency, month],
  );
  return { currency, month, total: found[0]?.total ?? 0, movements: found.map(({ total: _, ...m }) => m) };
}

/**
 * One movement with why it happened: the subscriptions whose MRR changed at its Stripe event
 * (mrr_lineage) and, for each, the version in force at the movement and the one before it, as
 * the MRR projection keeps them (`state`, personal fields masked). No table keeps the Stripe
 * event's payload itself (it is on the Kafka topic only), so the versions stand in for it. Null
 * when there is no such movement.
 */
export async function movementDetail(db: Db, currency: string, customerId: string, seq: number): Promise<MovementDetail | null> {
  // One statement for the movement and its parts: a recompute of the customer's timeline between
  // two statements could renumber its movements.
  const found = await rows<MovementRow & PartColumns & { occurred_at: string }>(
    db,
    `WITH movement AS (
       SELECT ${MOVEMENT_COLUMNS}, currency, occurred_at FROM (${NUMBERED} WHERE m.customer_id = $1 AND m.currency = $2) n WHERE seq = $3
     )
     SELECT m.seq, m.at, m.customer_id, m.movement, m.delta_cents, m.mrr_before_cents, m.mrr_after_cents, m.stripe_event_id,
            m.occurred_at::text AS occurred_at, l.subscription_id AS part_subscription,
            l.subscription_mrr_before_cents AS part_before_cents, l.subscription_mrr_after_cents AS part_after_cents, l.delta_cents AS part_delta_cents,
            l.stripe_event_id AS part_event
     FROM movement m LEFT JOIN analytics.mrr_lineage l
       ON l.customer_id = m.customer_id AND l.currency = m.currency AND l.occurred_at = m.occurred_at AND l.stripe_event_id = m.stripe_event_id
     ORDER BY l.subscription_id`,
    [customerId, currency, seq],
  );
  const first = found[0];
  if (!first) return null;
  const movement: MovementRow = {
    seq: first.seq,
    at: first.at,
    customer_id: first.customer_id,
    movement: first.movement,
    delta_cents: first.delta_cents,
    mrr_before_cents: first.mrr_before_cents,
    mrr_after_cents: first.mrr_after_cents,
    stripe_event_id: first.stripe_event_id,
  };
  // LEFT JOIN: a movement always has parts (they sum to its delta), but the page still shows the
  // movement should the lineage disagree.
  const subscriptions: MovementPart[] = found.flatMap((r) =>
    r.part_subscription === null
      ? []
      : [
          {
            subscription_id: r.part_subscription,
            subscription_mrr_before_cents: Number(r.part_before_cents),
            subscription_mrr_after_cents: Number(r.part_after_cents),
            delta_cents: Number(r.part_delta_cents),
            stripe_event_id: String(r.part_event),
          },
        ],
  );
  return { currency, movement, subscriptions, versions: await versionsAt(db, customerId, subscriptions.map((s) => s.subscription_id), first.occurred_at, movement.stripe_event_id) };
}

/**
 * Per subscription, the last two versions at or before the point (time, event id) of a movement,
 * in the active MRR version's schema (the one the views read). A version is the projection's
 * normalized state of the subscription object, not Stripe's payload.
 */
async function versionsAt(db: Db, customerId: string, subscriptionIds: readonly string[], occurredAt: string, eventId: string): Promise<VersionShown[]> {
  if (subscriptionIds.length === 0) return [];
  const active = await activeVersion(db, 'mrr');
  // The name comes from our own table; checked anyway, since it is spliced into the SQL.
  if (!active || !/^[a-z_][a-z0-9_]*$/.test(active.schema)) return [];
  const found = await rows<{ subscription_id: string; event_id: string; at: string; state: Json }>(
    db,
    `SELECT subscription_id, event_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at, state
     FROM (
       SELECT v.*, row_number() OVER (PARTITION BY v.subscription_id ORDER BY v.created_at DESC, v.event_id COLLATE "C" DESC) AS k
       FROM ${active.schema}.subscription_versions v
       WHERE v.customer_id = $1 AND v.subscription_id = ANY($2::text[])
         AND (v.created_at < $3::timestamptz OR (v.created_at = $3::timestamptz AND v.event_id COLLATE "C" <= $4))
     ) x
     WHERE k <= 2 ORDER BY subscription_id, created_at, event_id COLLATE "C"`,
    [customerId, subscriptionIds, occurredAt, eventId],
  );
  return found.map((v) => ({ subscription_id: v.subscription_id, event_id: v.event_id, at: v.at, at_movement_event: v.event_id === eventId, state: maskPersonal(v.state) }));
}

/** A Stripe event as Eventline received it (stripe.events.v1), for the drill-down: personal fields masked. */
export interface StripeEventShown {
  readonly event_id: string;
  readonly received_at: string;
  readonly source: string;
  readonly partition: number;
  readonly offset: string;
  readonly event: Json;
}

/**
 * The Stripe event behind a subscription version of `customerId`, read from stripe.events.v1 at the
 * partition and offset the active MRR version kept for it (one record, through a throwaway consumer
 * group: a second or two). Null when the version is unknown, predates kept positions, or the record
 * has left the topic's retention.
 */
export async function stripeEventShown(rt: Runtime, customerId: string, eventId: string): Promise<StripeEventShown | null> {
  const active = await activeVersion(rt.db, 'mrr');
  if (!active || !/^[a-z_][a-z0-9_]*$/.test(active.schema)) return null;
  const at = await rows<{ kafka_partition: number | null; kafka_offset: string | null }>(
    rt.db,
    `SELECT kafka_partition, kafka_offset::text FROM ${active.schema}.subscription_versions
     WHERE customer_id = $1 AND event_id = $2 AND kafka_partition IS NOT NULL LIMIT 1`,
    [customerId, eventId],
  );
  const position = at[0];
  if (!position || position.kafka_partition === null || position.kafka_offset === null) return null;
  let found: StripeEventShown | null = null;
  await rt.kafka.readToEnd(
    'stripe.events.v1',
    (r) => {
      if (r.value.event_id !== eventId) return;
      let event: unknown;
      try {
        event = JSON.parse(r.value.payload);
      } catch {
        event = { unreadable: true };
      }
      found = { event_id: eventId, received_at: new Date(r.value.received_at).toISOString(), source: r.value.source, partition: r.partition, offset: r.offset, event: maskPersonal(event as Json) };
    },
    { at: { partition: position.kafka_partition, offset: position.kafka_offset } },
  );
  return found;
}

