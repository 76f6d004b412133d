/**
 * Where dispatch sends, against the real stack: a preference email or phone reaches the user's
 * non-essential messages at once, and security and payment messages only once the user confirmed
 * it through the link Eventline sent to it; until then those go to the Stripe customer's address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { customer, event } from '../../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { notificationRequest } from '../../notify/index.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeSendGrid, FakeTwilio, type SentEmail } from '../../test/support/fake-providers.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { fakeProviderEnv, publicUrl } from '../../test/support/providers.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { ProcessorGroup } from '../supervisor.ts';

describe('dispatch recipients: preference contacts, confirmed or not, and the Stripe customer', () => {
  let t: TestEnv;
  let app: RunningApp;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  let stop: (() => Promise<void>) | null = null;
  let n = 0;
  const user = 'user_rcp';

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    t = await createTestEnv('recipients', fakeProviderEnv({ sendgrid, twilio }));
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    // The Stripe customer behind the user, with the email and phone Stripe has.
    const now = Math.floor(Date.now() / 1000);
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords([event('2025-09-30.clover', { type: 'customer.created', created: now - 600, object: customer({ id: 'cus_Rcp', email: 'stripe@example.com', phone: '+14155550111', name: 'Robin Roe', created: now - 600, userId: user }) })]));
    app = await startApp(t.rt);
    // As `eventline run` runs it: under its state guard (a first start rebuilds the directory and
    // the dispatch state from the topics), with its consumer and its timers.
    const group = new ProcessorGroup(t.rt, ['dispatch'], { timerIntervalMs: 50 });
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

  async function request(template: string, category: string): Promise<SentEmail> {
    const r = notificationRequest({ source: `recipients:${n++}`, userId: user, template, category, priority: 'HIGH', data: { amount_due: 4900, currency: 'usd', hosted_invoice_url: 'https://invoice.stripe.com/i/x' }, requestedBy: 'test', at: Date.now() });
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: r.user_id, record: 'NotificationRequested', value: r }]);
    return eventually(() => sendgrid.byNotification(r.notification_id)[0], { timeoutMs: 30_000, what: `the ${template} email` });
  }

  it('given a new email and phone in the preferences, then each gets a working confirmation link, and payment emails go to Stripe\'s address until the email is confirmed', async () => {
    const key = await createKey(t, ['preferences', 'contacts']);
    const put = await fetch(`${app.url}/v1/users/${user}/preferences`, { method: 'PUT', headers: bearer(key), body: JSON.stringify({ email: 'new@example.com', phone: '+14155550222', sms_consent: true }) });
    assert.equal(put.status, 200);
    const { confirmations_requested: asked } = (await put.json()) as { confirmations_requested: { channel: string; notification_id: string }[] };
    assert.deepEqual(asked.map((c) => c.channel), ['email', 'sms']);

    // The confirmations go to the new addresses, each with its link.
    const mail = await eventually(() => sendgrid.byNotification(asked[0]?.notification_id ?? '')[0], { timeoutMs: 30_000, what: 'the confirmation email' });
    assert.equal(mail.to, 'new@example.com');
    const link = new RegExp(`${publicUrl.replace(/\./g, '\\.')}/v1/contacts/confirm/[\\w-]+\\.[\\w-]{43}`).exec(mail.text)?.[0];
    assert.ok(link, mail.text);
    assert.ok(mail.html.includes(`href="${link}"`));
    const sms = await eventually(() => twilio.sent.find((m) => m.statusCallback.includes(asked[1]?.notification_id ?? '')), { timeoutMs: 30_000, what: 'the confirmation SMS' });
    assert.equal(sms.to, '+14155550222');
    assert.match(sms.body, /\/v1\/contacts\/confirm\/[\w-]+\.[\w-]{43}\nReply STOP to opt out\.$/, 'the whole link, not cut, then the STOP line');

    // Unconfirmed: non-essential to the new address, essential to Stripe's.
    assert.equal((await request('receipt', 'billing')).to, 'new@example.com');
    assert.equal((await request('payment_failed', 'payment')).to, 'stripe@example.com');

    // A scanner's GET changes nothing; the user's POST confirms.
    const path = link.slice(publicUrl.length);
    assert.equal((await fetch(`${app.url}${path}`, { headers: { accept: 'text/html' } })).status, 200);
    assert.equal((await request('update_payment_method', 'payment')).to, 'stripe@example.com');
    const confirmed = await fetch(`${app.url}${path}`, { method: 'POST', headers: { accept: 'application/json' } });
    assert.equal(confirmed.status, 200);
    assert.equal((await request('final_notice', 'payment')).to, 'new@example.com');
  });
});
