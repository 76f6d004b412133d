import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { buildVersion, projectionLag } from '../lib/projection.ts';
import { checkpointName, ensureActive } from '../lib/projection-versions.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { exited, spawnEventline } from './support/process.ts';
import { appendStripeEvents, checkpointProgress } from './support/stripe-records.ts';

describe('the MRR projection is killed -9 in the middle of batches, again and again', () => {
  let t: TestEnv;
  let events = 0;

  before(async () => {
    // Small batches, so a kill lands in the middle of the stream; a short session, so a killed
    // member leaves the group quickly.
    t = await createTestEnv('crash', { EVENTLINE_CONSUMER_BATCH_BYTES: '4096', EVENTLINE_CONSUMER_SESSION_TIMEOUT_MS: '6000' });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const history = stripeHistory({ customers: 400, seed: 7, from: Date.UTC(2025, 5, 1) / 1000, to: Date.UTC(2026, 10, 1) / 1000 });
    events = history.length;
    await appendStripeEvents(t.rt.kafka, history);
  });
  after(() => t?.cleanup());

  const progress = (checkpoint: string) => checkpointProgress(t.rt, checkpoint);

  it('ends with exactly the tables of a clean run', { timeout: 300_000 }, async () => {
    const v1 = await ensureActive(t.rt.db, mrrProjection);
    const checkpoint = checkpointName(v1);
    let kills = 0;
    const seen: bigint[] = [];
    while (kills < 6 && (await projectionLag(t.rt, checkpoint, ['stripe.events.v1'])) > 0) {
      const child = spawnEventline(t.env, 'projection.mrr');
      const before = await progress(checkpoint);
      await eventually(async () => ((await progress(checkpoint)) > before ? true : undefined), { timeoutMs: 90_000, intervalMs: 20, what: 'the projection to commit a batch' });
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 150));
      child.kill('SIGKILL');
      await exited(child);
      kills++;
      seen.push(await progress(checkpoint));
    }
    console.log(`  killed ${kills} times; checkpoint sums after each kill: ${seen.join(', ')}`);
    assert.ok(kills >= 3, `killed ${kills} times before it finished`);
    assert.ok(seen.every((s, i) => i === 0 || s >= (seen[i - 1] as bigint)), 'checkpoints never go back');

    const last = spawnEventline(t.env, 'projection.mrr');
    await eventually(async () => ((await projectionLag(t.rt, checkpoint, ['stripe.events.v1'])) === 0 ? true : undefined), { timeoutMs: 120_000, what: 'the projection to catch up' });
    last.kill('SIGTERM');
    assert.equal(await exited(last), 0, 'a graceful stop exits 0');

    const clean = await buildVersion(t.rt, mrrProjection, { activate: false });
    const snapshot = async (schema: string) => {
      const m = await t.rt.db.query(`SELECT customer_id, seq, currency, occurred_at, movement, delta_cents, mrr_before_cents, mrr_after_cents, stripe_event_id FROM ${schema}.movements ORDER BY customer_id, seq`);
      const c = await t.rt.db.query(`SELECT * FROM ${schema}.customer_mrr ORDER BY customer_id, currency`);
      const v = await t.rt.db.query(`SELECT count(*)::int AS n FROM ${schema}.subscription_versions`);
      return { movements: m.rows, customers: c.rows, versions: v.rows[0] };
    };
    const crashed = await snapshot(v1.schema);
    const reference = await snapshot(clean.schema);
    assert.ok(reference.movements.length > 500, `a meaningful history (${reference.movements.length} movements from ${events} events)`);
    assert.deepEqual(crashed, reference);
  });
});
