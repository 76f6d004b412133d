import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { buildVersion, runVersionedProjection } from '../../lib/projection.ts';
import { activeVersion, listVersions } from '../../lib/projection-versions.ts';
import { stripeHistory } from '../../cli/demo/stripe-history.ts';
import { event, subscription } from '../../cli/demo/stripe-objects.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { activeVersionCaughtUp } from '../../test/support/projections.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { mrrProjection } from './main.ts';

describe('replaying the MRR projection (blue/green)', () => {
  let t: TestEnv;
  let running: { stop(): Promise<void> };
  const phase1 = Date.UTC(2026, 9, 1);
  const phase2 = Date.UTC(2026, 9, 20);

  before(async () => {
    t = await createTestEnv('replay');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const history = stripeHistory({ customers: 150, seed: 11, from: Date.UTC(2025, 9, 1) / 1000, to: Date.UTC(2026, 9, 1) / 1000 });
    const appender = await t.rt.kafka.appender();
    await appender.append('stripe.events.v1', stripeRecords(history, phase1));
    running = await runVersionedProjection(t.rt, mrrProjection, { pollMs: 200 });
    await caughtUp();
  });
  after(async () => {
    await running?.stop();
    await t?.cleanup();
  });

  const caughtUp = () => activeVersionCaughtUp(t.rt, 'mrr', ['stripe.events.v1'], 60_000);

  const total = async () => (await t.rt.db.query<{ n: number }>("SELECT COALESCE(sum(mrr_cents), 0)::bigint AS n FROM analytics.customer_mrr WHERE currency = 'usd'")).rows[0]?.n ?? 0;

  it('builds a new version while the old one serves, switches the views atomically, and the running projection follows', async () => {
    const before = await total();
    assert.ok(before > 0);
    const v1 = await activeVersion(t.rt.db, 'mrr');
    let reading = true;
    const reads: number[] = [];
    const reader = (async () => {
      while (reading) reads.push(await total());
    })();
    const v2 = await buildVersion(t.rt, mrrProjection, { maxLag: 0 });
    reading = false;
    await reader;
    assert.equal(v2.status, 'active');
    assert.equal(v2.version, (v1?.version ?? 0) + 1);
    assert.ok(reads.length > 3 && reads.every((r) => r === before), 'every read during the rebuild saw the full numbers');
    const view = await t.rt.db.query<{ definition: string }>("SELECT definition FROM pg_views WHERE schemaname = 'analytics' AND viewname = 'customer_mrr'");
    assert.match(view.rows[0]?.definition ?? '', new RegExp(`${v2.schema}\\.customer_mrr`));
    assert.deepEqual((await listVersions(t.rt.db, 'mrr')).map((v) => [v.version, v.status]), [[v1?.version, 'retired'], [v2.version, 'active']]);

    // A new subscription after the switch lands in the new version through the running process.
    const at = Math.floor(phase2 / 1000);
    const sub = event('2025-09-30.clover', { type: 'customer.subscription.created', created: at, object: subscription('2025-09-30.clover', { id: 'sub_after_switch', customer: 'cus_after_switch', status: 'active', items: [{ unitAmount: 777 }], created: at }) });
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords([sub], phase2));
    await eventually(async () => ((await total()) === before + 777 ? true : undefined), { what: 'the new subscription in the active version' });
  });

  it('with --until, builds a snapshot of the data as known then, and leaves the views alone', async () => {
    const active = await activeVersion(t.rt.db, 'mrr');
    const snapshot = await buildVersion(t.rt, mrrProjection, { until: new Date(phase1 + 1000) });
    assert.equal(snapshot.status, 'snapshot');
    const asOf = await t.rt.db.query<{ n: number }>(`SELECT COALESCE(sum(mrr_cents), 0)::bigint AS n FROM ${snapshot.schema}.customer_mrr WHERE currency = 'usd'`);
    assert.equal(asOf.rows[0]?.n, (await total()) - 777, 'the subscription received later is not in the snapshot');
    const found = await t.rt.db.query(`SELECT 1 FROM ${snapshot.schema}.customer_mrr WHERE customer_id = 'cus_after_switch'`);
    assert.equal(found.rowCount, 0);
    assert.equal((await activeVersion(t.rt.db, 'mrr'))?.version, active?.version);
  });
});
