import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import type { DeclineClass, DunningStepDecided, DunningStepDue } from '../../lib/topics.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { dunningProjection } from './main.ts';

/**
 * analytics.dunning_recovery against a hand-built set of cases, through Kafka and the running
 * projection: every expected figure is worked out by hand from the view's definition (README).
 */
describe('analytics.dunning_recovery', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('dunrecovery');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
  });
  after(async () => {
    await t?.cleanup();
  });

  const HOUR = 3_600_000;
  const oct = (day: number, hours = 0) => Date.UTC(2026, 9, day) + hours * HOUR;
  interface Spec { id: string; currency: string; cls: DeclineClass; opened: number; amount: number; mrr: number | null; fired: [string, number][]; close?: ['recovered' | 'exhausted', number] }
  const decided = (c: Spec, step: DunningStepDecided['step'], at: number, status: DunningStepDecided['case_status']): DunningStepDecided => ({
    event_id: `dunning:${c.id}:${step}`, occurred_at: at, received_at: at, case_id: c.id, customer_id: `cus_${c.id}`, subscription_id: `sub_${c.id}`, step, action: status === 'open' ? 'send_retry_notice' : 'close',
    due_at: at, case_status: status, amount_due: c.amount, currency: c.currency, hosted_invoice_url: null, attempt_count: 1, churn_risk: 0.2, source_event_id: `evt_${c.id}`, user_id: null,
    outcome: null, detail: null, idempotency_key: null, decline_code: c.cls === 'hard' ? 'expired_card' : 'insufficient_funds', decline_class: c.cls, mrr_cents: c.mrr,
  });
  const fired = (c: Spec, step: DunningStepDue['step'], at: number): DunningStepDue => ({ event_id: `due:dunning:${c.id}:${step}`, occurred_at: at, received_at: at, case_id: c.id, customer_id: `cus_${c.id}`, step, step_event_id: `dunning:${c.id}:${step}` });

  it('given cases recovered after different reminders, one exhausted, one still open, one paid before any reminder, then each row is what the definition says', async () => {
    const cases: Spec[] = [
      { id: 'in_a', currency: 'usd', cls: 'soft', opened: oct(1), amount: 4900, mrr: 4900, fired: [['day_0', oct(1)], ['day_3', oct(4)]], close: ['recovered', oct(5, 12)] },
      { id: 'in_b', currency: 'usd', cls: 'soft', opened: oct(2), amount: 2500, mrr: null, fired: [['day_0', oct(2)], ['day_3', oct(5)]], close: ['recovered', oct(6)] },
      { id: 'in_c', currency: 'usd', cls: 'soft', opened: oct(3), amount: 1900, mrr: 1900, fired: [['day_0', oct(3)], ['day_3', oct(6)], ['day_7', oct(10)]], close: ['exhausted', oct(24)] },
      { id: 'in_d', currency: 'usd', cls: 'hard', opened: oct(3), amount: 9900, mrr: 9900, fired: [['day_0', oct(3)], ['day_3', oct(6)]], close: ['recovered', oct(4)] },
      { id: 'in_e', currency: 'eur', cls: 'soft', opened: Date.UTC(2026, 10, 1), amount: 3000, mrr: 3000, fired: [['day_0', Date.UTC(2026, 10, 1)]] },
      { id: 'in_f', currency: 'usd', cls: 'soft', opened: oct(20), amount: 1000, mrr: 1000, fired: [], close: ['recovered', oct(20, 2)] },
    ];
    const appender = await t.rt.kafka.appender();
    for (const c of cases) {
      await appender.append('billing.dunning-steps.v1', [
        { key: `cus_${c.id}`, record: 'DunningStepDecided', value: decided(c, 'day_0', c.opened, 'open') },
        ...c.fired.map(([step, at]) => ({ key: `cus_${c.id}`, record: 'DunningStepDue' as const, value: fired(c, step as DunningStepDue['step'], at) })),
        ...(c.close ? [{ key: `cus_${c.id}`, record: 'DunningStepDecided' as const, value: decided(c, c.close[0], c.close[1], c.close[0]) }] : []),
      ]);
    }
    const running = await runVersionedProjection(t.rt, dunningProjection, { pollMs: 100 });
    try {
      const rows = await eventually(async () => {
        const r = await t.rt.db.query<Record<string, unknown>>(
          `SELECT to_char(month, 'YYYY-MM-DD') AS month, currency, decline_class, step, cases::int, recovered::int, recovery_rate::text, recovered_amount_cents::bigint::text AS amount,
                  recovered_mrr_cents::bigint::text AS mrr, recovered_without_mrr::int AS without_mrr, round(median_days_to_recover::numeric, 4)::text AS median
           FROM analytics.dunning_recovery ORDER BY month, currency, decline_class, step`,
        ).catch(() => null);
        return r && r.rows.reduce((n, x) => n + (x.cases as number), 0) === cases.length ? r.rows : undefined;
      }, { what: 'every case in analytics.dunning_recovery', timeoutMs: 60_000 });
      const row = (month: string, currency: string, cls: string, step: string, n: number, recovered: number, rate: string, amount: string, mrr: string, withoutMrr: number, median: string | null) =>
        ({ month, currency, decline_class: cls, step, cases: n, recovered, recovery_rate: rate, amount, mrr, without_mrr: withoutMrr, median });
      assert.deepEqual(rows, [
        // D: recovered a day after the failure, after the day-0 reminder only (day 3 fired after the payment).
        row('2026-10-01', 'usd', 'hard', 'day_0', 1, 1, '1.0000', '9900', '9900', 0, '1.0000'),
        // A (4.5 days) and B (4 days, MRR unknown): recovered after the day-3 reminder.
        row('2026-10-01', 'usd', 'soft', 'day_3', 2, 2, '1.0000', '7400', '4900', 1, '4.2500'),
        // C: exhausted after the day-7 reminder.
        row('2026-10-01', 'usd', 'soft', 'day_7', 1, 0, '0.0000', '0', '0', 0, null),
        // F: paid two hours after the failure, before any reminder fired.
        row('2026-10-01', 'usd', 'soft', 'none', 1, 1, '1.0000', '1000', '1000', 0, '0.0833'),
        // E: still open.
        row('2026-11-01', 'eur', 'soft', 'day_0', 1, 0, '0.0000', '0', '0', 0, null),
      ]);
      const c = await t.rt.db.query<{ invoice_id: string; decline_class: string; last_step: string | null; mrr_cents: number | null }>("SELECT invoice_id, decline_class, last_step, mrr_cents FROM analytics.dunning_cases WHERE invoice_id IN ('in_b', 'in_d') ORDER BY invoice_id");
      assert.deepEqual(c.rows, [{ invoice_id: 'in_b', decline_class: 'soft', last_step: 'day_3', mrr_cents: null }, { invoice_id: 'in_d', decline_class: 'hard', last_step: 'day_0', mrr_cents: 9900 }]);
    } finally {
      await running.stop();
    }
  });
});
