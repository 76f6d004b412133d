import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import { EntityStore } from '../../lib/decider/index.ts';
import type { NotificationDispatched, NotificationDue, NotificationRequested, StripeEventReceived } from '../../lib/topics.ts';
import { notificationRequest } from '../../notify/index.ts';
import { deliveryProjection } from '../../projections/delivery/main.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeSendGrid, FakeTwilio } from '../../test/support/fake-providers.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { storedPreferences } from '../../test/support/preferences.ts';
import { fakeProviderEnv } from '../../test/support/providers.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcessor } from '../../lib/processor.ts';
import { loadRules, rulesProcessor } from '../rules/main.ts';
import { ProcessorGroup } from '../supervisor.ts';
import { invoiceKind, type InvoiceState } from './evolve.ts';

/**
 * Scheduled, cancelled and escalating notifications against the real stack: the API, the
 * dispatcher with its durable timers, the delivery projection, and the real SendGrid and Twilio
 * SDKs against local servers.
 */
describe('scheduled, cancelled and escalating notifications', () => {
  let t: TestEnv;
  let app: RunningApp;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  let key: string;
  let stop: (() => Promise<void>) | null = null;
  let n = 0;

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    t = await createTestEnv('schedule', fakeProviderEnv({ sendgrid, twilio }));
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    sendgrid.webhookUrl = `${app.url}/webhooks/sendgrid`;
    const group = new ProcessorGroup(t.rt, ['dispatch'], { timerIntervalMs: 50 });
    await group.start({ watchMs: 60_000 });
    const delivery = await runVersionedProjection(t.rt, deliveryProjection, { pollMs: 100 });
    // Domain-event rules too: a rule that names its channel (SMS).
    const rulesFile = join(mkdtempSync(join(tmpdir(), 'eventline-rules-')), 'rules.json');
    writeFileSync(rulesFile, JSON.stringify({ rules: [{ name: 'security-sms', event: 'SecurityAlertRaised', template: 'security_alert', priority: 'HIGH', channel: 'sms', recipient: 'user_id', data: { alert: 'alert', ip: 'ip', device: 'device' } }] }));
    const rules = await runProcessor(t.rt, rulesProcessor(t.rt, loadRules(rulesFile)));
    stop = async () => {
      await rules.stop();
      await delivery.stop();
      await group.stop();
    };
    key = await createKey(t, ['publish', 'essential']);
  });
  after(async () => {
    await stop?.();
    await app?.close();
    await t?.cleanup();
    await sendgrid?.close();
    await twilio?.close();
  });

  async function user(): Promise<{ id: string; email: string; phone: string }> {
    const id = `user_s${n++}`;
    const email = `${id}@example.com`;
    const phone = `+1415555${String(3000 + n).padStart(4, '0')}`;
    await storedPreferences(t.rt.db, id, { email, phone, sms_consent: { at: 1, source: 'api' } });
    return { id, email, phone };
  }

  const post = (body: unknown) => fetch(`${app.url}/v1/notifications`, { method: 'POST', headers: bearer(key), body: JSON.stringify(body) });
  const cancel = (id: string, auth = bearer(key)) => fetch(`${app.url}/v1/notifications/${id}`, { method: 'DELETE', headers: auth });
  const receipt = (userId: string, extra: Record<string, unknown> = {}) => ({ user_id: userId, template: 'receipt', category: 'billing', data: { amount_due: 1900, currency: 'usd' }, ...extra });

  async function outcomes(id: string, until: (os: NotificationDispatched[]) => boolean): Promise<NotificationDispatched[]> {
    const records = await collect(t.rt.kafka, ['notify.dispatches.v1'], (rs) => until(rs.filter((r) => r.value.notification_id === id).map((r) => r.value)), { timeoutMs: 30_000 });
    return records.filter((r) => r.value.notification_id === id).map((r) => r.value).sort((a, b) => a.seq - b.seq);
  }

  let readKey: string | null = null;
  async function status(id: string): Promise<string> {
    readKey ??= await createKey(t, ['read']);
    const res = await fetch(`${app.url}/v1/notifications/${id}`, { headers: bearer(readKey) });
    return ((await res.json()) as { status: string }).status;
  }

  it('given send_at two seconds ahead, then it is scheduled and sent at its time, not before', async () => {
    const u = await user();
    const sendAt = Date.now() + 2000;
    const res = await post(receipt(u.id, { send_at: new Date(sendAt).toISOString() }));
    assert.equal(res.status, 202);
    const { notification_id: id } = (await res.json()) as { notification_id: string };
    const got = await outcomes(id, (os) => os.some((o) => o.status === 'sent'));
    assert.deepEqual(got.map((o) => o.status), ['scheduled', 'sent']);
    assert.equal(got[0]?.due_at, sendAt);
    const email = sendgrid.byNotification(id);
    assert.equal(email.length, 1);
    const at = sendgrid.acceptedAt[sendgrid.sent.indexOf(email[0]!)] ?? 0;
    assert.ok(at >= sendAt, `sent ${sendAt - at} ms early`);
  });

  it('given a scheduled notification, when DELETEd, then it is cancelled and never sent; DELETE again is 200, and a sent one is 409', async () => {
    const u = await user();
    const res = await post(receipt(u.id, { send_at: new Date(Date.now() + 3_600_000).toISOString() }));
    const { notification_id: id } = (await res.json()) as { notification_id: string };
    await outcomes(id, (os) => os.some((o) => o.status === 'scheduled'));
    await eventually(async () => ((await status(id)) === 'scheduled' ? true : undefined), { what: 'scheduled in the read model' });
    const deleted = await cancel(id);
    assert.equal(deleted.status, 202);
    assert.deepEqual(await deleted.json(), { notification_id: id, status: 'cancelling' });
    const got = await outcomes(id, (os) => os.some((o) => o.status === 'cancelled'));
    assert.deepEqual(got.map((o) => o.status), ['scheduled', 'cancelled']);
    assert.match(got[1]?.reason ?? '', /^cancelled by key:/);
    await eventually(async () => ((await status(id)) === 'cancelled' ? true : undefined), { what: 'cancelled in the read model' });
    assert.equal((await cancel(id)).status, 200);
    assert.equal(sendgrid.byNotification(id).length, 0);

    const sent = (await (await post(receipt(u.id))).json()) as { notification_id: string };
    await outcomes(sent.notification_id, (os) => os.some((o) => o.status === 'sent'));
    await eventually(async () => ((await status(sent.notification_id)) === 'sent' ? true : undefined), { what: 'sent in the read model' });
    const late = await cancel(sent.notification_id);
    assert.equal(late.status, 409);
    assert.match(((await late.json()) as { detail: string }).detail, /is sent: only a notification not sent yet can be cancelled/);
  });

  it('given bad input, then 4xx and nothing appended', async () => {
    const u = await user();
    assert.equal((await cancel('not-an-id')).status, 400);
    assert.equal((await cancel('ntf_doesnotexist')).status, 404);
    assert.equal((await cancel('ntf_doesnotexist', { 'content-type': 'application/json' })).status, 401);
    const bad = await post(receipt(u.id, { send_at: 'tomorrow', escalation: { after_seconds: 0, unless: 'seen', channel: 'fax' } }));
    assert.equal(bad.status, 422);
    const problems = ((await bad.json()) as { problems: string[] }).problems;
    assert.ok(problems.some((p) => p.startsWith('send_at:')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('escalation.after_seconds:')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('escalation.unless:')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('escalation.channel:')), problems.join('\n'));
    const same = await post(receipt(u.id, { channel: 'sms', escalation: { after_seconds: 60, unless: 'opened', channel: 'sms' } }));
    assert.equal(same.status, 422);
    const far = await post(receipt(u.id, { send_at: new Date(Date.now() + 31 * 86_400_000).toISOString() }));
    assert.equal(far.status, 422);
    // A valid request after them: once it is on the topic, it is the user's only one.
    const valid = (await (await post(receipt(u.id))).json()) as { notification_id: string };
    const requests = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((r) => r.value.notification_id === valid.notification_id));
    assert.deepEqual(requests.filter((r) => r.value.user_id === u.id).map((r) => r.value.notification_id), [valid.notification_id], 'nothing appended for the bad ones');
  });

  /** A request as if made `agoMs` ago (event time), escalating to SMS after `afterSeconds` unless opened. */
  async function escalating(userId: string, agoMs: number, afterSeconds: number): Promise<NotificationRequested> {
    const r = notificationRequest({
      source: `escalate:${userId}:${n++}`,
      userId,
      template: 'receipt',
      category: 'billing',
      priority: 'NORMAL',
      data: { amount_due: 1900, currency: 'usd' },
      requestedBy: 'test',
      at: Date.now() - agoMs,
      escalation: { after_seconds: afterSeconds, unless: 'opened', channel: 'sms' },
    });
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: r.user_id, record: 'NotificationRequested', value: r }]);
    return r;
  }

  it('given an email nobody opened within its delay (in event time), then it escalates to SMS once', async () => {
    const u = await user();
    const r = await escalating(u.id, 120_000, 60);
    const got = await outcomes(r.notification_id, (os) => os.some((o) => o.status === 'sent' && o.channel === 'sms'));
    assert.deepEqual(got.map((o) => [o.status, o.channel, o.reason]), [['sent', 'email', null], ['sent', 'sms', 'escalation: not opened within 60 s']]);
    assert.equal(twilio.sent.filter((m) => m.to === u.phone).length, 1);
  });

  it('given an email opened before its delay is over, then no SMS when the escalation timer fires', async () => {
    const u = await user();
    const r = await escalating(u.id, 45_000, 60);
    const email = await eventually(() => sendgrid.byNotification(r.notification_id)[0], { what: 'the email' });
    assert.equal(await sendgrid.postEvent(email, 'open', { timestamp: Math.floor((Date.now() - 40_000) / 1000) }), 200);
    // The timer fires about 15 s from the request's time; once it is on the topic, a later request of
    // the same user (same partition, in order) shows the dispatcher is past it.
    const due = `due:escalation:${r.notification_id}:sms:0`;
    await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((x) => x.value.event_id === due), { timeoutMs: 60_000 });
    const marker = (await (await post(receipt(u.id))).json()) as { notification_id: string };
    await outcomes(marker.notification_id, (os) => os.some((o) => o.status === 'sent'));
    const got = await outcomes(r.notification_id, (os) => os.some((o) => o.status === 'sent'));
    assert.deepEqual(got.map((o) => [o.status, o.channel]), [['sent', 'email']]);
    assert.equal(twilio.sent.filter((m) => m.to === u.phone).length, 0);
  });

  it('given a SecurityAlertRaised published through POST /v1/events, then the rule turns it into a notice that reaches its user by SMS, the channel the rule names', async () => {
    const u = await user();
    const res = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: bearer(key),
      body: JSON.stringify({ type: 'SecurityAlertRaised', key: u.id, event_id: `sec-${u.id}`, data: { user_id: u.id, alert: 'new_device_login', ip: '203.0.113.5', device: 'Firefox on Linux' } }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const sms = await eventually(() => twilio.sent.find((m) => m.to === u.phone), { what: 'the SMS', timeoutMs: 30_000 });
    const id = new URL(sms.statusCallback).searchParams.get('notification_id') ?? '';
    const got = await outcomes(id, (os) => os.some((o) => o.status === 'sent'));
    assert.deepEqual(got.filter((o) => o.status === 'sent').map((o) => [o.channel, o.template, o.category, o.priority, o.user_id]), [['sms', 'security_alert', 'security', 'HIGH', u.id]]);
    assert.equal(sendgrid.sent.filter((m) => m.to === u.email).length, 0, 'only the channel the rule names');
  });

  it('given a daily recurrence of two, then the first occurrence is sent now and the second is scheduled a day later; DELETE on the series id cancels the series (202, then 200), and a recurrence without an end is refused', async () => {
    const u = await user();
    const res = await post(receipt(u.id, { recurrence: { every: 'day', count: 2 } }));
    assert.equal(res.status, 202);
    const { notification_id: first, series_id: seriesId } = (await res.json()) as { notification_id: string; series_id: string };
    assert.equal(seriesId, first);
    const sentFirst = await outcomes(first, (os) => os.some((o) => o.status === 'sent'));
    const firstAt = sentFirst.find((o) => o.status === 'sent')!.occurred_at;
    const next = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((r) => r.record === 'NotificationRequested' && r.value.recurrence?.series_id === seriesId && r.value.recurrence.occurrence === 1));
    const second = next.find((r) => r.record === 'NotificationRequested' && r.value.recurrence?.occurrence === 1 && r.value.recurrence.series_id === seriesId)!.value as NotificationRequested;
    assert.notEqual(second.notification_id, first, 'an occurrence is a notification of its own');
    assert.equal(second.send_at, second.recurrence!.starts_at + 86_400_000);
    assert.ok(Math.abs(second.recurrence!.starts_at - firstAt) < 5_000, 'the series starts with the first occurrence');
    const scheduled = await outcomes(second.notification_id, (os) => os.some((o) => o.status === 'scheduled'));
    assert.equal(scheduled[0]?.due_at, second.send_at);

    const cancelled = await cancel(seriesId);
    assert.equal(cancelled.status, 202);
    assert.deepEqual(await cancelled.json(), { notification_id: seriesId, status: 'cancelling', series: true });
    assert.equal((await cancel(seriesId)).status, 200);
    const endless = await post(receipt(u.id, { recurrence: { every: 'week' } }));
    assert.equal(endless.status, 422);
    assert.match(JSON.stringify(await endless.json()), /a series must end/);
  });

  it('given invoices paid and voided in one append (one partition), then the dispatcher folds each, the earliest settlement of an invoice standing, and skips one settled longer ago than a sequence runs', async () => {
    const now = Date.now();
    const tag = `in_fold${n++}`;
    const event = (id: string, invoice: string, type: string, at: number): StripeEventReceived => ({ event_id: id, occurred_at: at, received_at: now, type, api_version: null, account: null, livemode: false, customer_id: 'cus_fold', object_id: invoice, object_type: 'invoice', source: 'webhook', payload: '{}' });
    const events = [
      event(`evt_${tag}_a`, `${tag}_a`, 'invoice.paid', now - 5_000),
      event(`evt_${tag}_b`, `${tag}_b`, 'invoice.voided', now - 4_000),
      event(`evt_${tag}_c`, `${tag}_c`, 'invoice.payment_failed', now - 3_000),
      // Paid again later (a redelivery with a new id): the first settlement stands.
      event(`evt_${tag}_a2`, `${tag}_a`, 'invoice.paid', now - 2_000),
      event(`evt_${tag}_old`, `${tag}_old`, 'invoice.paid', now - 121 * 86_400_000),
      event(`evt_${tag}_d`, `${tag}_d`, 'invoice.paid', now - 1_000),
    ];
    await (await t.rt.kafka.appender()).append('stripe.events.v1', events.map((value) => ({ key: 'cus_fold', record: 'StripeEventReceived' as const, value })));
    const store = new EntityStore(t.rt.redis);
    const state = (invoice: string) => store.get<InvoiceState>({ kind: invoiceKind.name, key: invoice });
    // The last of the append folded means every record before it in the partition was handled.
    await eventually(async () => ((await state(`${tag}_d`))?.how === 'invoice.paid' ? true : undefined), { what: 'the last invoice in the dispatch state' });
    assert.deepEqual(await state(`${tag}_a`), { settledAt: now - 5_000, how: 'invoice.paid', eventId: `evt_${tag}_a` });
    assert.deepEqual(await state(`${tag}_b`), { settledAt: now - 4_000, how: 'invoice.voided', eventId: `evt_${tag}_b` });
    assert.equal(await state(`${tag}_c`), null, 'a failed payment settles nothing');
    assert.equal(await state(`${tag}_old`), null, 'settled before any running sequence began');
  });

  it('given a drip sequence that exits when its invoice is paid, then the first step goes now and the next is scheduled its delay later; once Stripe says the invoice is paid, the next step is cancelled when it comes due, never sent', async () => {
    const u = await user();
    const invoice = `in_drip${n++}`;
    const res = await post(
      receipt(u.id, { sequence: { steps: [{ delay_seconds: 3600, template: 'payment_failed', priority: 'HIGH', data: { amount_due: 1900, currency: 'usd', hosted_invoice_url: 'https://invoice.stripe.com/i/acct_1/in_drip' } }], exit_when: { invoice_paid: invoice } } }),
    );
    assert.equal(res.status, 202, await res.clone().text());
    const { notification_id: first, series_id: seriesId } = (await res.json()) as { notification_id: string; series_id: string };
    assert.equal(seriesId, first);
    const sentFirst = await outcomes(first, (os) => os.some((o) => o.status === 'sent'));
    assert.deepEqual(sentFirst.filter((o) => o.status === 'sent').map((o) => o.template), ['receipt']);
    const requests = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((r) => r.record === 'NotificationRequested' && r.value.sequence?.series_id === seriesId && r.value.sequence.step === 1));
    const firstRequest = requests.find((r) => r.value.notification_id === first)!.value as NotificationRequested;
    const second = requests.find((r) => r.record === 'NotificationRequested' && r.value.sequence?.series_id === seriesId && r.value.sequence.step === 1)!.value as NotificationRequested;
    assert.deepEqual([second.template, second.category, second.priority, second.send_at], ['payment_failed', 'payment', 'HIGH', firstRequest.occurred_at + 3_600_000]);
    const scheduled = await outcomes(second.notification_id, (os) => os.some((o) => o.status === 'scheduled'));
    assert.equal(scheduled[0]?.due_at, second.send_at);

    // Stripe: the invoice is paid. The dispatcher folds it (its state shows it) ...
    const now = Date.now();
    const paid: StripeEventReceived = { event_id: `evt_${invoice}`, occurred_at: now, received_at: now, type: 'invoice.paid', api_version: null, account: null, livemode: false, customer_id: 'cus_drip', object_id: invoice, object_type: 'invoice', source: 'webhook', payload: '{}' };
    await (await t.rt.kafka.appender()).append('stripe.events.v1', [{ key: 'cus_drip', record: 'StripeEventReceived', value: paid }]);
    const store = new EntityStore(t.rt.redis);
    await eventually(async () => ((await store.get<InvoiceState>({ kind: invoiceKind.name, key: invoice }))?.how === 'invoice.paid' ? true : undefined), { what: 'the paid invoice in the dispatch state' });
    // ... and the step's timer fires (as it would in an hour): the step is cancelled, naming why.
    const due: NotificationDue = { event_id: `due:scheduled:${second.notification_id}:any:0`, occurred_at: now, received_at: now, notification_id: second.notification_id, user_id: u.id, reason: 'scheduled', attempt: 0, channel: null };
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: u.id, record: 'NotificationDue', value: due }]);
    const got = await outcomes(second.notification_id, (os) => os.some((o) => o.status === 'cancelled' || o.status === 'sent'));
    assert.deepEqual(got.map((o) => [o.status, o.reason]).at(-1), ['cancelled', `the sequence ended: invoice ${invoice} was paid (invoice.paid)`]);
    assert.equal(sendgrid.byNotification(second.notification_id).length, 0);
  });

  it('given a bad sequence, then 422 naming the problem, 403 for an essential step without the scope, and nothing appended', async () => {
    const u = await user();
    const problemsOf = async (body: unknown, auth?: Record<string, string>) => {
      const res = auth ? await fetch(`${app.url}/v1/notifications`, { method: 'POST', headers: auth, body: JSON.stringify(body) }) : await post(body);
      return { status: res.status, text: JSON.stringify(await res.json()) };
    };
    const step = { delay_seconds: 3600, template: 'receipt' };
    const both = await problemsOf(receipt(u.id, { recurrence: { every: 'day', count: 2 }, sequence: { steps: [step] } }));
    assert.deepEqual([both.status, /either recurring or a sequence/.test(both.text)], [422, true], both.text);
    const unknown = await problemsOf(receipt(u.id, { sequence: { steps: [{ delay_seconds: 3600, template: 'no_such_template' }] } }));
    assert.deepEqual([unknown.status, /sequence.steps.0.template: unknown template no_such_template/.test(unknown.text)], [422, true], unknown.text);
    const data = await problemsOf(receipt(u.id, { sequence: { steps: [{ delay_seconds: 3600, template: 'receipt', data: { amount_due: 'lots' } }] } }));
    assert.deepEqual([data.status, /sequence.steps.0.data.amount_due/.test(data.text)], [422, true], data.text);
    const long = await problemsOf(receipt(u.id, { sequence: { steps: [{ delay_seconds: 30 * 86_400, template: 'receipt' }, { delay_seconds: 30 * 86_400, template: 'receipt' }, { delay_seconds: 30 * 86_400 + 1, template: 'receipt' }] } }));
    assert.deepEqual([long.status, /at most 90 days/.test(long.text)], [422, true], long.text);
    const fast = await problemsOf(receipt(u.id, { sequence: { steps: [{ delay_seconds: 5, template: 'receipt' }], exit_when: { invoice_paid: 'ch_1', engaged: 'liked' } } }));
    assert.equal(fast.status, 422);
    for (const what of ['sequence.steps.0.delay_seconds', 'sequence.exit_when.invoice_paid', 'sequence.exit_when.engaged']) assert.ok(fast.text.includes(what), `${what} in ${fast.text}`);
    const publishOnly = await createKey(t, ['publish']);
    const essential = await problemsOf(receipt(u.id, { sequence: { steps: [{ delay_seconds: 3600, template: 'payment_failed', data: { amount_due: 1900, currency: 'usd' } }] } }), bearer(publishOnly));
    assert.deepEqual([essential.status, /sequence.steps.0: payment_failed is a payment notification/.test(essential.text)], [403, true], essential.text);
    const valid = (await (await post(receipt(u.id))).json()) as { notification_id: string };
    const requests = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((r) => r.value.notification_id === valid.notification_id));
    assert.deepEqual(requests.filter((r) => r.value.user_id === u.id).map((r) => r.value.notification_id), [valid.notification_id], 'nothing appended for the bad ones');
  });
});
