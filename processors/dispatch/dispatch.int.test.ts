import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { NotificationRequested } from '../../lib/topics.ts';
import { notificationRequest, type Priority } from '../../notify/index.ts';
import { defaultPreferences, type Preferences } from '../../projections/preferences/document.ts';
import { applyPreferenceChanges, readPreferences } from '../../projections/preferences/store.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeSendGrid, FakeTwilio } from '../../test/support/fake-providers.ts';
import { fakeProviderEnv, twilioAccountSid, twilioSignature, publicUrl } from '../../test/support/providers.ts';
import { ProcessorGroup } from '../supervisor.ts';

describe('dispatch processor against the real stack and local provider APIs', () => {
  let t: TestEnv;
  let app: RunningApp;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  let stop: (() => Promise<void>) | null = null;
  let n = 0;

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    t = await createTestEnv('dispatch', {
      ...fakeProviderEnv({ sendgrid, twilio }),
      EVENTLINE_DISPATCH_RETRY_BACKOFF_MS: '100,200,300',
      EVENTLINE_EMAIL_PER_SECOND: '3',
    });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
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

  async function user(prefs: Partial<Preferences> = {}): Promise<string> {
    const id = `user_d${n++}`;
    await applyPreferenceChanges(t.rt.db, [
      {
        event_id: `pref_${id}`,
        occurred_at: 1,
        received_at: 1,
        user_id: id,
        change: 'updated',
        actor: 'test',
        reason: null,
        source: 'api',
        category: null,
        // Confirmed contacts: security and payment messages go to them (else to the Stripe customer's).
        preferences: { ...defaultPreferences(), email: `${id}@example.com`, phone: '+14155550100', email_confirmed_at: 1, phone_confirmed_at: 1, sms_consent: { at: 1, source: 'api' }, ...prefs },
        previous: null,
      },
    ]);
    return id;
  }

  async function request(userId: string, template: string, category: string, priority: Priority, at = Date.now(), data: Record<string, unknown> = { amount_due: 4900, currency: 'usd', hosted_invoice_url: 'https://pay.test/i' }): Promise<NotificationRequested> {
    const r = notificationRequest({ source: `test:${userId}:${template}:${n++}`, userId, template, category, priority, data, requestedBy: 'test', at });
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: r.user_id, record: 'NotificationRequested', value: r }]);
    return r;
  }

  async function outcomes(notificationId: string, until: (statuses: string[]) => boolean): Promise<Incoming<'notify.dispatches.v1'>[]> {
    const all = await collect(t.rt.kafka, ['notify.dispatches.v1'], (records) => until(records.filter((r) => r.value.notification_id === notificationId).map((r) => r.value.status)), { timeoutMs: 30_000 });
    return all.filter((r) => r.value.notification_id === notificationId).sort((a, b) => a.value.occurred_at - b.value.occurred_at);
  }

  it('retries a provider 503 with backoff and then sends', async () => {
    const u = await user();
    sendgrid.failNext = [503, 503];
    const r = await request(u, 'payment_failed', 'payment', 'HIGH');
    const got = await outcomes(r.notification_id, (s) => s.includes('sent'));
    assert.deepEqual(got.map((o) => [o.value.status, o.value.attempt]), [['retrying', 1], ['retrying', 2], ['sent', 3]]);
    assert.equal(sendgrid.byNotification(r.notification_id).length, 1);
  });

  it('after the last retry, fails, dead-letters the request, and falls back to SMS (HIGH)', async () => {
    const u = await user();
    sendgrid.failNext = [500, 500, 500, 500];
    const r = await request(u, 'payment_failed', 'payment', 'HIGH');
    const got = await outcomes(r.notification_id, (s) => s.includes('sent'));
    assert.deepEqual(got.map((o) => [o.value.status, o.value.channel, o.value.attempt]), [
      ['retrying', 'email', 1],
      ['retrying', 'email', 2],
      ['retrying', 'email', 3],
      ['failed', 'email', 4],
      ['sent', 'sms', 1],
    ]);
    const sms = twilio.sent.find((m) => m.statusCallback.includes(r.notification_id));
    assert.ok(sms, 'the SMS went through Twilio');
    assert.equal(sms.statusCallback, `${publicUrl}/webhooks/twilio/status?notification_id=${r.notification_id}&user_id=${r.user_id}`);
    const dead = await collect(t.rt.kafka, ['dlq.processor.dispatch.v1'], (records) => records.some((d) => d.value.error.includes('500')));
    assert.equal(dead.find((d) => d.value.error.includes('500'))?.value.error_code, 'provider_retries_exhausted');
  });

  it('a permanent refusal (400) fails at once, without retries', async () => {
    const u = await user();
    sendgrid.failNext = [400];
    const r = await request(u, 'welcome_subscription', 'account', 'NORMAL', Date.now(), { amount: 1900, currency: 'usd', interval: 'month' });
    const got = await outcomes(r.notification_id, (s) => s.includes('failed'));
    assert.deepEqual(got.map((o) => [o.value.status, o.value.attempt]), [['failed', 1]]);
  });

  it('an email that bounces falls back to SMS, and the Twilio status callback is signed and routed back', async () => {
    const u = await user();
    const r = await request(u, 'update_payment_method', 'payment', 'HIGH');
    const email = await eventually(() => sendgrid.byNotification(r.notification_id)[0], { what: 'the email' });
    sendgrid.webhookUrl = `${app.url}/webhooks/sendgrid`;
    assert.equal(await sendgrid.postEvent(email, 'bounce', { type: 'bounce', reason: '550 5.1.1 unknown user', status: '5.1.1' }), 200);
    const got = await outcomes(r.notification_id, (s) => s.filter((x) => x === 'sent').length === 2);
    assert.deepEqual(got.map((o) => [o.value.status, o.value.channel, o.value.reason]), [['sent', 'email', null], ['sent', 'sms', 'fallback after email bounced']]);
    const sms = twilio.sent.find((m) => m.statusCallback.includes(r.notification_id));
    assert.ok(sms);
    const params = { MessageSid: sms.sid, MessageStatus: 'delivered', AccountSid: twilioAccountSid, To: sms.to, From: sms.from };
    const path = `/webhooks/twilio/status?notification_id=${r.notification_id}`;
    const res = await fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(`${publicUrl}${path}`, params) }, body: new URLSearchParams(params).toString() });
    assert.equal(res.status, 200);
  });

  it('defers a notification to the end of quiet hours in the user time zone, then sends it', async () => {
    const u = await user({ timezone: 'Asia/Tokyo', quiet_hours: { start: '22:00', end: '07:00' } });
    const yesterday = new Date(Date.now() - 86_400_000);
    const night = Date.UTC(yesterday.getUTCFullYear(), yesterday.getUTCMonth(), yesterday.getUTCDate(), 15, 30); // 00:30 in Tokyo
    const r = await request(u, 'payment_failed', 'payment', 'HIGH', night);
    const got = await outcomes(r.notification_id, (s) => s.includes('sent'));
    assert.deepEqual(got.map((o) => o.value.status), ['deferred', 'sent']);
    assert.equal(got[0]?.value.deferred_until, night + 6.5 * 3_600_000); // 07:00 in Tokyo
  });

  it('batches LOW notifications into one digest at the user digest hour', async () => {
    const u = await user({ timezone: 'Europe/Paris', digest: { enabled: true, hour: 8 } });
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const day = Date.UTC(twoDaysAgo.getUTCFullYear(), twoDaysAgo.getUTCMonth(), twoDaysAgo.getUTCDate(), 12, 0);
    const nextDay = new Date(day + 86_400_000).toISOString().slice(0, 10);
    // Both at once: the digest hour of that (past) day is already over, so its timer fires right away.
    const [a, b] = [
      notificationRequest({ source: `digest-a:${u}`, userId: u, template: 'receipt', category: 'billing', priority: 'LOW', data: { amount_due: 1500, currency: 'eur' }, requestedBy: 'test', at: day }),
      notificationRequest({ source: `digest-b:${u}`, userId: u, template: 'receipt', category: 'billing', priority: 'LOW', data: { amount_due: 2500, currency: 'eur' }, requestedBy: 'test', at: day + 60_000 }),
    ] as const;
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', [a, b].map((value) => ({ key: value.user_id, record: 'NotificationRequested' as const, value })));
    const batched = await outcomes(a.notification_id, (s) => s.includes('batched'));
    assert.equal(batched[0]?.value.reason, `daily digest of ${nextDay}`); // 13:00 in Paris: the next 08:00 is the next day
    const digestId = batched[0]?.value.digest_id ?? '';
    await outcomes(b.notification_id, (s) => s.includes('batched'));
    const digest = await eventually(() => sendgrid.byNotification(digestId)[0], { what: 'the digest email' });
    assert.equal(digest.customArgs.template, 'digest');
    assert.match(digest.text, /^Hi, here is what happened:\n- Payment received: €15\.00\n- Payment received: €25\.00\n/);
    assert.equal(sendgrid.byNotification(a.notification_id).length + sendgrid.byNotification(b.notification_id).length, 0, 'not sent one by one');
  });

  it('suppresses a NORMAL notification over the daily cap, and one the user opted out of', async () => {
    const u = await user({ daily_max: 1, categories: { marketing: { email: false, sms: false, in_app: false } } });
    const first = await request(u, 'welcome_subscription', 'product', 'NORMAL', Date.now(), {});
    await outcomes(first.notification_id, (s) => s.includes('sent'));
    const second = await request(u, 'welcome_subscription', 'product', 'NORMAL', Date.now(), {});
    assert.deepEqual((await outcomes(second.notification_id, (s) => s.includes('suppressed'))).map((o) => o.value.reason), ['daily cap of 1 reached']);
    const optedOut = await request(u, 'welcome_subscription', 'marketing', 'NORMAL', Date.now(), {});
    assert.deepEqual((await outcomes(optedOut.notification_id, (s) => s.includes('suppressed'))).map((o) => o.value.reason), ['marketing turned off by the user']);
  });

  it('turns an unsubscribe at SendGrid into a preference change with who and why', async () => {
    const u = await user();
    const r = await request(u, 'welcome_subscription', 'product', 'NORMAL', Date.now(), {});
    const email = await eventually(() => sendgrid.byNotification(r.notification_id)[0], { what: 'the email' });
    sendgrid.webhookUrl = `${app.url}/webhooks/sendgrid`;
    assert.equal(await sendgrid.postEvent(email, 'unsubscribe'), 200);
    const prefs = await eventually(async () => {
      const p = await readPreferences(t.rt.db, u);
      return p.preferences.categories.product?.email === false ? p : undefined;
    }, { what: 'product emails turned off' });
    assert.equal(prefs.preferences.categories.product?.sms, false);
    const changes = await collect(t.rt.kafka, ['notify.preference-changes.v1'], (records) => records.some((c) => c.value.user_id === u));
    const change = changes.find((c) => c.value.user_id === u)?.value;
    assert.deepEqual([change?.actor, change?.source, change?.change, change?.category], ['sendgrid', 'provider', 'unsubscribed', 'product']);
  });

  it('does not send requests from the distant past (replays, backfills): suppressed as stale', async () => {
    const u = await user();
    const r = await request(u, 'payment_failed', 'payment', 'CRITICAL', Date.now() - 10 * 86_400_000);
    const got = await outcomes(r.notification_id, (s) => s.includes('suppressed'));
    assert.match(got[0]?.value.reason ?? '', /^stale: requested 24\d h ago$/);
    assert.equal(sendgrid.byNotification(r.notification_id).length, 0);
  });

  it('shares the per-channel rate limit: never more than 3 emails in any one second', async () => {
    const users = await Promise.all(Array.from({ length: 8 }, () => user()));
    const before = sendgrid.sent.length;
    const started = Date.now();
    const requests = await Promise.all(users.map((u) => request(u, 'final_notice', 'payment', 'CRITICAL', Date.now(), { amount_due: 100, currency: 'usd', days_left: 7 })));
    await eventually(() => (requests.every((r) => sendgrid.byNotification(r.notification_id).length === 1) ? true : undefined), { timeoutMs: 30_000, what: 'all 8 emails' });
    // Sliding windows, not calendar seconds: a limiter must hold wherever the second starts. The
    // window is 800 ms wide, leaving 200 ms for the trips from the limiter to the provider to differ
    // (a fresh-clone CI run on two loaded cores saw one email's trip 104 ms longer than the fourth's;
    // a limiter that does not hold sends all eight within a few tens of milliseconds).
    const at = sendgrid.acceptedAt.slice(before).sort((a, b) => a - b);
    const busiest = Math.max(...at.map((start) => at.filter((x) => x >= start && x < start + 800).length));
    assert.ok(busiest <= 3, `${busiest} emails within 800 ms; received at +${at.map((x) => x - at[0]!).join(', +')} ms`);
    assert.ok(Date.now() - started >= 1_990, `8 emails at 3 a second take two seconds, took ${Date.now() - started} ms`);
  });
});
