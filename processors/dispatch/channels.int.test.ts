import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { NotificationRequested } from '../../lib/topics.ts';
import webpush from 'web-push';
import { signUserToken } from '../../lib/http/user-token.ts';
import { notificationRequest, PushSubscriptions, type Priority } from '../../notify/index.ts';
import type { Preferences } from '../../projections/preferences/document.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeSendGrid, FakeTwilio } from '../../test/support/fake-providers.ts';
import { FakePushService } from '../../test/support/fake-push-service.ts';
import { storedPreferences } from '../../test/support/preferences.ts';
import { fakeProviderEnv, publicUrl, twilioAccountSid, twilioSignature, unsubscribeSecret } from '../../test/support/providers.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import { inboxProjection } from '../../projections/inbox/main.ts';
import { ProcessorGroup } from '../supervisor.ts';
import { providersFor } from './providers.ts';
import { WebPushSender } from './push.ts';

/**
 * The channels end to end: SMS consent, the suppression list, Web Push and the inbox. The
 * dispatcher against the real stack, the real SendGrid, Twilio and web-push libraries against
 * local servers, the Twilio inbound webhook and the push-subscription routes through the app.
 */
describe('channels: SMS consent, STOP and START, the suppression list, Web Push and the inbox', () => {
  let t: TestEnv;
  let app: RunningApp;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  let push: FakePushService;
  const vapid = webpush.generateVAPIDKeys();
  let stop: (() => Promise<void>) | null = null;
  let n = 0;

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    push = await FakePushService.start({ vapidPublicKey: vapid.publicKey });
    t = await createTestEnv('channels', {
      ...fakeProviderEnv({ sendgrid, twilio }),
      EVENTLINE_VAPID_PUBLIC_KEY: vapid.publicKey,
      EVENTLINE_VAPID_PRIVATE_KEY: vapid.privateKey,
      EVENTLINE_PUSH_ALLOW_LOOPBACK: 'on',
    });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    // The configured providers, with a push sender that trusts the local push service's certificate.
    const pushVapid = t.rt.config.push.vapid;
    assert.ok(pushVapid, 'push is configured from the environment');
    const providers = { ...providersFor(t.rt.config, t.rt.db), push: new WebPushSender(new PushSubscriptions(t.rt.db), pushVapid, t.rt.log, { agent: push.agent, timeoutMs: 5000 }) };
    const group = new ProcessorGroup(t.rt, ['dispatch'], { timerIntervalMs: 50, dispatch: { providers } });
    await group.start({ watchMs: 60_000 });
    const inbox = await runVersionedProjection(t.rt, inboxProjection, { pollMs: 100 });
    stop = async () => {
      await inbox.stop();
      await group.stop();
    };
    sendgrid.webhookUrl = `${app.url}/webhooks/sendgrid`;
  });
  after(async () => {
    await stop?.();
    await app?.close();
    await t?.cleanup();
    await sendgrid?.close();
    await twilio?.close();
    await push?.close();
  });

  async function user(prefs: Partial<Preferences> = {}): Promise<{ id: string; phone: string; email: string }> {
    const id = `user_c${n++}`;
    const phone = `+1415555${String(2000 + n).padStart(4, '0')}`;
    const email = `${id}@example.com`;
    await storedPreferences(t.rt.db, id, { email, phone, ...prefs });
    return { id, phone, email };
  }

  async function request(userId: string, template: string, category: string, priority: Priority): Promise<NotificationRequested> {
    const r = notificationRequest({ source: `consent:${userId}:${template}:${n++}`, userId, template, category, priority, data: { amount_due: 4900, currency: 'usd', hosted_invoice_url: 'https://pay.test/i' }, requestedBy: 'test', at: Date.now() });
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: r.user_id, record: 'NotificationRequested', value: r }]);
    return r;
  }

  async function outcomes(notificationId: string, until: (o: Incoming<'notify.dispatches.v1'>['value'][]) => boolean): Promise<Incoming<'notify.dispatches.v1'>['value'][]> {
    const all = await collect(t.rt.kafka, ['notify.dispatches.v1'], (records) => until(records.filter((r) => r.value.notification_id === notificationId).map((r) => r.value)), { timeoutMs: 30_000 });
    return all
      .filter((r) => r.value.notification_id === notificationId)
      .map((r) => r.value)
      .sort((a, b) => a.occurred_at - b.occurred_at || (a.channel ?? '').localeCompare(b.channel ?? ''));
  }

  const settled = (channels: readonly string[]) => (os: readonly { status: string; channel: string | null }[]) => channels.every((c) => os.some((o) => o.channel === c && (o.status === 'sent' || o.status === 'failed')));

  async function inbound(from: string, body: string, sid = `SM${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`, signatureFor?: Record<string, string>): Promise<Response> {
    const params = { MessageSid: sid, AccountSid: twilioAccountSid, From: from, To: '+15005550006', Body: body };
    const path = '/webhooks/twilio/inbound';
    return fetch(`${app.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(`${publicUrl}${path}`, signatureFor ?? params) },
      body: new URLSearchParams(params).toString(),
    });
  }

  async function changesOf(userId: string, count: number) {
    const records = await collect(t.rt.kafka, ['notify.preference-changes.v1'], (rs) => rs.filter((r) => r.value.user_id === userId).length >= count);
    return records.filter((r) => r.value.user_id === userId).map((r) => r.value);
  }

  it('given a user who never opted in to SMS, then a CRITICAL security notice goes by email and to the inbox, never by SMS', async () => {
    const u = await user();
    const r = await request(u.id, 'payment_failed', 'security', 'CRITICAL');
    const got = await outcomes(r.notification_id, settled(['email', 'in_app']));
    assert.deepEqual(got.filter((o) => o.status === 'sent').map((o) => o.channel).sort(), ['email', 'in_app']);
    assert.equal(got.find((o) => o.channel === 'in_app')?.provider, 'eventline');
    assert.equal(twilio.sent.filter((m) => m.to === u.phone).length, 0, 'no SMS without consent');
  });

  it('given an opted-in user, when STOP is replied, then consent is withdrawn as a keyword preference event and the next CRITICAL notice sends no SMS; START gives it back', async () => {
    const u = await user({ sms_consent: { at: 1, source: 'api' } });
    const first = await request(u.id, 'payment_failed', 'security', 'CRITICAL');
    await outcomes(first.notification_id, settled(['email', 'sms', 'in_app']));
    const sms = twilio.sent.find((m) => m.to === u.phone);
    assert.ok(sms, 'consented: the SMS went out');
    assert.match(sms.body, /\nReply STOP to opt out\.$/, 'the en-US STOP line ends the SMS');

    const res = await inbound(u.phone, ' stop ');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '<Response/>');
    const stopped = await eventually(async () => ((await readPreferences(t.rt.db, u.id)).preferences.sms_consent === null ? true : undefined), { what: 'SMS consent withdrawn' });
    assert.ok(stopped);
    const [change] = (await changesOf(u.id, 1)).filter((c) => c.change === 'sms_opted_out');
    assert.deepEqual([change?.actor, change?.source], ['twilio', 'keyword']);

    const before = twilio.sent.length;
    const second = await request(u.id, 'payment_failed', 'security', 'CRITICAL');
    const got = await outcomes(second.notification_id, settled(['email', 'in_app']));
    assert.ok(!got.some((o) => o.channel === 'sms'), 'no SMS planned after STOP');
    assert.equal(twilio.sent.slice(before).filter((m) => m.to === u.phone).length, 0);

    assert.equal((await inbound(u.phone, 'START')).status, 200);
    const back = await eventually(async () => (await readPreferences(t.rt.db, u.id)).preferences.sms_consent ?? undefined, { what: 'SMS consent given again' });
    assert.equal(back.source, 'keyword');
    const third = await request(u.id, 'payment_failed', 'security', 'CRITICAL');
    await outcomes(third.notification_id, settled(['email', 'sms', 'in_app']));
    assert.equal(twilio.sent.slice(before).filter((m) => m.to === u.phone).length, 1, 'SMS again after START');
  });

  it('given HELP, then Twilio gets a TwiML help reply and nothing changes; a redelivered STOP changes consent once', async () => {
    const u = await user({ sms_consent: { at: 1, source: 'api' } });
    const help = await inbound(u.phone, 'help');
    assert.equal(help.status, 200);
    assert.match(help.headers.get('content-type') ?? '', /text\/xml/);
    assert.match(await help.text(), /^<Response><Message>Eventline account notices\. Reply STOP to stop, START to resume\. Msg &amp; data rates may apply\.<\/Message><\/Response>$/);
    assert.deepEqual((await readPreferences(t.rt.db, u.id)).preferences.sms_consent, { at: 1, source: 'api' });
    const sid = `SM${'ab'.repeat(16)}`;
    assert.equal((await inbound(u.phone, 'STOPALL', sid)).status, 200);
    assert.equal((await inbound(u.phone, 'STOPALL', sid)).status, 200);
    await eventually(async () => ((await readPreferences(t.rt.db, u.id)).preferences.sms_consent === null ? true : undefined), { what: 'opted out' });
    const events = await collect(t.rt.kafka, ['notify.delivery-events.v1'], (rs) => rs.some((r) => r.value.event_id === `${sid}:received`));
    assert.equal(events.filter((r) => r.value.event_id === `${sid}:received`).length, 1, 'the reply is recorded once');
    const opted = await changesOf(u.id, 1);
    assert.equal(opted.filter((c) => c.change === 'sms_opted_out').length, 1);
  });

  it('given bad input to the inbound webhook, then each is a 4xx JSON error and nothing changes', async () => {
    const u = await user({ sms_consent: { at: 1, source: 'api' } });
    const forged = await inbound(u.phone, 'STOP', undefined, { Body: 'something else' });
    assert.equal(forged.status, 400);
    assert.equal(((await forged.json()) as { error: string }).error, 'signature_invalid');
    const unsigned = await fetch(`${app.url}/webhooks/twilio/inbound`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `From=${encodeURIComponent(u.phone)}&Body=STOP` });
    assert.equal(unsigned.status, 400);
    assert.match(((await unsigned.json()) as { detail: string }).detail, /missing X-Twilio-Signature/);
    const json = await fetch(`${app.url}/webhooks/twilio/inbound`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 415);
    const notANumber = await inbound('not-a-number', 'STOP');
    assert.equal(notANumber.status, 400);
    assert.match(((await notANumber.json()) as { detail: string }).detail, /From: expected an E\.164 number/);
    assert.deepEqual((await readPreferences(t.rt.db, u.id)).preferences.sms_consent, { at: 1, source: 'api' });
  });

  it('given Twilio refusing a number with 21610, then the SMS fails as unreachable and consent is withdrawn (source provider)', async () => {
    const u = await user({ sms_consent: { at: 1, source: 'api' } });
    twilio.unsubscribed.add(u.phone);
    const r = await request(u.id, 'payment_failed', 'payment', 'HIGH');
    // HIGH: email first; its bounce asks for SMS, which Twilio refuses.
    const email = await eventually(() => sendgrid.byNotification(r.notification_id)[0], { what: 'the email' });
    assert.equal(await sendgrid.postEvent(email, 'bounce', { type: 'bounce', reason: '550 5.1.1 unknown user', status: '5.1.1' }), 200);
    const got = await outcomes(r.notification_id, (os) => os.some((o) => o.channel === 'sms' && o.status === 'failed'));
    assert.match(got.find((o) => o.channel === 'sms')?.reason ?? '', /unsubscribed at the carrier \(Twilio 21610\)/);
    const prefs = await eventually(async () => {
      const p = (await readPreferences(t.rt.db, u.id, { box: await t.rt.privacy() })).preferences;
      return p.sms_consent === null ? p : undefined;
    }, { what: 'consent withdrawn after 21610' });
    assert.equal(prefs.sms_consent, null);
    const changes = await changesOf(u.id, 2);
    assert.deepEqual(changes.find((c) => c.change === 'sms_opted_out')?.source, 'provider');
  });

  it('given a hard bounce, then the address is suppressed (essential messages too) and the next notice goes by SMS instead', async () => {
    const u = await user({ sms_consent: { at: 1, source: 'api' } });
    const first = await request(u.id, 'update_payment_method', 'payment', 'HIGH');
    const email = await eventually(() => sendgrid.byNotification(first.notification_id)[0], { what: 'the email' });
    assert.equal(await sendgrid.postEvent(email, 'bounce', { type: 'bounce', reason: '550 5.1.1 unknown user', status: '5.1.1' }), 200);
    const suppressed = await eventually(async () => {
      const p = (await readPreferences(t.rt.db, u.id, { box: await t.rt.privacy() })).preferences;
      return p.suppressions?.length ? p.suppressions : undefined;
    }, { what: 'the address suppressed' });
    assert.deepEqual(suppressed.map((s) => [s.channel, s.address, s.reason]), [['email', u.email, 'hard_bounce']]);
    const [change] = (await changesOf(u.id, 1)).filter((c) => c.change === 'suppressed');
    assert.deepEqual([change?.actor, change?.source], ['sendgrid', 'provider']);

    const before = sendgrid.sent.length;
    const second = await request(u.id, 'payment_failed', 'payment', 'HIGH');
    const got = await outcomes(second.notification_id, (os) => os.some((o) => o.status === 'sent'));
    assert.deepEqual(got.filter((o) => o.status === 'sent').map((o) => o.channel), ['sms'], 'HIGH goes to SMS: the email address is suppressed');
    assert.equal(sendgrid.sent.slice(before).filter((m) => m.to === u.email).length, 0);
  });

  it('given a browser registered with the user token, then a CRITICAL notice is pushed to it (and lands in the inbox); once its push service answers 410, it is removed and push is no longer planned', async () => {
    const u = await user({ channels: { email: true, sms: false, push: true, in_app: true } });
    const token = signUserToken(unsubscribeSecret, u.id, Date.now()).token;
    const browser = push.subscribe();
    const registered = await fetch(`${app.url}/v1/users/${u.id}/push-subscriptions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ endpoint: browser.endpoint, keys: browser.keys }) });
    assert.equal(registered.status, 201, await registered.clone().text());

    const r = await request(u.id, 'payment_failed', 'security', 'CRITICAL');
    const got = await outcomes(r.notification_id, settled(['email', 'push', 'in_app']));
    assert.deepEqual(got.filter((o) => o.status === 'sent').map((o) => [o.channel, o.provider]).sort(), [['email', 'sendgrid'], ['in_app', 'eventline'], ['push', 'webpush']]);
    const [delivery] = push.deliveredTo(browser.id);
    assert.ok(delivery, 'the push service got the message');
    const payload = JSON.parse(delivery.plaintext) as { notification_id: string; title: string; body: string; url: string | null };
    assert.equal(payload.notification_id, r.notification_id);
    assert.match(payload.title, /payment/i);
    assert.equal(payload.url, 'https://pay.test/i');
    assert.equal(delivery.urgency, 'high');
    assert.equal(delivery.vapid.publicKey, vapid.publicKey);

    push.answerWith(browser.id, 410);
    const second = await request(u.id, 'payment_failed', 'security', 'CRITICAL');
    const failed = await outcomes(second.notification_id, settled(['email', 'push', 'in_app']));
    assert.equal(failed.find((o) => o.channel === 'push' && o.status === 'failed')?.reason, 'webpush: every push subscription of the user has expired (1 removed)');
    assert.equal((await new PushSubscriptions(t.rt.db).forUser(u.id)).length, 0, 'the expired subscription is gone');
    const third = await request(u.id, 'payment_failed', 'security', 'CRITICAL');
    const planned = await outcomes(third.notification_id, settled(['email', 'in_app']));
    assert.ok(!planned.some((o) => o.channel === 'push'), 'no browser left: push is not planned');
  });

  it('given a dispatched in-app item, then its user reads the feed with a user token as unseen, marks it seen and read with the counts following, and another user\'s token is refused', async () => {
    const u = await user();
    const other = await user();
    const r = await request(u.id, 'payment_failed', 'security', 'CRITICAL');
    await outcomes(r.notification_id, settled(['email', 'in_app']));
    const token = signUserToken(unsubscribeSecret, u.id, Date.now()).token;
    const auth = { authorization: `Bearer ${token}` };
    type Feed = { items: { notification_id: string; title: string | null; seen_at: string | null; read_at: string | null }[]; unread_count: number; unseen_count: number };
    const feed = async (): Promise<Feed> => {
      const res = await fetch(`${app.url}/v1/users/${u.id}/inbox`, { headers: auth });
      assert.equal(res.status, 200);
      return (await res.json()) as Feed;
    };
    const first = await eventually(async () => {
      const f = await feed();
      return f.items.some((i) => i.notification_id === r.notification_id) ? f : undefined;
    }, { what: 'the item in the feed' });
    const item = first.items.find((i) => i.notification_id === r.notification_id);
    assert.deepEqual([item?.seen_at, item?.read_at, first.unseen_count, first.unread_count], [null, null, 1, 1]);
    assert.ok(item?.title, 'the item has its title');

    for (const action of ['seen', 'read'] as const) assert.equal((await fetch(`${app.url}/v1/users/${u.id}/inbox/${r.notification_id}/${action}`, { method: 'POST', headers: auth })).status, 200);
    const after = await eventually(async () => {
      const f = await feed();
      return f.unread_count === 0 ? f : undefined;
    }, { what: 'the item read' });
    const read = after.items.find((i) => i.notification_id === r.notification_id);
    assert.ok(read?.seen_at && read.read_at, 'seen and read');
    assert.equal(after.unseen_count, 0);

    const foreign = await fetch(`${app.url}/v1/users/${other.id}/inbox`, { headers: auth });
    assert.equal(foreign.status, 403);
    assert.equal((await fetch(`${app.url}/v1/users/${other.id}/inbox/${r.notification_id}/archive`, { method: 'POST', headers: auth })).status, 403);
  });
});
