import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { event, subscription } from '../../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { projectionLag, runVersionedProjection } from '../../lib/projection.ts';
import { activeVersion, checkpointName } from '../../lib/projection-versions.ts';
import { mrrProjection } from '../../projections/mrr/main.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeStripe } from '../../test/support/fake-providers.ts';
import { runEventline } from '../../test/support/process.ts';
import { providerEnv } from '../../test/support/providers.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';

const DAY = 86_400;
const v = '2025-09-30.clover';

interface Report {
  stripeSubscriptions: number;
  eventlineSubscriptions: number;
  matching: number;
  drifts: { subscriptionId: string; kinds: string[]; backfillable: boolean; stripe: { mrrCents: number | null } | null; eventline: { mrrCents: number } | null }[];
}

describe('eventline reconcile stripe, against a local Stripe API', () => {
  let t: TestEnv;
  let stripe: FakeStripe;
  let running: { stop(): Promise<void> };
  const now = Math.floor(Date.now() / 1000);
  const sub = (id: string, customer: string, at: number, quantity: number, created = at) => subscription(v, { id, customer, status: 'active', items: [{ unitAmount: 2900, quantity }], created });
  const ev = (id: string, type: string, at: number, object: Record<string, unknown>) => event(v, { id, type, created: at, object });
  // sub_ok: as Stripe has it. sub_changed: its update to 3 seats never arrived. sub_missing: nothing
  // arrived. sub_old: its update of 35 days ago never arrived, and Stripe's events API no longer has it.
  const delivered = [
    ev('evt_ok', 'customer.subscription.created', now - 5 * DAY, sub('sub_ok', 'cus_ok', now - 5 * DAY, 1)),
    ev('evt_changed_1', 'customer.subscription.created', now - 5 * DAY, sub('sub_changed', 'cus_changed', now - 5 * DAY, 1)),
    ev('evt_old_1', 'customer.subscription.created', now - 40 * DAY, sub('sub_old', 'cus_old', now - 40 * DAY, 1)),
  ];
  const withheld = [
    ev('evt_changed_2', 'customer.subscription.updated', now - 2 * DAY, sub('sub_changed', 'cus_changed', now - 2 * DAY, 3, now - 5 * DAY)),
    ev('evt_missing', 'customer.subscription.created', now - 3 * DAY, sub('sub_missing', 'cus_missing', now - 3 * DAY, 2)),
    ev('evt_old_2', 'customer.subscription.updated', now - 35 * DAY, sub('sub_old', 'cus_old', now - 35 * DAY, 4, now - 40 * DAY)),
  ];

  async function caughtUp(): Promise<void> {
    const appended = await t.rt.kafka.recordCount('stripe.events.v1');
    await eventually(async () => {
      const version = await activeVersion(t.rt.db, 'mrr');
      return version && (await projectionLag(t.rt, checkpointName(version), ['stripe.events.v1'])) === 0 && (await t.rt.kafka.recordCount('stripe.events.v1')) === appended ? true : undefined;
    }, { what: 'the MRR projection to catch up' });
  }

  before(async () => {
    stripe = await new FakeStripe().start();
    t = await createTestEnv('reconcile', { ...providerEnv, STRIPE_API_KEY: stripe.apiKey, STRIPE_API_URL: stripe.url });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    // Stripe's events API keeps 30 days; its subscriptions are as they stand now.
    stripe.events.push(...[...delivered, ...withheld].filter((e) => (e.created as number) >= now - 30 * DAY));
    stripe.subscriptions.push(
      sub('sub_ok', 'cus_ok', now - 5 * DAY, 1),
      sub('sub_changed', 'cus_changed', now - 5 * DAY, 3),
      sub('sub_missing', 'cus_missing', now - 3 * DAY, 2),
      sub('sub_old', 'cus_old', now - 40 * DAY, 4),
    );
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords(delivered));
    running = await runVersionedProjection(t.rt, mrrProjection, { pollMs: 200 });
    await caughtUp();
  });
  after(async () => {
    await running?.stop();
    await t?.cleanup();
    await stripe?.close();
  });

  const report = async (): Promise<{ code: number | null; report: Report }> => {
    const run = await runEventline(t.env, ['reconcile', 'stripe', '--json']);
    assert.equal(run.stderr.includes('Error'), false, run.stderr);
    return { code: run.code, report: JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as Report };
  };

  it('finds each subscription whose events were withheld, says why and whether a backfill can repair it, and exits 1', async () => {
    const { code, report: r } = await report();
    assert.equal(code, 1);
    assert.deepEqual([r.stripeSubscriptions, r.eventlineSubscriptions, r.matching], [4, 3, 1]);
    assert.deepEqual(
      r.drifts.map((d) => [d.subscriptionId, d.kinds, d.backfillable, d.stripe?.mrrCents ?? null, d.eventline?.mrrCents ?? null]),
      [
        ['sub_changed', ['items', 'mrr'], true, 8700, 2900],
        ['sub_missing', ['missing'], true, 5800, null],
        ['sub_old', ['items', 'mrr'], false, 11600, 2900],
      ],
    );
    const human = await runEventline(t.env, ['reconcile', 'stripe']);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /Stripe lists 4 subscriptions, Eventline knows 3: 1 match, 3 drifts/);
    assert.match(human.stdout, /sub_missing .*no event of it reached stripe\.events\.v1/);
    assert.match(human.stdout, /sub_old .*older than 30 days/);
    assert.match(human.stdout, /reconcile stripe --fix/);
  });

  it('with --fix, appends the events Stripe still has, and once the projection caught up only what they could not repair is left', async () => {
    const fix = await runEventline(t.env, ['reconcile', 'stripe', '--fix']);
    assert.equal(fix.code, 1, 'sub_old cannot be repaired from the events API');
    assert.match(fix.stdout, /backfill: 4 events listed .*, 2 already in stripe\.events\.v1, 2 appended/);
    await caughtUp();
    const { code, report: r } = await report();
    assert.equal(code, 1);
    assert.deepEqual([r.matching, r.drifts.map((d) => d.subscriptionId)], [3, ['sub_old']]);
    const rows = (await t.rt.db.query<{ subscription_id: string; mrr_cents: number }>("SELECT subscription_id, mrr_cents FROM analytics.subscriptions WHERE subscription_id IN ('sub_changed', 'sub_missing') ORDER BY 1")).rows;
    assert.deepEqual(rows, [
      { subscription_id: 'sub_changed', mrr_cents: 8700 },
      { subscription_id: 'sub_missing', mrr_cents: 5800 },
    ]);
  });

  it('refuses to run without a Stripe key, with a clear error', async () => {
    const run = await runEventline({ ...t.env, STRIPE_API_KEY: '' }, ['reconcile', 'stripe']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /STRIPE_API_KEY is not set/);
  });
});
