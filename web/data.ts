/**
 * What the dashboard shows, read from the analytics views (the same numbers analysts query).
 * A view that does not exist yet (its projection never ran) reads as empty. Recipient addresses of
 * the outbox are personal data: masked (`a***@example.com`, `+1******0123`) unless the caller may
 * see them (a key with `admin`).
 */
import type { Db, QueryResultRow } from '../lib/db.ts';

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
  readonly kpis: { mrrCents: number; payingCustomers: number; netNewCents: number; churnCents: number; arpaCents: number | null };
  readonly daily: readonly { day: string; mrr_cents: number; paying_customers: number }[];
  /** Today's MRR split (mrr_status_daily): active, past due, and already set to cancel. */
  readonly status: { readonly activeCents: number; readonly pastDueCents: number; readonly scheduledChurnCents: number } | null;
  /** The SaaS metrics of the last 12 months (saas_metrics_monthly), newest first. */
  readonly saas: readonly Record<string, unknown>[];
  readonly monthly: readonly Record<string, unknown>[];
  readonly movements: readonly Record<string, unknown>[];
  readonly cohorts: readonly { cohort_month: string; months_since_start: number; cohort_customers: number; retained_customers: number; cohort_mrr_cents: number; retained_mrr_cents: number }[];
  readonly delivery: readonly Record<string, unknown>[];
  readonly notifications: readonly Record<string, unknown>[];
  readonly outbox: readonly Record<string, unknown>[];
  readonly fraud: readonly Record<string, unknown>[];
  readonly dunning: { readonly byStatus: readonly Record<string, unknown>[]; readonly latest: readonly Record<string, unknown>[] };
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

export async function dashboardData(db: Db, requested: string | undefined, options: DashboardOptions = { revealRecipients: false }): Promise<DashboardData> {
  const currencies = (await rows<{ currency: string }>(db, 'SELECT currency FROM analytics.customer_mrr GROUP BY currency ORDER BY sum(mrr_cents) DESC')).map((r) => r.currency);
  const currency = requested && currencies.includes(requested) ? requested : (currencies[0] ?? 'usd');
  const [now] = await rows<{ mrr: number | null; paying: number }>(
    db,
    'SELECT sum(mrr_cents)::bigint AS mrr, (count(*) FILTER (WHERE mrr_cents > 0))::int AS paying FROM analytics.customer_mrr WHERE currency = $1',
    [currency],
  );
  const monthly = await rows(
    db,
    `SELECT to_char(month, 'YYYY-MM') AS month, opening_mrr_cents, new_cents, expansion_cents, contraction_cents, churn_cents, reactivation_cents, closing_mrr_cents
     FROM analytics.mrr_monthly WHERE currency = $1 ORDER BY month DESC LIMIT 12`,
    [currency],
  );
  const current = monthly[0] as { closing_mrr_cents?: number; opening_mrr_cents?: number; churn_cents?: number } | undefined;
  const mrr = Number(now?.mrr ?? 0);
  const paying = now?.paying ?? 0;
  return {
    currency,
    currencies,
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
      `SELECT to_char(month, 'YYYY-MM') AS month, arr_cents, net_new_mrr_cents, customers_closing, new_customers, churned_customers, reactivated_customers,
              quick_ratio::float8 AS quick_ratio, gross_mrr_churn_rate::float8 AS gross_mrr_churn_rate, nrr::float8 AS nrr, logo_churn_rate::float8 AS logo_churn_rate, arpa_cents, ltv_cents
       FROM analytics.saas_metrics_monthly WHERE currency = $1 ORDER BY month DESC LIMIT 12`,
      [currency],
    ),
    daily: await rows(
      db,
      "SELECT to_char(day, 'YYYY-MM-DD') AS day, mrr_cents, paying_customers FROM analytics.mrr_daily WHERE currency = $1 AND day > current_date - 400 ORDER BY day",
      [currency],
    ),
    monthly: [...monthly].reverse(),
    movements: await rows(
      db,
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS at, customer_id, movement, delta_cents, mrr_after_cents
       FROM analytics.mrr_movements WHERE currency = $1 ORDER BY occurred_at DESC, customer_id LIMIT 25`,
      [currency],
    ),
    cohorts: await rows(
      db,
      `SELECT to_char(cohort_month, 'YYYY-MM') AS cohort_month, months_since_start, cohort_customers, retained_customers, cohort_mrr_cents, retained_mrr_cents
       FROM analytics.cohort_retention WHERE currency = $1 AND cohort_month > current_date - interval '13 months' AND months_since_start <= 12
       ORDER BY cohort_month, months_since_start`,
      [currency],
    ),
    delivery: await rows(
      db,
      `SELECT channel, template, sum(sent)::int AS sent, sum(delivered)::int AS delivered, sum(opened)::int AS opened, sum(clicked)::int AS clicked,
              sum(bounced)::int AS bounced, sum(failed)::int AS failed, round(sum(delivered)::numeric / NULLIF(sum(sent), 0), 3)::float8 AS delivery_rate,
              round(sum(opened)::numeric / NULLIF(sum(delivered), 0), 3)::float8 AS open_rate
       FROM analytics.delivery_metrics_daily WHERE day > current_date - 30 GROUP BY 1, 2 ORDER BY sent DESC LIMIT 30`,
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
    },
  };
}
