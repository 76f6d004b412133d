import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { event, invoice } from '../../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { DunningStepDue, NotificationRequested } from '../../lib/topics.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeSendGrid, FakeTwilio } from '../../test/support/fake-providers.ts';
import { storedPreferences } from '../../test/support/preferences.ts';
import { fakeProviderEnv } from '../../test/support/providers.ts';
import { appendStripeEvents } from '../../test/support/stripe-records.ts';
import { ProcessorGroup } from '../supervisor.ts';
import { reminderNotificationId } from './decide.ts';

/**
 * Dunning reading delivery telemetry, against the real stack: the dunning and dispatch processors,
 * the API for SendGrid's signed event webhook, and the real SendGrid and Twilio SDKs against local
 * servers. A reminder's email bounces; the next reminder goes by SMS first.
 */
describe('dunning and delivery telemetry against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  let stop: (() => Promise<void>) | null = null;

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    t = await createTestEnv('dunning-telemetry', fakeProviderEnv({ sendgrid, twilio }));
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    sendgrid.webhookUrl = `${app.url}/webhooks/sendgrid`;
    const group = new ProcessorGroup(t.rt, ['dunning', 'dispatch'], { timerIntervalMs: 50 });
    await group.start({ watchMs: 60_000 });
    stop = () => group.stop();
  });
  after(async () => {
    await stop?.();
    await app?.close();
    await t?.cleanup();
    await sendgrid?.close();
    await twilio?.close();
  });

  it("given the day-0 reminder's email bounced, then the day-3 reminder goes by SMS, not to the bounced address", async () => {
    const customer = 'cus_bounce1';
    const phone = '+14155550177';
    await storedPreferences(t.rt.db, customer, { email: 'bounce1@example.com', phone, sms_consent: { at: 1, source: 'api' } });
    const v = '2025-09-30.clover';
    const created = Math.floor(Date.now() / 1000) - 60;
    await appendStripeEvents(t.rt.kafka, [event(v, { id: 'evt_fail_bounce1', type: 'invoice.payment_failed', created, object: invoice(v, { id: 'in_bounce1', customer, subscription: 'sub_bounce1', amountDue: 4900, status: 'open', attemptCount: 1, created }) })]);
    const day0 = reminderNotificationId('in_bounce1', 'day_0');
    const email = await eventually(() => sendgrid.byNotification(day0)[0], { what: 'the day-0 email', timeoutMs: 30_000 });
    assert.equal(await sendgrid.postEvent(email, 'bounce', { type: 'bounce', reason: '550 5.1.1 mailbox does not exist' }), 200);
    // Dunning records what became of the reminder ...
    const outcomes = await collect(t.rt.kafka, ['billing.dunning-steps.v1'], (rs) => rs.some((r) => r.record === 'DunningReminderOutcome' && r.value.case_id === 'in_bounce1'), { timeoutMs: 30_000 });
    const outcome = outcomes.find((r) => r.record === 'DunningReminderOutcome')!.value;
    assert.deepEqual([outcome.step, outcome.kind, outcome.channel], ['day_0', 'unreachable', 'email']);
    // ... and when the day-3 timer fires (as it would in three days), its reminder avoids email.
    const due: DunningStepDue = { event_id: 'due:dunning:in_bounce1:day_3', occurred_at: Date.now(), received_at: Date.now(), case_id: 'in_bounce1', customer_id: customer, step: 'day_3', step_event_id: 'dunning:in_bounce1:day_3' };
    await (await t.rt.kafka.appender()).append('billing.dunning-steps.v1', [{ key: customer, record: 'DunningStepDue', value: due }]);
    const day3 = reminderNotificationId('in_bounce1', 'day_3');
    const requests = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((r) => r.value.notification_id === day3 && r.record === 'NotificationRequested'));
    assert.deepEqual((requests.find((r) => r.value.notification_id === day3)!.value as NotificationRequested).avoid_channels, ['email']);
    const sms = await eventually(() => twilio.sent.find((m) => new URL(m.statusCallback).searchParams.get('notification_id') === day3), { what: 'the day-3 SMS', timeoutMs: 30_000 });
    assert.equal(sms.to, phone);
    assert.equal(sendgrid.byNotification(day3).length, 0, 'no email to the bounced address');
  });
});
