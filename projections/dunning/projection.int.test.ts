import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { DunningStepDecided, DunningStepDue } from '../../lib/topics.ts';
import { applyInBatches } from '../../test/support/batches.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { dunningProjection } from './main.ts';
import type { DunningTopic } from './store.ts';

const base = Date.UTC(2026, 9, 1);
const hour = 3_600_000;
type Step = DunningStepDecided['step'];
const statusOf: Record<string, DunningStepDecided['case_status']> = { recovered: 'recovered', lost: 'lost', exhausted: 'exhausted' };

function decision(caseNo: number, n: number, step: Step, hours: number): DunningStepDecided {
  const at = base + hours * hour;
  return {
    event_id: `dunning:in_${caseNo}:${step}:${n}`, occurred_at: at, received_at: at, case_id: `in_${caseNo}`, customer_id: `cus_${caseNo}`, subscription_id: `sub_${caseNo}`,
    step, action: step in statusOf ? 'close' : step === 'end' ? 'cancel_subscription' : 'send_retry_notice', due_at: at, case_status: statusOf[step] ?? 'open', amount_due: 1000 * caseNo + n, currency: caseNo % 2 ? 'usd' : 'eur',
    hosted_invoice_url: null, attempt_count: n, churn_risk: n % 3 === 0 ? null : n / 100, source_event_id: `evt_${caseNo}_${n}`, user_id: null, outcome: null, detail: null, idempotency_key: null, decline_code: null, decline_class: 'unknown', mrr_cents: null,
  };
}
function due(caseNo: number, n: number, step: DunningStepDue['step'], hours: number): DunningStepDue {
  const at = base + hours * hour;
  return { event_id: `due:in_${caseNo}:${step}:${n}`, occurred_at: at, received_at: at, case_id: `in_${caseNo}`, customer_id: `cus_${caseNo}`, step, step_event_id: `dunning:in_${caseNo}:${step}:${n}` };
}

const facts = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('decided' as const), caseNo: fc.integer({ min: 1, max: 4 }), step: fc.constantFrom<Step>('day_0', 'day_0', 'day_3', 'end', 'recovered', 'lost', 'exhausted'), hours: fc.integer({ min: 0, max: 60 }) }),
    fc.record({ kind: fc.constant('due' as const), caseNo: fc.integer({ min: 1, max: 4 }), step: fc.constantFrom<DunningStepDue['step']>('day_0', 'day_3', 'day_14', 'end'), hours: fc.integer({ min: 0, max: 60 }) }),
  ),
  { minLength: 1, maxLength: 30 },
).map((list) =>
  list.map((f, n): Incoming<DunningTopic> =>
    (f.kind === 'decided'
      ? { record: 'DunningStepDecided', value: decision(f.caseNo, n, f.step, f.hours) }
      : { record: 'DunningStepDue', value: due(f.caseNo, n, f.step, f.hours) }) as unknown as Incoming<DunningTopic>,
  ),
);

/** The cases an analyst expects, worked out from the facts without Postgres. */
function expectedCases(records: readonly Incoming<DunningTopic>[]): unknown[] {
  const earliest = <T extends { occurred_at: number; event_id: string }>(xs: T[]) =>
    xs.sort((a, b) => a.occurred_at - b.occurred_at || (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0))[0];
  const decided = records.filter((r) => r.record === 'DunningStepDecided').map((r) => r.value as DunningStepDecided);
  const fired = records.filter((r) => r.record === 'DunningStepDue').map((r) => r.value as DunningStepDue);
  const out: unknown[] = [];
  for (const caseId of [...new Set(decided.map((d) => d.case_id))].sort()) {
    const opened = earliest(decided.filter((d) => d.case_id === caseId && d.step === 'day_0'));
    if (!opened) continue;
    const closed = earliest(decided.filter((d) => d.case_id === caseId && d.step in statusOf));
    const reminders = fired.filter((f) => f.case_id === caseId);
    out.push({
      invoice_id: caseId,
      customer_id: opened.customer_id,
      subscription_id: opened.subscription_id,
      opened_at: new Date(opened.occurred_at),
      status: closed?.case_status ?? 'open',
      closed_at: closed ? new Date(closed.occurred_at) : null,
      amount_due_cents: opened.amount_due,
      currency: opened.currency,
      attempt_count: opened.attempt_count,
      churn_risk: opened.churn_risk === null ? null : opened.churn_risk.toFixed(2),
      reminders_sent: reminders.filter((f) => f.step !== 'end').length,
      last_reminder_at: reminders.length > 0 ? new Date(Math.max(...reminders.map((f) => f.occurred_at))) : null,
      // The last reminder (not the end) that fired by the close: the latest by time, then event id.
      last_step:
        reminders
          .filter((f) => f.step !== 'end' && (!closed || f.occurred_at <= closed.occurred_at))
          .sort((a, b) => b.occurred_at - a.occurred_at || (a.event_id < b.event_id ? 1 : a.event_id > b.event_id ? -1 : 0))[0]?.step ?? null,
      end_action: earliest(decided.filter((d) => d.case_id === caseId && d.step === 'end'))?.action ?? null,
    });
  }
  return out;
}

describe('dunning projection: cases kept in a table', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('dunproj');
  });
  after(async () => {
    await t?.cleanup();
  });

  it('given any facts in any order, batching and duplication, by two writers, loaded in bulk up to any point and applied after it, then each case is what the facts say', async () => {
    const schema = 'dcases';
    const bulk = (dunningProjection.bulk as NonNullable<typeof dunningProjection.bulk>)(schema);
    const live = dunningProjection.forSchema(schema);
    await fc.assert(
      fc.asyncProperty(facts.chain((all) => fc.tuple(fc.constant(all), fc.shuffledSubarray(all, { minLength: all.length }))), fc.array(fc.nat(), { maxLength: 6 }), fc.integer({ min: 1, max: 5 }), fc.nat({ max: 40 }), async ([all, order], dupes, size, cut) => {
        await t.rt.db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await t.rt.db.query(`CREATE SCHEMA ${schema}`);
        await t.rt.db.query(dunningProjection.tables(schema));
        const list = [...order, ...dupes.map((i) => all[i % all.length] as Incoming<DunningTopic>)];
        const ctx = { log: t.rt.log, checkpoint: 'test' };
        await applyInBatches(list.slice(0, cut), size, (b) => t.rt.db.transaction((c) => bulk.load(c, b)));
        await t.rt.db.transaction((c) => bulk.finish(c, t.rt.log));
        await applyInBatches(list.slice(cut), size, (b) => t.rt.db.transaction((c) => live.apply(c, b, ctx)));
        const rows = await t.rt.db.query(
          `SELECT case_id AS invoice_id, customer_id, subscription_id, opened_at, status, closed_at, amount_due AS amount_due_cents, currency, attempt_count, churn_risk, reminders_sent, last_reminder_at,
                  last_step, end_action
           FROM ${schema}.cases ORDER BY case_id`,
        );
        assert.deepEqual(rows.rows, expectedCases(all));
      }),
      { numRuns: 60 },
    );
  });
});
