/**
 * What the daily, monthly and cohort views add up, kept as running sums so that the views read a
 * few thousand rows whatever the number of customers (pure).
 *
 * Each customer's movements contribute to three tables: per (currency, UTC day) and per (currency,
 * UTC month) the sums of its movements, and per (cohort month, currency, month) the change of the
 * cohort's membership and of its retained customers and MRR at that month's end. When a customer
 * is recomputed, its old movements' contributions are subtracted and the new ones added, in the
 * same transaction: the sums always equal what the movements give (ARCHITECTURE §6 definitions).
 */
import type { MovementType, StatusChange } from './evolve.ts';

export interface MovementFact {
  readonly customerId: string;
  readonly currency: string;
  readonly seq: number;
  readonly occurredAt: number;
  readonly movement: MovementType;
  readonly deltaCents: number;
  readonly mrrBeforeCents: number;
  readonly mrrAfterCents: number;
}

export interface DailySum {
  readonly currency: string;
  readonly day: string;
  movements: number;
  deltaCents: number;
  deltaCustomers: number;
  /** Change of the MRR whose subscriptions are past due (mrr_status_daily). */
  deltaPastDueCents: number;
  /** Change of the MRR set to cancel that still counts (mrr_status_daily). */
  deltaScheduledChurnCents: number;
}

export interface MonthlySum {
  readonly currency: string;
  readonly month: string;
  movements: number;
  sums: Record<MovementType, number>;
  /** Movements of each kind (new, churned and reactivated customers for saas_metrics_monthly). */
  counts: Record<MovementType, number>;
  /** Change of the customers paying at the month's end (0 → >0: +1, >0 → 0: −1). */
  deltaCustomers: number;
}

export interface CohortDelta {
  readonly cohortMonth: string;
  readonly currency: string;
  readonly month: string;
  members: number;
  newCents: number;
  retained: number;
  retainedMrrCents: number;
}

export interface Aggregates {
  readonly daily: Map<string, DailySum>;
  readonly monthly: Map<string, MonthlySum>;
  readonly cohorts: Map<string, CohortDelta>;
}

export function emptyAggregates(): Aggregates {
  return { daily: new Map(), monthly: new Map(), cohorts: new Map() };
}

const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const monthOf = (ms: number): string => `${new Date(ms).toISOString().slice(0, 7)}-01`;

function entry<V>(map: Map<string, V>, key: string, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

const emptyDay = (currency: string, day: string): DailySum => ({ currency, day, movements: 0, deltaCents: 0, deltaCustomers: 0, deltaPastDueCents: 0, deltaScheduledChurnCents: 0 });

/** Adds (sign 1) or subtracts (sign -1) the contributions of status changes to the daily sums. */
export function addStatusChanges(acc: Aggregates, changes: readonly StatusChange[], sign: 1 | -1): void {
  for (const c of changes) {
    const daily = entry(acc.daily, `${c.currency}|${dayOf(c.occurredAt)}`, () => emptyDay(c.currency, dayOf(c.occurredAt)));
    daily.deltaPastDueCents += sign * (c.pastDueAfterCents - c.pastDueBeforeCents);
    daily.deltaScheduledChurnCents += sign * (c.scheduledAfterCents - c.scheduledBeforeCents);
  }
}

/**
 * Adds (sign 1) or subtracts (sign -1) the contributions of `movements`, which hold every movement
 * of the customers they belong to (a cohort needs a customer's whole timeline in a currency).
 */
export function addMovements(acc: Aggregates, movements: readonly MovementFact[], sign: 1 | -1): void {
  const timelines = new Map<string, MovementFact[]>();
  for (const m of movements) {
    const customers = m.mrrBeforeCents === 0 && m.mrrAfterCents > 0 ? 1 : m.mrrBeforeCents > 0 && m.mrrAfterCents === 0 ? -1 : 0;
    const daily = entry(acc.daily, `${m.currency}|${dayOf(m.occurredAt)}`, () => emptyDay(m.currency, dayOf(m.occurredAt)));
    daily.movements += sign;
    daily.deltaCents += sign * m.deltaCents;
    daily.deltaCustomers += sign * customers;
    const monthly = entry(acc.monthly, `${m.currency}|${monthOf(m.occurredAt)}`, () => ({
      currency: m.currency,
      month: monthOf(m.occurredAt),
      movements: 0,
      sums: { new: 0, expansion: 0, contraction: 0, churn: 0, reactivation: 0 },
      counts: { new: 0, expansion: 0, contraction: 0, churn: 0, reactivation: 0 },
      deltaCustomers: 0,
    }));
    monthly.movements += sign;
    monthly.sums[m.movement] += sign * m.deltaCents;
    monthly.counts[m.movement] += sign;
    monthly.deltaCustomers += sign * customers;
    const key = `${m.customerId}|${m.currency}`;
    const list = timelines.get(key);
    if (list) list.push(m);
    else timelines.set(key, [m]);
  }
  for (const timeline of timelines.values()) {
    timeline.sort((a, b) => a.occurredAt - b.occurredAt || a.seq - b.seq);
    const first = timeline.find((m) => m.movement === 'new');
    if (!first) continue;
    const cohortMonth = monthOf(first.occurredAt);
    const cell = (month: string) =>
      entry(acc.cohorts, `${cohortMonth}|${first.currency}|${month}`, () => ({ cohortMonth, currency: first.currency, month, members: 0, newCents: 0, retained: 0, retainedMrrCents: 0 }));
    const start = cell(cohortMonth);
    start.members += sign;
    start.newCents += sign * first.deltaCents;
    // The MRR at the end of each month that has movements, as a change from the previous month end.
    let previous = 0;
    for (let i = 0; i < timeline.length; i++) {
      const m = timeline[i] as MovementFact;
      const month = monthOf(m.occurredAt);
      const next = timeline[i + 1];
      if (next && monthOf(next.occurredAt) === month) continue;
      const end = m.mrrAfterCents;
      if (end !== previous) {
        const c = cell(month);
        c.retained += sign * ((end > 0 ? 1 : 0) - (previous > 0 ? 1 : 0));
        c.retainedMrrCents += sign * (end - previous);
      }
      previous = end;
    }
  }
}
