import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { summarizeDlqs } from '../lib/dlq.ts';
import { buildVersion, projectionLag } from '../lib/projection.ts';
import { checkpointName, ensureActive } from '../lib/projection-versions.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { exited, spawnEventline } from './support/process.ts';
import { appendStripeEvents, checkpointProgress } from './support/stripe-records.ts';

describe('Postgres goes away under a running projection, again and again', () => {
  let t: TestEnv;

  before(async () => {
    t = await createTestEnv('pgrestart', { EVENTLINE_CONSUMER_BATCH_BYTES: '4096' });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const history = stripeHistory({ customers: 300, seed: 11, from: Date.UTC(2025, 8, 1) / 1000, to: Date.UTC(2026, 10, 1) / 1000 });
    await appendStripeEvents(t.rt.kafka, history);
  });
  after(() => t?.cleanup());

  const progress = (checkpoint: string) => checkpointProgress(t.rt, checkpoint);

  /** What a restart looks like from the clients: every connection dropped, new ones refused for a while. */
  async function restartLikeOutage(database: string): Promise<number> {
    const maintenance = new URL(t.config.database.url);
    maintenance.pathname = '/postgres';
    const admin = new pg.Client({ connectionString: maintenance.toString() });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS false`);
      const killed = await admin.query<{ n: number }>('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1', [database]);
      await new Promise((r) => setTimeout(r, 1500)); // the outage itself, not a wait for a condition
      return killed.rows[0]?.n ?? 0;
    } finally {
      await admin.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    }
  }

  it('rides out every outage without a restart, a lost event or a wrongly dead-lettered one', { timeout: 300_000 }, async () => {
    const v1 = await ensureActive(t.rt.db, mrrProjection);
    const checkpoint = checkpointName(v1);
    const database = new URL(t.config.database.url).pathname.slice(1);
    const child = spawnEventline(t.env, 'projection.mrr');
    try {
      let outages = 0;
      let connectionsKilled = 0;
      while (outages < 4 && (await projectionLag(t.rt, checkpoint, ['stripe.events.v1'])) > 0) {
        const before = await progress(checkpoint);
        await eventually(async () => ((await progress(checkpoint)) > before ? true : undefined), { timeoutMs: 90_000, intervalMs: 20, what: 'the projection to commit a batch' });
        connectionsKilled += await restartLikeOutage(database);
        outages++;
      }
      assert.ok(outages >= 3, `${outages} outages before the projection caught up`);
      assert.ok(connectionsKilled >= outages, `the projection's connections were dropped (${connectionsKilled})`);
      await eventually(async () => ((await projectionLag(t.rt, checkpoint, ['stripe.events.v1'])) === 0 ? true : undefined), { timeoutMs: 120_000, what: 'the projection to catch up' });
      assert.equal(child.exitCode, null, 'the process kept running through the outages');
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }

    assert.deepEqual(await summarizeDlqs(t.rt), [], 'an outage is not a reason to dead-letter a record');
    const clean = await buildVersion(t.rt, mrrProjection, { activate: false });
    const snapshot = async (schema: string) => ({
      movements: (await t.rt.db.query(`SELECT customer_id, seq, currency, occurred_at, movement, delta_cents, mrr_after_cents, stripe_event_id FROM ${schema}.movements ORDER BY customer_id, seq`)).rows,
      customers: (await t.rt.db.query(`SELECT * FROM ${schema}.customer_mrr ORDER BY customer_id, currency`)).rows,
    });
    const survived = await snapshot(v1.schema);
    assert.ok(survived.movements.length > 300, `a meaningful history (${survived.movements.length} movements)`);
    assert.deepEqual(survived, await snapshot(clean.schema));
  });
});
