import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { clearNamespace } from '../lib/redis.ts';
import { Scheduler } from '../lib/scheduler.ts';
import { customer, event, invoice, subscription } from '../cli/demo/stripe-objects.ts';
import { CustomerDirectory } from '../processors/customers/directory.ts';
import { DispatchStore } from '../processors/dispatch/effects.ts';
import { timerId } from '../processors/dunning/decide.ts';
import { stateIsComplete } from '../processors/recovery.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { FakeSendGrid } from './support/fake-providers.ts';
import { bearer, createKey } from './support/keys.ts';
import { startPipeline, type Pipeline } from './support/pipeline.ts';
import { providerEnv, stripeSignature } from './support/providers.ts';


describe('Redis loses everything while Eventline runs', () => {
  let t: TestEnv;
  let pipeline: Pipeline;
  let sendgrid: FakeSendGrid;
  const now = Math.floor(Date.now() / 1000);

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    t = await createTestEnv('flush', { ...providerEnv, SENDGRID_API_KEY: 'SG.test-key', SENDGRID_API_URL: sendgrid.url });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    pipeline = await startPipeline(t.rt);
  });
  after(async () => {
    await pipeline?.stop();
    await t?.cleanup();
    await sendgrid?.close();
  });

  async function webhook(e: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(e);
    const res = await fetch(`${pipeline.app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body) }, body });
    assert.equal(res.status, 200);
  }

  it('rebuilds the processors state from the topics: timers, customers, what was sent', async () => {
    const v = '2025-09-30.clover';
    await webhook(event(v, { type: 'customer.created', created: now - 600, object: customer({ id: 'cus_Flush', email: 'flo@example.com', name: 'Flo', created: now - 600, userId: 'user_flo' }) }));
    await webhook(event(v, { type: 'customer.subscription.created', created: now - 500, object: subscription(v, { id: 'sub_Flush', customer: 'cus_Flush', status: 'active', items: [{ unitAmount: 2500 }], created: now - 500 }) }));
    await webhook(event(v, { type: 'invoice.payment_failed', created: now - 60, object: invoice(v, { id: 'in_Flush', customer: 'cus_Flush', subscription: 'sub_Flush', amountDue: 2500, status: 'open', created: now - 120 }) }));
    // A user in quiet hours right now: their notification waits for a timer.
    const key = await createKey(t, ['preferences', 'publish']);
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const put = await fetch(`${pipeline.app.url}/v1/users/user_quiet/preferences`, { method: 'PUT', headers: bearer(key), body: JSON.stringify({ email: 'q@example.com', quiet_hours: { start: hhmm(Date.now() - 3_600_000), end: hhmm(Date.now() + 3 * 3_600_000) } }) });
    assert.equal(put.status, 200);
    const posted = await fetch(`${pipeline.app.url}/v1/notifications`, { method: 'POST', headers: bearer(key), body: JSON.stringify({ user_id: 'user_quiet', template: 'receipt', category: 'billing', priority: 'NORMAL', data: { amount_due: 100, currency: 'usd' } }) });
    const { notification_id: deferredId } = (await posted.json()) as { notification_id: string };

    await eventually(() => (sendgrid.sent.some((m) => m.customArgs.template === 'payment_failed') && sendgrid.sent.some((m) => m.customArgs.template === 'welcome_subscription') ? true : undefined), { timeoutMs: 60_000, what: 'the welcome and payment emails' });
    const dunning = new Scheduler(t.rt.redis, 'dunning', t.rt.log);
    const dispatch = new Scheduler(t.rt.redis, 'dispatch', t.rt.log);
    const expectedDay3 = await eventually(() => dunning.dueAt(timerId('in_Flush', 'day_3')).then((d) => d ?? undefined), { what: 'the day-3 timer' });
    await eventually(async () => ((await dispatch.pending()) > 0 ? true : undefined), { what: 'the quiet-hours timer' });
    const sentBefore = sendgrid.sent.length;

    assert.ok(await stateIsComplete(t.rt));
    assert.ok((await clearNamespace(t.rt.redis)) > 10, 'the flush removed the processors state');
    assert.equal(await stateIsComplete(t.rt), false);

    await eventually(async () => ((await stateIsComplete(t.rt)) ? true : undefined), { timeoutMs: 60_000, what: 'the state to be rebuilt' });
    assert.equal(await dunning.dueAt(timerId('in_Flush', 'day_3')), expectedDay3);
    for (const step of ['day_7', 'day_14', 'end']) assert.ok((await dunning.dueAt(timerId('in_Flush', step))) !== null, `${step} timer back`);
    assert.equal(await dunning.dueAt(timerId('in_Flush', 'day_0')), null, 'the fired day-0 timer stays fired');
    assert.equal(await new CustomerDirectory(t.rt.redis).userOf('cus_Flush'), 'user_flo');
    assert.ok((await dispatch.pending()) >= 1, 'the quiet-hours timer is back');
    assert.ok((await t.rt.redis.get(`dispatch:ntf:${deferredId}`))?.includes('"deferred"'));
    const welcome = sendgrid.sent.find((m) => m.customArgs.template === 'welcome_subscription');
    const welcomeState = await new DispatchStore(t.rt.redis).get(welcome?.customArgs.notification_id ?? '');
    assert.equal(welcomeState?.status, 'sent');
    assert.match((await t.rt.redis.get(`dispatch:send:${welcomeState.request.event_id}:email`)) ?? '', /^sent\|sendgrid\|/, 'the send marker is back');

    // Re-reading every dispatch input now sends nothing again.
    await pipeline.stopProcessors();
    await t.rt.kafka.resetOffsets('processor.dispatch', 'notify.dispatch-requests.v1');
    await pipeline.startProcessors();
    // A new failure of the same customer still finds its email (the directory came back).
    await webhook(event(v, { type: 'invoice.payment_failed', created: now - 30, object: invoice(v, { id: 'in_Flush2', customer: 'cus_Flush', subscription: 'sub_Flush', amountDue: 2500, status: 'open', created: now - 40 }) }));
    const second = await eventually(() => sendgrid.sent.find((m) => m.customArgs.template === 'payment_failed' && m.text.includes('test_Flush2')), { timeoutMs: 60_000, what: 'the second payment email' });
    assert.equal(second.to, 'flo@example.com');
    assert.equal(sendgrid.sent.length, sentBefore + 1, 'nothing was sent twice');
  });
});
