import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { startApp, type RunningApp } from './support/app.ts';
import { collect } from './support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { providerEnv, stripeSignature } from './support/providers.ts';
import { startOwnBroker, type OwnBroker } from './support/stack.ts';
import { event, invoice, stripeId } from '../cli/demo/stripe-objects.ts';

function paymentFailed(customer: string): { id: string; body: string } {
  const id = stripeId('evt');
  const created = Math.floor(Date.now() / 1000);
  const body = JSON.stringify(
    event('2025-09-30.clover', { id, type: 'invoice.payment_failed', created, object: invoice('2025-09-30.clover', { id: stripeId('in'), customer, subscription: 'sub_x', amountDue: 2500, status: 'open', created }) }),
  );
  return { id, body };
}

describe('the broker dies in the middle of webhook traffic', () => {
  let t: TestEnv;
  let app: RunningApp;
  // A broker of this test's own: killing it stops nobody else's (whatever already runs on 9092).
  let broker: OwnBroker;

  before(async () => {
    broker = await startOwnBroker();
    t = await createTestEnv('outage', { ...providerEnv, EVENTLINE_APPEND_TIMEOUT_MS: '4000', KAFKA_BROKERS: broker.brokers });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
    await broker?.close();
  });

  const deliver = (e: { body: string }) =>
    fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(e.body) }, body: e.body });

  it('answers 503 while Kafka is down (so Stripe retries), and the retried delivery lands once it is back', async () => {
    const before = paymentFailed('cus_Before');
    assert.equal((await deliver(before)).status, 200);

    await broker.kill();
    const during = paymentFailed('cus_During');
    const started = Date.now();
    const refused = await deliver(during);
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { error: string }).error, 'kafka_unavailable');
    assert.ok(refused.headers.get('retry-after'));
    assert.ok(Date.now() - started < 15_000, 'the webhook is refused within the append timeout, not left hanging');

    await broker.start();
    // Stripe redelivers with backoff until it gets a 2xx.
    await eventually(async () => ((await deliver(during)).status === 200 ? true : undefined), { timeoutMs: 60_000, intervalMs: 1000, what: 'the redelivery to be acknowledged' });

    // Read at least up to where the topic ends now: the two events sit on different partitions, so
    // seeing one says nothing about the other. (A copy of the refused event may still be appended
    // later by the producer's own retry; that is the duplicate downstream dedupes.)
    const total = await t.rt.kafka.recordCount('stripe.events.v1');
    const has = (got: readonly { value: { event_id: string } }[], id: string) => got.some((r) => r.value.event_id === id);
    const records = await collect(t.rt.kafka, ['stripe.events.v1'], (got) => got.length >= total && has(got, before.id) && has(got, during.id));
    const ids = records.map((r) => r.value.event_id);
    assert.equal(ids.filter((id) => id === before.id).length, 1, 'the event acknowledged before the crash is there exactly once');
    assert.ok(ids.includes(during.id), 'the event refused during the outage arrived with the redelivery');
    const copies = records.filter((r) => r.value.event_id === during.id);
    assert.ok(copies.every((c) => c.value.payload === during.body), 'any copy is the same event, deduplicated downstream by its id');
  });
});
