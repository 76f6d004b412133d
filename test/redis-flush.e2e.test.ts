import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { clearNamespace } from '../lib/redis.ts';
import { Scheduler } from '../lib/scheduler.ts';
import { customer, event, invoice, subscription } from '../cli/demo/stripe-objects.ts';
import { EntityStore } from '../lib/decider/index.ts';
import { CustomerDirectory } from '../processors/customers/directory.ts';
import { notificationKind, type NotificationState } from '../processors/dispatch/evolve.ts';
import { timerId } from '../processors/dunning/decide.ts';
import { processorStatus } from '../processors/supervisor.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { FakeSendGrid, FakeTwilio } from './support/fake-providers.ts';
import { bearer, createKey } from './support/keys.ts';
import { startPipeline, type Pipeline } from './support/pipeline.ts';
import { fakeProviderEnv, stripeSignature } from './support/providers.ts';


describe('Redis loses everything while Eventline runs', () => {
  let t: TestEnv;
  let pipeline: Pipeline;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  const now = Math.floor(Date.now() / 1000);
  const complete = async () => (await processorStatus(t.rt)).every((p) => !p.paused);
  const notification = (id: string) => new EntityStore(t.rt.redis).get<NotificationState>({ kind: notificationKind.name, key: id });

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    t = await createTestEnv('flush', fakeProviderEnv({ sendgrid, twilio }));
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    pipeline = await startPipeline(t.rt);
  });
  after(async () => {
    await pipeline?.stop();
    await t?.cleanup();
    await sendgrid?.close();
    await twilio?.close();
  });

  async function webhook(e: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(e);
    const res = await fetch(`${pipeline.app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body) }, body });
    assert.equal(res.status, 200);
  }

  async function postNotification(key: string, userId: string, priority: string): Promise<string> {
    const res = await fetch(`${pipeline.app.url}/v1/notifications`, { method: 'POST', headers: bearer(key), body: JSON.stringify({ user_id: userId, template: 'receipt', category: 'billing', priority, data: { amount_due: 100, currency: 'usd' } }) });
    assert.equal(res.status, 202);
    return ((await res.json()) as { notification_id: string }).notification_id;
  }

  /** Until the dispatch processor has committed past everything on its inputs. */
  async function dispatchCaughtUp(): Promise<void> {
    await eventually(
      async () => {
        for (const topic of ['notify.delivery-events.v1', 'notify.dispatch-requests.v1'] as const) {
          const ends = await t.rt.kafka.topicOffsets(topic);
          const committed = new Map((await t.rt.kafka.committedOffsets('processor.dispatch', topic)).map((c) => [c.partition, BigInt(c.offset)]));
          if (ends.some((e) => BigInt(e.high) > (committed.get(e.partition) ?? -1n) && BigInt(e.high) > BigInt(e.low))) return undefined;
        }
        return true;
      },
      { timeoutMs: 60_000, what: 'the dispatch processor to catch up' },
    );
  }

  it('rebuilds the processors state from the topics: timers, customers, what was sent, and the planned fallback', async () => {
    const v = '2025-09-30.clover';
    await webhook(event(v, { type: 'customer.created', created: now - 600, object: customer({ id: 'cus_Flush', email: 'flo@example.com', name: 'Flo', created: now - 600, userId: 'user_flo' }) }));
    await webhook(event(v, { type: 'customer.subscription.created', created: now - 500, object: subscription(v, { id: 'sub_Flush', customer: 'cus_Flush', status: 'active', items: [{ unitAmount: 2500 }], created: now - 500 }) }));
    await webhook(event(v, { type: 'invoice.payment_failed', created: now - 60, object: invoice(v, { id: 'in_Flush', customer: 'cus_Flush', subscription: 'sub_Flush', amountDue: 2500, status: 'open', created: now - 120 }) }));
    // A user in quiet hours right now: their notification waits for a timer.
    // `contacts`: the users below are given their email and phone (each then gets a confirmation link, not counted here).
    const key = await createKey(t, ['preferences', 'contacts', 'publish']);
    const notConfirmation = (m: { customArgs?: Record<string, string>; body?: string }) => m.customArgs?.template !== 'contact_confirmation' && !m.body?.includes('/v1/contacts/confirm/');
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const put = await fetch(`${pipeline.app.url}/v1/users/user_quiet/preferences`, { method: 'PUT', headers: bearer(key), body: JSON.stringify({ email: 'q@example.com', quiet_hours: { start: hhmm(Date.now() - 3_600_000), end: hhmm(Date.now() + 3 * 3_600_000) } }) });
    assert.equal(put.status, 200);
    const posted = await fetch(`${pipeline.app.url}/v1/notifications`, { method: 'POST', headers: bearer(key), body: JSON.stringify({ user_id: 'user_quiet', template: 'receipt', category: 'billing', priority: 'NORMAL', data: { amount_due: 100, currency: 'usd' } }) });
    const { notification_id: deferredId } = (await posted.json()) as { notification_id: string };
    // HIGH notifications to two users who can be reached by SMS; one of them turned SMS off.
    for (const [user, channels] of [['user_nosms', { sms: false }], ['user_sms', {}]] as const) {
      const res = await fetch(`${pipeline.app.url}/v1/users/${user}/preferences`, { method: 'PUT', headers: bearer(key), body: JSON.stringify({ email: `${user}@example.com`, phone: '+14155550123', channels, sms_consent: true }) });
      assert.equal(res.status, 200);
    }
    const noSmsId = await postNotification(key, 'user_nosms', 'HIGH');
    const smsId = await postNotification(key, 'user_sms', 'HIGH');
    const noSmsEmail = await eventually(() => sendgrid.byNotification(noSmsId)[0], { timeoutMs: 30_000, what: 'the email to the user without SMS' });
    const smsEmail = await eventually(() => sendgrid.byNotification(smsId)[0], { timeoutMs: 30_000, what: 'the email to the user with SMS' });

    await eventually(() => (sendgrid.sent.some((m) => m.customArgs.template === 'payment_failed') && sendgrid.sent.some((m) => m.customArgs.template === 'welcome_subscription') ? true : undefined), { timeoutMs: 60_000, what: 'the welcome and payment emails' });
    const dunning = new Scheduler(t.rt.redis, 'dunning', t.rt.log);
    const dispatch = new Scheduler(t.rt.redis, 'dispatch', t.rt.log);
    const expectedDay3 = await eventually(() => dunning.dueAt(timerId('in_Flush', 'day_3')).then((d) => d ?? undefined), { what: 'the day-3 timer' });
    await eventually(async () => ((await dispatch.pending()) > 0 ? true : undefined), { what: 'the quiet-hours timer' });
    const sentBefore = sendgrid.sent.filter(notConfirmation).length;

    assert.ok(await complete());
    assert.ok((await clearNamespace(t.rt.redis)) > 10, 'the flush removed the processors state');
    assert.equal(await complete(), false);

    await eventually(async () => ((await complete()) ? true : undefined), { timeoutMs: 60_000, what: 'the state to be rebuilt' });
    assert.equal(await dunning.dueAt(timerId('in_Flush', 'day_3')), expectedDay3);
    for (const step of ['day_7', 'day_14', 'end']) assert.ok((await dunning.dueAt(timerId('in_Flush', step))) !== null, `${step} timer back`);
    assert.equal(await dunning.dueAt(timerId('in_Flush', 'day_0')), null, 'the fired day-0 timer stays fired');
    assert.equal(await new CustomerDirectory(new EntityStore(t.rt.redis)).userOf('cus_Flush'), 'user_flo');
    assert.ok((await dispatch.pending()) >= 1, 'the quiet-hours timer is back');
    assert.equal((await notification(deferredId))?.status, 'deferred');
    const welcome = sendgrid.sent.find((m) => m.customArgs.template === 'welcome_subscription');
    assert.equal((await notification(welcome?.customArgs.notification_id ?? ''))?.status, 'sent');

    // Both emails bounce after the rebuild: the fallback is the one planned, after preferences —
    // SMS for the user who allows it, nothing for the user who turned SMS off.
    sendgrid.webhookUrl = `${pipeline.app.url}/webhooks/sendgrid`;
    assert.equal(await sendgrid.postEvent(noSmsEmail, 'bounce', { type: 'bounce', reason: '550 5.1.1 unknown user', status: '5.1.1' }), 200);
    assert.equal(await sendgrid.postEvent(smsEmail, 'bounce', { type: 'bounce', reason: '550 5.1.1 unknown user', status: '5.1.1' }), 200);
    await eventually(() => twilio.sent.find((m) => m.statusCallback.includes(smsId)), { timeoutMs: 30_000, what: 'the SMS fallback of the user who allows SMS' });
    sendgrid.webhookUrl = null;
    await dispatchCaughtUp();
    assert.equal(twilio.sent.filter((m) => m.statusCallback.includes(noSmsId)).length, 0, 'no SMS to the user who turned SMS off');
    assert.equal(twilio.sent.filter(notConfirmation).length, 1);

    // Re-reading every dispatch input now sends nothing again.
    await pipeline.stopProcessors();
    await t.rt.kafka.resetOffsets('processor.dispatch', 'notify.dispatch-requests.v1');
    await pipeline.startProcessors();
    // A new failure of the same customer still finds its email (the directory came back).
    await webhook(event(v, { type: 'invoice.payment_failed', created: now - 30, object: invoice(v, { id: 'in_Flush2', customer: 'cus_Flush', subscription: 'sub_Flush', amountDue: 2500, status: 'open', created: now - 40 }) }));
    const second = await eventually(() => sendgrid.sent.find((m) => m.customArgs.template === 'payment_failed' && m.text.includes('test_Flush2')), { timeoutMs: 60_000, what: 'the second payment email' });
    assert.equal(second.to, 'flo@example.com');
    assert.equal(sendgrid.sent.filter(notConfirmation).length, sentBefore + 1, 'nothing was sent twice');
  });
});
