/**
 * Dunning facts and the cases derived from them. Decisions and fired timers are kept once each (by
 * event id); `cases` holds one row per failed invoice, derived from every fact of that case by the
 * same statement whether one batch touched it or a bulk rebuild derives them all, so the table
 * depends only on the set of facts, never on their order.
 */
import { lockKeys, recordset, recordsetParam, valuesInKeyOrder, type DbClient } from '../../lib/db.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { DunningStepDecided, DunningStepDue } from '../../lib/topics.ts';

export type DunningTopic = 'billing.dunning-steps.v1';

const DECISION_COLUMNS = {
  event_id: 'text', case_id: 'text', customer_id: 'text', subscription_id: 'text', step: 'text', action: 'text', due_at: 'timestamptz',
  decided_at: 'timestamptz', case_status: 'text', amount_due: 'bigint', currency: 'text', attempt_count: 'int', churn_risk: 'numeric',
  decline_code: 'text', decline_class: 'text', mrr_cents: 'bigint', outcome: 'text',
};
const FIRED_COLUMNS = { event_id: 'text', case_id: 'text', step: 'text', fired_at: 'timestamptz' };

/** Stores the facts of a batch; returns the cases they touch. Idempotent per event id. */
export async function loadDunningFacts(client: DbClient, schema: string, records: readonly Incoming<DunningTopic>[]): Promise<string[]> {
  const decided = new Map<string, DunningStepDecided>();
  const fired = new Map<string, DunningStepDue>();
  for (const r of records) {
    if (r.record === 'DunningStepDecided') decided.set(r.value.event_id, r.value);
    else if (r.record === 'DunningStepDue') fired.set(r.value.event_id, r.value);
    // DunningReminderOutcome (a reminder bounced or was opened) and EntitlementChanged are not case facts of these tables.
  }
  const d = valuesInKeyOrder(decided);
  if (d.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.decisions (event_id, case_id, customer_id, subscription_id, step, action, due_at, decided_at, case_status, amount_due, currency, attempt_count, churn_risk,
                                        decline_code, decline_class, mrr_cents, outcome)
       SELECT * FROM ${recordset(DECISION_COLUMNS, 1)} ON CONFLICT DO NOTHING`,
      [
        recordsetParam(
          d.map((x) => ({
            event_id: x.event_id, case_id: x.case_id, customer_id: x.customer_id, subscription_id: x.subscription_id, step: x.step, action: x.action, due_at: new Date(x.due_at),
            decided_at: new Date(x.occurred_at), case_status: x.case_status, amount_due: x.amount_due, currency: x.currency, attempt_count: x.attempt_count, churn_risk: x.churn_risk,
            decline_code: x.decline_code, decline_class: x.decline_class, mrr_cents: x.mrr_cents, outcome: x.outcome,
          })),
        ),
      ],
    );
  }
  const f = valuesInKeyOrder(fired);
  if (f.length > 0) {
    await client.query(`INSERT INTO ${schema}.fired (event_id, case_id, step, fired_at) SELECT * FROM ${recordset(FIRED_COLUMNS, 1)} ON CONFLICT DO NOTHING`, [
      recordsetParam(f.map((x) => ({ event_id: x.event_id, case_id: x.case_id, step: x.step, fired_at: new Date(x.occurred_at) }))),
    ]);
  }
  return [...new Set([...d.map((x) => x.case_id), ...f.map((x) => x.case_id)])].sort();
}

/**
 * Derives `cases` rows from the facts: the opening is the earliest day-0 decision, the close the
 * earliest closing decision (ties by event id), reminders the fired steps other than the end step.
 * `caseIds` null derives every case (a bulk rebuild's finish). A case without a day-0 decision yet
 * has no row.
 */
async function deriveCases(client: DbClient, schema: string, caseIds: readonly string[] | null): Promise<void> {
  const only = caseIds === null ? '' : 'AND case_id = ANY($1::text[])';
  await client.query(
    `WITH opened AS (
       SELECT DISTINCT ON (case_id) case_id, customer_id, subscription_id, decided_at AS opened_at, amount_due, currency, attempt_count, churn_risk, decline_code, decline_class, mrr_cents
       FROM ${schema}.decisions WHERE step = 'day_0' ${only} ORDER BY case_id, decided_at, event_id
     ), closed AS (
       SELECT DISTINCT ON (case_id) case_id, case_status AS status, decided_at AS closed_at
       FROM ${schema}.decisions WHERE step IN ('recovered', 'lost', 'exhausted') ${only} ORDER BY case_id, decided_at, event_id
     ), fired AS (
       SELECT case_id, count(*) FILTER (WHERE step <> 'end') AS reminders_sent, max(fired_at) AS last_reminder_at
       FROM ${schema}.fired WHERE true ${only} GROUP BY case_id
     ), last_step AS (
       SELECT DISTINCT ON (f.case_id) f.case_id, f.step
       FROM ${schema}.fired f LEFT JOIN closed c ON c.case_id = f.case_id
       WHERE f.step <> 'end' AND (c.closed_at IS NULL OR f.fired_at <= c.closed_at) ${caseIds === null ? '' : 'AND f.case_id = ANY($1::text[])'}
       ORDER BY f.case_id, f.fired_at DESC, f.event_id DESC
     ), ending AS (
       SELECT DISTINCT ON (case_id) case_id, action AS end_action
       FROM ${schema}.decisions WHERE step = 'end' ${only} ORDER BY case_id, decided_at, event_id
     ), answered AS (
       SELECT DISTINCT ON (case_id) case_id, outcome AS end_action_outcome
       FROM ${schema}.decisions WHERE step = 'end_action' ${only} ORDER BY case_id, decided_at, event_id
     )
     INSERT INTO ${schema}.cases (case_id, customer_id, subscription_id, opened_at, status, closed_at, amount_due, currency, attempt_count, churn_risk, reminders_sent, last_reminder_at,
                                  decline_code, decline_class, mrr_cents, last_step, end_action, end_action_outcome)
     SELECT o.case_id, o.customer_id, o.subscription_id, o.opened_at, COALESCE(c.status, 'open'), c.closed_at, o.amount_due, o.currency, o.attempt_count, o.churn_risk,
            COALESCE(f.reminders_sent, 0), f.last_reminder_at, o.decline_code, COALESCE(o.decline_class, 'unknown'), o.mrr_cents, l.step, e.end_action, a.end_action_outcome
     FROM opened o LEFT JOIN closed c USING (case_id) LEFT JOIN fired f USING (case_id) LEFT JOIN last_step l USING (case_id) LEFT JOIN ending e USING (case_id) LEFT JOIN answered a USING (case_id)
     ON CONFLICT (case_id) DO UPDATE SET
       customer_id = EXCLUDED.customer_id, subscription_id = EXCLUDED.subscription_id, opened_at = EXCLUDED.opened_at, status = EXCLUDED.status,
       closed_at = EXCLUDED.closed_at, amount_due = EXCLUDED.amount_due, currency = EXCLUDED.currency, attempt_count = EXCLUDED.attempt_count,
       churn_risk = EXCLUDED.churn_risk, reminders_sent = EXCLUDED.reminders_sent, last_reminder_at = EXCLUDED.last_reminder_at,
       decline_code = EXCLUDED.decline_code, decline_class = EXCLUDED.decline_class, mrr_cents = EXCLUDED.mrr_cents, last_step = EXCLUDED.last_step,
       end_action = EXCLUDED.end_action, end_action_outcome = EXCLUDED.end_action_outcome`,
    caseIds === null ? [] : [caseIds],
  );
}

/**
 * A live batch: its cases are locked first (sorted), so two writers touching one case take turns
 * and the second derives the case from what the first committed; then facts, then the cases again.
 */
export async function applyDunningRecords(client: DbClient, schema: string, records: readonly Incoming<DunningTopic>[]): Promise<void> {
  const touched = [...new Set(records.map((r) => r.value.case_id))].sort();
  await lockKeys(client, `${schema}:case`, touched);
  const cases = await loadDunningFacts(client, schema, records);
  if (cases.length > 0) await deriveCases(client, schema, cases);
}

/** The end of a bulk load: every case derived once from everything loaded. */
export async function finishDunning(client: DbClient, schema: string): Promise<void> {
  await client.query(`ANALYZE ${schema}.decisions`);
  await client.query(`ANALYZE ${schema}.fired`);
  await deriveCases(client, schema, null);
}
