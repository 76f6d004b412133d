/**
 * Two versions of the MRR projection side by side (`eventline projections compare mrr <a> <b>`),
 * before any switch: each version's monthly bridge (the movements of each kind per month and
 * currency, net new MRR, MRR at the month's end), and every customer-month whose MRR at the
 * month's end differs between them, read from each version's own tables.
 */
import type { Db } from '../../lib/db.ts';

export interface BridgeMonth {
  /** YYYY-MM (UTC). */
  readonly month: string;
  readonly currency: string;
  readonly newCents: number;
  readonly expansionCents: number;
  readonly reactivationCents: number;
  readonly contractionCents: number;
  readonly churnCents: number;
  readonly netNewCents: number;
  /** MRR at the month's end: every movement up to then. */
  readonly mrrEndCents: number;
}

export interface CustomerMonthDifference {
  readonly customerId: string;
  readonly currency: string;
  readonly month: string;
  /** MRR at the month's end in version a and in version b. */
  readonly aCents: number;
  readonly bCents: number;
}

export interface Comparison {
  readonly a: { readonly schema: string; readonly bridge: readonly BridgeMonth[] };
  readonly b: { readonly schema: string; readonly bridge: readonly BridgeMonth[] };
  /** Customer-months that differ, by customer then month (at most `limit` of them). */
  readonly differences: readonly CustomerMonthDifference[];
  /** How many customer-months differ, and how many customers, in all. */
  readonly differingCustomerMonths: number;
  readonly differingCustomers: number;
}

const SCHEMA = /^[a-z_][a-z0-9_]{0,60}$/;

export async function bridge(db: Db, schema: string): Promise<BridgeMonth[]> {
  if (!SCHEMA.test(schema)) throw new RangeError(`not a schema name: ${schema}`);
  const res = await db.query<Record<string, string>>(
    `SELECT month, currency, new, expansion, reactivation, contraction, churn, net,
            sum(net) OVER (PARTITION BY currency ORDER BY month)::bigint AS mrr_end
       FROM (SELECT to_char(date_trunc('month', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, currency,
                    COALESCE(sum(delta_cents) FILTER (WHERE movement = 'new'), 0)::bigint AS new,
                    COALESCE(sum(delta_cents) FILTER (WHERE movement = 'expansion'), 0)::bigint AS expansion,
                    COALESCE(sum(delta_cents) FILTER (WHERE movement = 'reactivation'), 0)::bigint AS reactivation,
                    COALESCE(sum(delta_cents) FILTER (WHERE movement = 'contraction'), 0)::bigint AS contraction,
                    COALESCE(sum(delta_cents) FILTER (WHERE movement = 'churn'), 0)::bigint AS churn,
                    sum(delta_cents)::bigint AS net
               FROM ${schema}.movements GROUP BY 1, 2) m
      ORDER BY month, currency`,
  );
  return res.rows.map((r) => ({
    month: String(r.month),
    currency: String(r.currency),
    newCents: Number(r.new),
    expansionCents: Number(r.expansion),
    reactivationCents: Number(r.reactivation),
    contractionCents: Number(r.contraction),
    churnCents: Number(r.churn),
    netNewCents: Number(r.net),
    mrrEndCents: Number(r.mrr_end),
  }));
}

/**
 * Each customer's MRR per currency at the end of every month from the first movement of either
 * version to the last (the last movement at or before the month's end, else 0), compared.
 */
export async function compareVersions(db: Db, schemaA: string, schemaB: string, options: { limit?: number } = {}): Promise<Comparison> {
  for (const s of [schemaA, schemaB]) if (!SCHEMA.test(s)) throw new RangeError(`not a schema name: ${s}`);
  const limit = options.limit ?? 100;
  const monthEnd = (schema: string) => `(SELECT mrr_after_cents FROM ${schema}.movements x
        WHERE x.customer_id = k.customer_id AND x.currency = k.currency AND x.occurred_at < m.month + interval '1 month'
        ORDER BY x.occurred_at DESC, x.seq DESC LIMIT 1)`;
  const res = await db.query<{ customer_id: string; currency: string; month: string; a: string; b: string; customer_months: string; customers: string }>(
    `WITH span AS (
       SELECT min(occurred_at) AS lo, max(occurred_at) AS hi
         FROM (SELECT occurred_at FROM ${schemaA}.movements UNION ALL SELECT occurred_at FROM ${schemaB}.movements) o),
     months AS (
       SELECT generate_series(date_trunc('month', lo AT TIME ZONE 'UTC'), date_trunc('month', hi AT TIME ZONE 'UTC'), interval '1 month') AT TIME ZONE 'UTC' AS month
         FROM span WHERE lo IS NOT NULL),
     keys AS (
       SELECT customer_id, currency FROM ${schemaA}.movements UNION SELECT customer_id, currency FROM ${schemaB}.movements),
     cells AS (
       SELECT k.customer_id, k.currency, m.month, COALESCE(${monthEnd(schemaA)}, 0) AS a, COALESCE(${monthEnd(schemaB)}, 0) AS b
         FROM keys k CROSS JOIN months m),
     differing AS (SELECT * FROM cells WHERE a <> b)
     SELECT customer_id, currency, to_char(month AT TIME ZONE 'UTC', 'YYYY-MM') AS month, a, b,
            (SELECT count(*) FROM differing) AS customer_months,
            (SELECT count(DISTINCT customer_id) FROM differing) AS customers
       FROM differing
      ORDER BY customer_id, currency, month
      LIMIT $1`,
    [Math.max(1, limit)],
  );
  const [a, b] = await Promise.all([bridge(db, schemaA), bridge(db, schemaB)]);
  const first = res.rows[0];
  return {
    a: { schema: schemaA, bridge: a },
    b: { schema: schemaB, bridge: b },
    differences: res.rows.map((r) => ({ customerId: r.customer_id, currency: r.currency, month: r.month, aCents: Number(r.a), bCents: Number(r.b) })),
    differingCustomerMonths: first ? Number(first.customer_months) : 0,
    differingCustomers: first ? Number(first.customers) : 0,
  };
}
