import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { buildVersion } from '../lib/projection.ts';
import { checkpointName, listVersions, type ProjectionVersion } from '../lib/projection-versions.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { exited, runEventline, spawnCommand } from './support/process.ts';
import { appendStripeEvents, checkpointProgress } from './support/stripe-records.ts';

describe('eventline replay is killed -9 during its bulk load, then two processes continue it at once', () => {
  let t: TestEnv;

  before(async () => {
    // Small batches: the load commits often, so the kill lands in the middle of it.
    t = await createTestEnv('resume', { EVENTLINE_CONSUMER_BATCH_BYTES: '8192', EVENTLINE_CONSUMER_SESSION_TIMEOUT_MS: '6000' });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    await appendStripeEvents(t.rt.kafka, stripeHistory({ customers: 500, seed: 23, from: Date.UTC(2025, 3, 1) / 1000, to: Date.UTC(2026, 10, 1) / 1000 }));
  });
  after(() => t?.cleanup());

  const snapshot = async (schema: string) => {
    const m = await t.rt.db.query(`SELECT customer_id, seq, currency, occurred_at, movement, delta_cents, mrr_before_cents, mrr_after_cents, stripe_event_id FROM ${schema}.movements ORDER BY customer_id, seq`);
    const c = await t.rt.db.query(`SELECT * FROM ${schema}.customer_mrr ORDER BY customer_id, currency`);
    const v = await t.rt.db.query(`SELECT subscription_id, created_at, event_id, customer_id, state FROM ${schema}.subscription_versions ORDER BY subscription_id, created_at, event_id`);
    return { movements: m.rows, customers: c.rows, versions: v.rows };
  };

  it('given an unknown projection or a date that is not one, then it refuses and starts nothing', async () => {
    for (const args of [['replay', 'nope'], ['replay', 'all', '--until', 'yesterday']]) {
      const run = await runEventline(t.env, args);
      assert.notEqual(run.code, 0, args.join(' '));
      assert.match(run.stderr, args[1] === 'nope' ? /unknown projection nope/ : /--until yesterday is not a date/);
    }
    assert.deepEqual(await listVersions(t.rt.db), []);
  });

  it('continues the same version, activates it, and ends with exactly the tables of a clean build', { timeout: 240_000 }, async () => {
    const first = spawnCommand(t.env, ['replay', 'mrr']);
    const loading = await eventually(
      async () => {
        const v = (await listVersions(t.rt.db, 'mrr')).find((x) => x.status === 'building');
        return v && (await checkpointProgress(t.rt, checkpointName(v))) > 0n ? v : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: 'the replay to commit its first batches' },
    );
    first.kill('SIGKILL');
    await exited(first);
    const atKill = (await listVersions(t.rt.db, 'mrr')).find((x) => x.version === loading.version) as ProjectionVersion;
    assert.equal(atKill.status, 'building');
    assert.equal(atKill.phase, 'loading', 'killed before the load finished');
    const progressAtKill = await checkpointProgress(t.rt, checkpointName(atKill));
    const movementsAtKill = (await t.rt.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${atKill.schema}.movements`)).rows[0]?.n;
    assert.equal(movementsAtKill, 0, 'a loading version has no derived rows yet');

    const [a, b] = await Promise.all([runEventline(t.env, ['replay', 'mrr']), runEventline(t.env, ['replay', 'mrr'])]);
    for (const run of [a, b]) {
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`continuing the interrupted rebuild ${atKill.schema} \\(phase loading\\)`));
      assert.match(run.stdout, new RegExp(`mrr v${atKill.version} is active`));
    }
    const versions = await listVersions(t.rt.db, 'mrr');
    assert.deepEqual(
      versions.map((v) => [v.version, v.status, v.phase]),
      [[atKill.version, 'active', 'live']],
      'no second version was started',
    );
    assert.ok((await checkpointProgress(t.rt, checkpointName(atKill))) > progressAtKill);

    const clean = await buildVersion(t.rt, mrrProjection, { fresh: true, activate: false });
    assert.notEqual(clean.version, atKill.version);
    const reference = await snapshot(clean.schema);
    assert.ok(reference.movements.length > 500, `a meaningful history (${reference.movements.length} movements)`);
    assert.deepEqual(await snapshot(atKill.schema), reference);
  });
});
