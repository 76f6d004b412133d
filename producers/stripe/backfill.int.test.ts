import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stripeHistory } from '../../cli/demo/stripe-history.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { FakeStripe } from '../../test/support/fake-providers.ts';
import { runEventline } from '../../test/support/process.ts';
import { providerEnv, stripeSignature } from '../../test/support/providers.ts';
import { stripeCustomerId } from './to-event.ts';

const DAY = 86_400;

describe('eventline backfill stripe, against a local Stripe events API', () => {
  let t: TestEnv;
  let app: RunningApp;
  let stripe: FakeStripe;
  const now = Math.floor(Date.now() / 1000);
  const since = new Date((now - 11 * DAY) * 1000);
  let inRange: Record<string, unknown>[] = [];
  let older: Record<string, unknown>[] = [];

  before(async () => {
    stripe = await new FakeStripe().start();
    t = await createTestEnv('backfill', { ...providerEnv, STRIPE_API_KEY: stripe.apiKey, STRIPE_API_URL: stripe.url });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    const history = stripeHistory({ customers: 90, seed: 7, from: now - 20 * DAY, to: now - 60, prefix: 'bf' });
    inRange = history.filter((e) => (e.created as number) >= since.getTime() / 1000);
    older = history.filter((e) => (e.created as number) < since.getTime() / 1000);
    assert.ok(inRange.length > 200 && older.length > 0, `a history spanning --since with several pages (${inRange.length} in range)`);
    stripe.events.push(...history);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
    await stripe?.close();
  });

  async function deliver(e: Record<string, unknown>): Promise<Response> {
    const body = JSON.stringify(e);
    return fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body) }, body });
  }

  async function topicEvents(): Promise<Incoming<'stripe.events.v1'>[]> {
    const out: Incoming<'stripe.events.v1'>[] = [];
    await t.rt.kafka.readToEnd('stripe.events.v1', (r) => void out.push(r));
    return out;
  }

  it('appends exactly the events the topic misses, oldest first, as Stripe listed them', async () => {
    const delivered = [inRange[3]!, inRange[50]!, inRange[inRange.length - 1]!, older[0]!];
    for (const e of delivered) assert.equal((await deliver(e)).status, 200);
    const before = await t.rt.kafka.recordCount('stripe.events.v1');
    assert.equal(before, 4);

    // A 5xx (retried by the SDK) and a rate limit (waited out) on the way.
    stripe.failNext = [500, 429];
    const dry = await runEventline(t.env, ['backfill', 'stripe', '--since', since.toISOString(), '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`${inRange.length} listed, 3 already in stripe.events.v1, ${inRange.length - 3} missing \\(dry run`));
    assert.equal(await t.rt.kafka.recordCount('stripe.events.v1'), before);
    assert.deepEqual(stripe.requests.slice(0, 3).map((r) => r.status), [500, 429, 200]);
    assert.equal(stripe.requests[2]?.query.get('created[gte]'), String(since.getTime() / 1000));
    assert.ok(stripe.requests.some((r) => r.query.get('starting_after')), 'pages through with starting_after');

    const run = await runEventline(t.env, ['backfill', 'stripe', '--since', since.toISOString()]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`${inRange.length - 3} appended`));

    const records = await topicEvents();
    assert.equal(records.length, before + inRange.length - 3);
    const ids = records.map((r) => r.value.event_id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.deepEqual(new Set(ids), new Set([...inRange.map((e) => e.id as string), older[0]!.id as string]));
    const backfilled = records.filter((r) => r.value.source === 'backfill');
    assert.equal(backfilled.length, inRange.length - 3);
    const byId = new Map(inRange.map((e) => [e.id as string, e]));
    for (const r of backfilled) {
      const original = byId.get(r.value.event_id)!;
      // Sealed on the topic (ADR 0018), opened to what Stripe listed.
      assert.deepEqual(JSON.parse((await t.rt.kafka.serde.opened('StripeEventReceived', r.value)).payload), original, 'the event as Stripe listed it');
      assert.equal(r.key, stripeCustomerId((original.data as { object: Record<string, unknown> }).object) ?? r.value.object_id);
      assert.equal(r.value.occurred_at, (original.created as number) * 1000);
    }
    // Per key, in the order Stripe created them.
    for (const key of new Set(backfilled.map((r) => r.key))) {
      const times = backfilled.filter((r) => r.key === key).map((r) => r.value.occurred_at);
      assert.deepEqual(times, [...times].sort((a, b) => a - b), `events of ${key} in created order`);
    }
  });

  it('a second backfill finds nothing missing, and a late webhook of a backfilled event is not appended again', async () => {
    const count = await t.rt.kafka.recordCount('stripe.events.v1');
    const again = await runEventline(t.env, ['backfill', 'stripe', '--since', '11d']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, / 0 appended/);
    const late = await deliver(inRange[10]!);
    assert.equal(late.status, 200);
    assert.equal(((await late.json()) as { duplicate?: boolean }).duplicate, true);
    assert.equal(await t.rt.kafka.recordCount('stripe.events.v1'), count);
  });

  it('refuses bad input and a refused key with a clear error, appending nothing', async () => {
    const count = await t.rt.kafka.recordCount('stripe.events.v1');
    const cases: [string, string[], Record<string, string>, number, RegExp][] = [
      ['not a date', ['--since', 'last tuesday'], {}, 2, /--since last tuesday is not a date/],
      ['in the future', ['--since', new Date(Date.now() + DAY * 1000).toISOString()], {}, 2, /is in the future/],
      ['no key', ['--since', '2d'], { STRIPE_API_KEY: '' }, 1, /STRIPE_API_KEY is not set.*\[not_configured\]/],
      ['a key Stripe refuses', ['--since', '2d'], { STRIPE_API_KEY: 'sk_test_revoked' }, 1, /Stripe refused STRIPE_API_KEY: Invalid API Key.*\[not_configured\]/],
    ];
    for (const [name, args, env, code, message] of cases) {
      const res = await runEventline({ ...t.env, ...env }, ['backfill', 'stripe', ...args]);
      assert.equal(res.code, code, `${name}: ${res.stderr}`);
      assert.match(res.stderr, message, name);
    }
    assert.equal(await t.rt.kafka.recordCount('stripe.events.v1'), count);
  });
});
