import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { projectRoot } from '../lib/migrate.ts';
import { buildVersion } from '../lib/projection.ts';
import { ensureActive } from '../lib/projection-versions.ts';
import { versionedProjections } from '../projections/index.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { createTestEnv, type TestEnv } from './support/env.ts';
import { stripeRecords } from './support/stripe-records.ts';

describe('every query in docs/analytics.md runs as the analyst role', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('docs');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const history = stripeHistory({ customers: 80, seed: 3, from: Date.UTC(2025, 8, 1) / 1000, to: Date.UTC(2026, 10, 1) / 1000 });
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords(history));
    await buildVersion(t.rt, mrrProjection);
    // Rates into usd for every other currency of the history, as `eventline fx load` stores them.
    await t.rt.db.query(
      `INSERT INTO public.fx_rates (reporting_currency, day, currency, rate)
       SELECT 'usd', '2025-01-01', currency, 1.25 FROM (SELECT DISTINCT currency FROM analytics.customer_mrr WHERE currency <> 'usd') c`,
    );
    for (const def of Object.values(versionedProjections)) if (def.name !== 'mrr') await ensureActive(t.rt.db, def);
  });
  after(() => t?.cleanup());

  it('documents every view and every column of it with a COMMENT', async () => {
    const missing = await t.rt.db.query<{ what: string }>(
      `SELECT c.relname || COALESCE('.' || a.attname, '') AS what
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE n.nspname = 'analytics' AND c.relkind = 'v'
         AND (CASE WHEN a.attname IS NULL THEN obj_description(c.oid, 'pg_class') ELSE col_description(c.oid, a.attnum) END) IS NULL
       ORDER BY 1`,
    );
    const views = await t.rt.db.query("SELECT 1 FROM pg_views WHERE schemaname = 'analytics'");
    assert.ok((views.rowCount ?? 0) >= 12, `the MRR and delivery views exist (${views.rowCount})`);
    assert.deepEqual(missing.rows.map((r) => r.what), []);
  });

  it('runs each SQL block, and the MRR ones return rows', async () => {
    const doc = readFileSync(join(projectRoot, 'docs', 'analytics.md'), 'utf8');
    const statements = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].flatMap((m) =>
      (m[1] ?? '')
        .split(/;\s*\n/)
        .map((s) => s.replace(/--[^\n]*\n/g, '').trim())
        .filter(Boolean),
    );
    assert.ok(statements.length >= 14, `found ${statements.length} statements`);
    const url = new URL(t.config.database.url);
    url.username = 'eventline_analyst';
    const analyst = new pg.Client({ connectionString: url.toString() });
    await analyst.connect();
    try {
      for (const sql of statements) {
        const res = await analyst.query(sql);
        if (/mrr_|customer_mrr|cohort_retention/.test(sql) && !/interval '7 days'|>\s*now\(\)/.test(sql)) {
          assert.ok((res.rowCount ?? 0) > 0, `no rows from: ${sql.slice(0, 120)}`);
        }
      }
    } finally {
      await analyst.end();
    }
  });
});
