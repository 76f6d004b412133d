import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import { activeVersion, ensureActive } from '../../lib/projection-versions.ts';
import type { DunningStepDecided } from '../../lib/topics.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { dunningProjection } from './main.ts';

const URL_COLUMN = "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' AND table_name = 'dunning_cases' AND column_name = 'hosted_invoice_url'";

describe('analytics.dunning_cases as the analyst sees it', () => {
  let t: TestEnv;
  let analyst: pg.Client;

  before(async () => {
    t = await createTestEnv('dunviews');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const url = new URL(t.config.database.url);
    url.username = 'eventline_analyst';
    analyst = new pg.Client({ connectionString: url.toString() });
    await analyst.connect();
  });
  after(async () => {
    await analyst?.end();
    await t?.cleanup();
  });

  it('given a deployment whose active version still shows hosted_invoice_url, when it upgrades, then analysts lose the old view at once and get the new one, without the URL, after the rebuild', async () => {
    const at = Date.now();
    const decided: DunningStepDecided = {
      event_id: 'dunning:in_1:day_0', occurred_at: at, received_at: at, case_id: 'in_1', customer_id: 'cus_1', subscription_id: 'sub_1', step: 'day_0', action: 'send_retry_notice',
      due_at: at, case_status: 'open', amount_due: 4900, currency: 'usd', hosted_invoice_url: 'https://invoice.stripe.com/i/acct_1/bearer_secret', attempt_count: 1, churn_risk: 0.2, source_event_id: 'evt_1', user_id: 'user_1', outcome: null, detail: null, idempotency_key: null, decline_code: null, decline_class: 'unknown', mrr_cents: null,
    };
    await (await t.rt.kafka.appender()).append('billing.dunning-steps.v1', [{ key: 'cus_1', record: 'DunningStepDecided', value: decided }]);
    // Given: revision 1 active, whose view showed the URL (its tables kept it too).
    const revision1 = {
      ...dunningProjection,
      revision: 1,
      viewNames: ['dunning_cases'],
      tables: (schema: string) => `${dunningProjection.tables(schema)}\nALTER TABLE ${schema}.decisions ADD COLUMN hosted_invoice_url text;`,
      views: (schema: string) => `CREATE VIEW analytics.dunning_cases AS SELECT case_id AS invoice_id, customer_id, hosted_invoice_url FROM ${schema}.decisions;`,
    };
    await ensureActive(t.rt.db, revision1);
    assert.equal((await analyst.query(URL_COLUMN)).rowCount, 1);
    await analyst.query('SELECT hosted_invoice_url FROM analytics.dunning_cases');

    // When the upgrade's migration runs (it ran before any view existed here: run it as a deployment would).
    await t.rt.db.query(readFileSync(new URL('./migrations/001_withdraw_invoice_url_view.sql', import.meta.url), 'utf8'));
    await assert.rejects(() => analyst.query('SELECT invoice_id FROM analytics.dunning_cases'), /permission denied/);

    // And the projection of the current revision runs: it rebuilds into a new version and switches the view.
    const running = await runVersionedProjection(t.rt, dunningProjection, { pollMs: 100 });
    try {
      const active = await eventually(async () => {
        const v = await activeVersion(t.rt.db, 'dunning');
        return v?.revision === dunningProjection.revision ? v : undefined;
      }, { what: 'the current revision active' });
      assert.equal((await analyst.query(URL_COLUMN)).rowCount, 0, 'the view has no hosted_invoice_url column');
      // The switch may come before the last records are in (it waits for a small lag, not none).
      const rows = await eventually(async () => {
        const r = await analyst.query<{ invoice_id: string; status: string }>('SELECT invoice_id, status FROM analytics.dunning_cases');
        return r.rowCount ? r.rows : undefined;
      }, { what: 'the case in the new view' });
      assert.deepEqual(rows, [{ invoice_id: 'in_1', status: 'open' }]);
      const stored = await t.rt.db.query(`SELECT * FROM ${active.schema}.decisions`);
      assert.equal(stored.rowCount, 1);
      assert.doesNotMatch(JSON.stringify(stored.rows), /bearer_secret/, 'the new version does not keep the URL either');
    } finally {
      await running.stop();
    }
  });
});
