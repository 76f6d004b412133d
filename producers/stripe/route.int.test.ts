import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { providerEnv, stripeSignature } from '../../test/support/providers.ts';
import { RecentlySeen } from '../http/recently-seen.ts';
import { STRIPE_SEEN_PREFIX } from './route.ts';
import { event, invoice, stripeId, subscription } from '../../cli/demo/stripe-objects.ts';

function paymentFailed(id = stripeId('evt')): string {
  const created = Math.floor(Date.now() / 1000) - 5;
  return JSON.stringify(
    event('2025-03-31.basil', {
      id,
      type: 'invoice.payment_failed',
      created,
      object: invoice('2025-03-31.basil', { id: stripeId('in'), customer: 'cus_PayFail1', subscription: 'sub_PayFail1', amountDue: 4900, status: 'open', attemptCount: 1, created }),
    }),
    null,
    2,
  );
}

describe('POST /webhooks/stripe against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;

  before(async () => {
    t = await createTestEnv('stripe', { ...providerEnv, EVENTLINE_BODY_LIMIT_BYTES: String(64 * 1024) });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const post = (body: string | Buffer, headers: Record<string, string>) =>
    fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('given a signed event, when delivered, then it is acknowledged after the append, verbatim and keyed by customer', async () => {
    const id = stripeId('evt');
    const body = paymentFailed(id);
    const res = await post(body, { 'stripe-signature': stripeSignature(body) });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { received: true, event_id: id });
    const [record] = await collect(t.rt.kafka, ['stripe.events.v1'], 1);
    assert.ok(record);
    assert.equal(record.key, 'cus_PayFail1');
    assert.equal(record.value.event_id, id);
    assert.equal(record.value.type, 'invoice.payment_failed');
    // Kept member for member; its personal members are sealed on the topic and opened here (ADR 0018).
    assert.deepEqual(JSON.parse(record.value.payload), JSON.parse(body), 'the raw body is kept');
    assert.equal(record.value.occurred_at, (JSON.parse(body) as { created: number }).created * 1000);
    assert.equal(record.value.source, 'webhook');
  });

  it('given the same event delivered again, then it is acknowledged without a second append', async () => {
    const body = paymentFailed();
    const before = await recordCount(t.rt.kafka, 'stripe.events.v1');
    const first = await post(body, { 'stripe-signature': stripeSignature(body) });
    const second = await post(body, { 'stripe-signature': stripeSignature(body) });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(((await second.json()) as { duplicate?: boolean }).duplicate, true);
    assert.equal(await recordCount(t.rt.kafka, 'stripe.events.v1'), before + 1);
  });

  it('given every kind of bad input, then each gets its 4xx with a JSON error and nothing is appended', async () => {
    const before = await recordCount(t.rt.kafka, 'stripe.events.v1');
    const body = paymentFailed();
    // A field of data.object (itself 3 levels down) holding arrays nested to `depth` levels in all.
    const nest = (depth: number) => paymentFailed().replace(/"object": \{/, `"object": {"deep": ${'['.repeat(depth - 3)}${']'.repeat(depth - 3)},`);
    const deep = nest(10_000);
    const deep33 = nest(33);
    const text = paymentFailed();
    const at = text.indexOf('cus_PayFail1');
    const notUtf8 = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3, 0x28]), Buffer.from(text.slice(at))]);
    const cases: [string, Promise<Response>, number, string][] = [
      ['missing signature', post(body, {}), 400, 'signature_invalid'],
      ['wrong secret', post(body, { 'stripe-signature': stripeSignature(body, { secret: 'whsec_other' }) }), 400, 'signature_invalid'],
      ['signature of another body', post(body, { 'stripe-signature': stripeSignature(paymentFailed()) }), 400, 'signature_invalid'],
      ['garbage header', post(body, { 'stripe-signature': 'nonsense' }), 400, 'signature_invalid'],
      ['stale timestamp', post(body, { 'stripe-signature': stripeSignature(body, { timestamp: Math.floor(Date.now() / 1000) - 301 }) }), 400, 'timestamp_stale'],
      ['malformed JSON', post('{"id": "evt_1", ', { 'stripe-signature': stripeSignature('{"id": "evt_1", ') }), 400, 'bad_request'],
      ['not an event', post('{"hello":"world"}', { 'stripe-signature': stripeSignature('{"hello":"world"}') }), 400, 'bad_request'],
      ['oversized', post(Buffer.alloc(65 * 1024, 'a'), { 'stripe-signature': 't=1,v1=00' }), 413, 'payload_too_large'],
      ['nested 10,000 levels deep', post(deep, { 'stripe-signature': stripeSignature(deep) }), 400, 'bad_request'],
      ['nested 33 levels deep', post(deep33, { 'stripe-signature': stripeSignature(deep33) }), 400, 'bad_request'],
      // The SDK checks the signature over the body decoded leniently (U+FFFD for bad bytes), so this one verifies.
      ['not UTF-8', post(notUtf8, { 'stripe-signature': stripeSignature(notUtf8.toString('utf8')) }), 400, 'bad_request'],
    ];
    for (const [name, response, status, error] of cases) {
      const res = await response;
      assert.equal(res.status, status, name);
      const json = (await res.json()) as { error: string; detail: unknown };
      assert.equal(json.error, error, name);
      assert.ok(json.detail, `${name} has a detail`);
    }
    assert.equal(await recordCount(t.rt.kafka, 'stripe.events.v1'), before);
  });

  it('given an unknown event type, then it is kept like any other', async () => {
    const created = Math.floor(Date.now() / 1000);
    const body = JSON.stringify(event('2025-09-30.clover', { type: 'entitlements.active_entitlement_summary.updated', created, object: { object: 'entitlements.active_entitlement_summary', customer: 'cus_Ent1', entitlements: { data: [] } } }));
    const res = await post(body, { 'stripe-signature': stripeSignature(body) });
    assert.equal(res.status, 200);
    const got = await collect(t.rt.kafka, ['stripe.events.v1'], 3);
    const kept = got.find((r) => r.value.type === 'entitlements.active_entitlement_summary.updated');
    assert.equal(kept?.key, 'cus_Ent1');
  });

  it('given no webhook secret configured, then every delivery is refused with 503 and nothing is appended', async () => {
    const bare = await createTestEnv('stripe-bare');
    await createTopics(bare.rt.kafka);
    const bareApp = await startApp(bare.rt);
    try {
      const body = JSON.stringify(event('2024-06-20', { type: 'customer.subscription.created', created: 1, object: subscription('2024-06-20', { id: 'sub_1', customer: 'cus_1', status: 'active', items: [{ unitAmount: 100 }], created: 1 }) }));
      const res = await fetch(`${bareApp.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': stripeSignature(body) }, body });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: string }).error, 'not_configured');
      assert.equal(await recordCount(bare.rt.kafka, 'stripe.events.v1'), 0);
    } finally {
      await bareApp.close();
      await bare.cleanup();
    }
  });
});

describe('POST /webhooks/stripe signature timestamps', () => {
  let t: TestEnv;
  let app: RunningApp;
  const TOLERANCE = 60;

  before(async () => {
    t = await createTestEnv('stripetime', { ...providerEnv, EVENTLINE_WEBHOOK_TOLERANCE_SECONDS: String(TOLERANCE) });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const deliver = (offsetSeconds: number) => {
    const body = paymentFailed();
    const timestamp = Math.floor(Date.now() / 1000) + offsetSeconds;
    return fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body, { timestamp }) }, body });
  };

  it(`given EVENTLINE_WEBHOOK_TOLERANCE_SECONDS=${TOLERANCE}, when a signature is dated further than that in the past or the future, then 400 timestamp_stale and nothing is appended`, async () => {
    const before = await recordCount(t.rt.kafka, 'stripe.events.v1');
    for (const offset of [-(TOLERANCE + 30), TOLERANCE + 30, 3600, 10 * 365 * 86_400]) {
      const res = await deliver(offset);
      assert.equal(res.status, 400, `signed ${offset} s from now`);
      const body = (await res.json()) as { error: string; detail: string };
      assert.equal(body.error, 'timestamp_stale', `signed ${offset} s from now`);
      assert.match(body.detail, new RegExp(`${TOLERANCE} s`));
    }
    assert.equal(await recordCount(t.rt.kafka, 'stripe.events.v1'), before);
  });

  it('given a signature within the tolerance on either side (clock skew), then the event is appended', async () => {
    const before = await recordCount(t.rt.kafka, 'stripe.events.v1');
    for (const offset of [-(TOLERANCE - 20), TOLERANCE - 20]) assert.equal((await deliver(offset)).status, 200, `signed ${offset} s from now`);
    assert.equal(await recordCount(t.rt.kafka, 'stripe.events.v1'), before + 2);
  });
});

describe('POST /webhooks/stripe when the append lands only after the 503', () => {
  let t: TestEnv;
  let app: RunningApp;

  before(async () => {
    // No topics yet: the append times out (503) while the producer keeps retrying it.
    t = await createTestEnv('stripelate', { ...providerEnv, EVENTLINE_APPEND_TIMEOUT_MS: '300' });
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  it('then Stripe’s redelivery is answered as a duplicate and the topic holds the event once', async () => {
    const id = stripeId('evt');
    const body = paymentFailed(id);
    const deliver = () =>
      fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body) }, body });
    const refused = await deliver();
    assert.equal(refused.status, 503);

    await createTopics(t.rt.kafka);
    const seen = new RecentlySeen(t.rt.redis, STRIPE_SEEN_PREFIX);
    await eventually(async () => ((await seen.seen([id])).has(id) ? true : undefined), { timeoutMs: 15_000, what: 'the late acknowledgement' });
    const again = await deliver();
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { received: true, event_id: id, duplicate: true });
    const records = await collect(t.rt.kafka, ['stripe.events.v1'], 1);
    assert.deepEqual(records.map((r) => r.value.event_id), [id]);
    assert.equal(await recordCount(t.rt.kafka, 'stripe.events.v1'), 1);
  });
});
