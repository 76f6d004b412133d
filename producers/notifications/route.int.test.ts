import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { providerEnv } from '../../test/support/providers.ts';

describe('POST /v1/notifications and GET /v1/notifications/:id', () => {
  let t: TestEnv;
  let app: RunningApp;
  let key: string;

  before(async () => {
    t = await createTestEnv('ntfapi', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    key = await createKey(t, ['publish', 'read']);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const post = (body: unknown, headers = bearer(key)) => fetch(`${app.url}/v1/notifications`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('accepts a request with 202 and its id, appends it, and shows it as requested right away', async () => {
    const res = await post({ user_id: 'user_1', template: 'receipt', category: 'billing', priority: 'LOW', data: { amount_due: 990, currency: 'usd' } });
    assert.equal(res.status, 202);
    const { notification_id } = (await res.json()) as { notification_id: string };
    assert.match(notification_id, /^ntf_/);
    const [record] = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], 1);
    assert.ok(record && record.record === 'NotificationRequested');
    assert.deepEqual([record.key, record.value.notification_id, record.value.priority, JSON.parse(record.value.data).amount_due], ['user_1', notification_id, 'LOW', 990]);
    const status = (await (await fetch(`${app.url}/v1/notifications/${notification_id}`, { headers: bearer(key) })).json()) as { status: string; timeline: { step: string }[] };
    assert.equal(status.status, 'requested');
    assert.deepEqual(status.timeline.map((s) => s.step), ['requested']);
  });

  it('answers the same id for a repeated idempotency key (appending once), and 409 when the key is reused for another request', async () => {
    const body = { user_id: 'user_2', template: 'welcome_subscription', category: 'account', idempotency_key: 'signup-2' };
    const before = await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1');
    const a = (await (await post(body)).json()) as { notification_id: string };
    const b = (await (await post(body)).json()) as { notification_id: string; duplicate?: boolean };
    assert.equal(b.notification_id, a.notification_id);
    assert.equal(b.duplicate, true);
    assert.equal(await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1'), before + 1);
    const other = await post({ ...body, data: { plan: 'pro' } });
    assert.equal(other.status, 409);
    assert.equal(((await other.json()) as { error: string }).error, 'conflict');
  });

  it('rejects bad input with a JSON error and appends nothing', async () => {
    const readOnly = await createKey(t, ['read']);
    const before = await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1');
    const cases: [string, Promise<Response>, number, string][] = [
      ['no key', post({}, { 'content-type': 'application/json' }), 401, 'unauthorized'],
      ['read-only key', post({ user_id: 'u', template: 'receipt', category: 'billing' }, bearer(readOnly)), 403, 'forbidden'],
      ['unknown template', post({ user_id: 'u', template: 'does_not_exist', category: 'billing' }), 422, 'unprocessable'],
      ['bad priority', post({ user_id: 'u', template: 'receipt', category: 'billing', priority: 'URGENT' }), 422, 'unprocessable'],
      ['bad channel', post({ user_id: 'u', template: 'receipt', category: 'billing', channel: 'fax' }), 422, 'unprocessable'],
      ['missing user', post({ template: 'receipt', category: 'billing' }), 422, 'unprocessable'],
      ['unknown field', post({ user_id: 'u', template: 'receipt', category: 'billing', urgent: true }), 422, 'unprocessable'],
      ['malformed JSON', post('{"user_id":'), 400, 'bad_request'],
      ['not JSON', post('user_id=u', bearer(key, { 'content-type': 'text/plain' })), 415, 'unsupported_media_type'],
    ];
    for (const [name, response, status, error] of cases) {
      const res = await response;
      assert.equal(res.status, status, name);
      assert.equal(((await res.json()) as { error: string }).error, error, name);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1'), before);
    assert.equal((await fetch(`${app.url}/v1/notifications/ntf_unknown123`, { headers: bearer(key) })).status, 404);
    assert.equal((await fetch(`${app.url}/v1/notifications/not-an-id`, { headers: bearer(key) })).status, 400);
  });

  it('given a link field that is not an https URL, then 422 names the field and nothing is appended', async () => {
    const before = await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1');
    for (const bad of ['javascript:alert(document.cookie)', 'http://pay.example/i', 'data:text/html,<script>alert(1)</script>']) {
      const res = await post({ user_id: 'u', template: 'receipt', category: 'billing', data: { amount_due: 100, currency: 'usd', hosted_invoice_url: bad } });
      assert.equal(res.status, 422, bad);
      const body = (await res.json()) as { error: string; problems: string[] };
      assert.deepEqual([body.error, body.problems], ['unprocessable', ['data.hosted_invoice_url: a link must be an absolute https:// URL']], bad);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1'), before);
    const ok = await post({ user_id: 'u', template: 'receipt', category: 'billing', data: { amount_due: 100, currency: 'usd', hosted_invoice_url: 'https://invoice.stripe.com/i/x' } });
    assert.equal(ok.status, 202);
  });

  it('given data that does not match the template\'s declared data, then 422 names each field and nothing is appended', async () => {
    const before = await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1');
    const res = await post({ user_id: 'u', template: 'receipt', data: { amount_due: 9.9, currency: 'dollars', recoverd: true, first_name: 'Ada' } });
    assert.equal(res.status, 422);
    const body = (await res.json()) as { error: string; problems: string[] };
    assert.deepEqual([body.error, body.problems], [
      'unprocessable',
      [
        'data.amount_due: expected an integer amount in minor units (990 for 9.90)',
        'data.currency: expected a 3-letter currency code like usd',
        'data.recoverd: not a field of receipt (its fields: action_url, amount_due, currency, hosted_invoice_url, invoice_id, recovered)',
        'data.first_name: set by Eventline when it renders, not by the request',
      ],
    ]);
    const missing = await post({ user_id: 'u', template: 'receipt', data: {} });
    assert.equal(missing.status, 422);
    assert.deepEqual(((await missing.json()) as { problems: string[] }).problems, [
      'data.amount_due: required, expected an integer amount in minor units (990 for 9.90)',
      'data.currency: required, expected a 3-letter currency code like usd',
    ]);
    assert.equal(await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1'), before, 'nothing appended');
    assert.equal((await post({ user_id: 'u', template: 'receipt', data: { amount_due: 990, currency: 'usd', invoice_id: 'in_1', recovered: false } })).status, 202);
  });

  it('given the category of each template, then an omitted one is filled in, another is refused, and an essential one needs the "essential" scope', async () => {
    const before = await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1');
    const essentialCases: [string, Record<string, unknown>][] = [
      ['payment template as billing', { user_id: 'u', template: 'payment_failed', category: 'billing' }],
      ['account template as security', { user_id: 'u', template: 'welcome_subscription', category: 'security' }],
      ['internal template', { user_id: 'u', template: 'contact_confirmation', category: 'account' }],
    ];
    for (const [name, body] of essentialCases) {
      const res = await post(body);
      assert.equal(res.status, 422, name);
      assert.match(((await res.json()) as { problems: string[] }).problems[0] ?? '', /^(category|template): /, name);
    }
    for (const body of [{ user_id: 'u', template: 'payment_failed', category: 'payment' }, { user_id: 'u', template: 'payment_failed' }, { user_id: 'u', template: 'receipt', category: 'payment' }]) {
      const res = await post(body);
      assert.equal(res.status, 403, JSON.stringify(body));
      assert.match(((await res.json()) as { detail: string }).detail, /lacks the "essential" scope/);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.dispatch-requests.v1'), before, 'nothing appended');

    const filled = await post({ user_id: 'user_fill', template: 'trial_ending', data: { trial_end: 1_790_000_000, amount: 4900, currency: 'usd', interval: 'month' } });
    assert.equal(filled.status, 202);
    const { notification_id: filledId, category } = (await filled.json()) as { notification_id: string; category: string };
    assert.equal(category, 'billing');
    const essentialKey = await createKey(t, ['publish', 'essential']);
    const sent = await post({ user_id: 'user_pay', template: 'payment_failed', data: { amount_due: 100, currency: 'usd' } }, bearer(essentialKey));
    assert.equal(sent.status, 202);
    const { notification_id: payId } = (await sent.json()) as { notification_id: string };
    const records = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((r) => r.value.notification_id === payId) && rs.some((r) => r.value.notification_id === filledId));
    const byId = (id: string) => records.flatMap((r) => (r.record === 'NotificationRequested' && r.value.notification_id === id ? [r.value.category] : []))[0];
    assert.deepEqual([byId(filledId), byId(payId)], ['billing', 'payment']);
    const admin = await createKey(t, ['admin']);
    const review = { customer_id: 'cus_1', payment_id: 'ch_1', amount: 90_000, currency: 'usd', score: 0.8, action: 'block' };
    assert.equal((await post({ user_id: 'user_sec', template: 'fraud_review', category: 'security', data: review }, bearer(admin))).status, 202, 'admin implies essential');
  });
});
