import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, plain, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { providerEnv } from '../../test/support/providers.ts';
import { EventlinePublisher } from '../sdk/index.ts';

describe('POST /v1/events and the producer SDK against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;
  let key: string;

  before(async () => {
    t = await createTestEnv('domain', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    key = await createKey(t, ['publish']);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const post = (body: unknown, headers = bearer(key)) =>
    fetch(`${app.url}/v1/events`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('given a valid event, then 202 after the append, and consumers read it typed; a repeated event_id is not appended again', async () => {
    const event = {
      type: 'UserSignedUp',
      key: 'user_77',
      event_id: 'signup-user_77',
      occurred_at: '2026-11-20T10:00:00Z',
      data: { user_id: 'user_77', email: 'lee@example.com', name: 'Lee', stripe_customer_id: 'cus_L77' },
    };
    const res = await post(event);
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { event_id: 'signup-user_77', type: 'eventline.domain.UserSignedUp', duplicate: false });
    const again = await post(event);
    assert.equal(again.status, 202);
    assert.equal(((await again.json()) as { duplicate: boolean }).duplicate, true);
    const [record] = await collect(t.rt.kafka, ['domain.events.v1'], 1);
    assert.ok(record && record.record === 'UserSignedUp');
    assert.equal(record.key, 'user_77');
    assert.deepEqual(plain(record.value.data), { user_id: 'user_77', email: 'lee@example.com', name: 'Lee', locale: null, stripe_customer_id: 'cus_L77' });
    assert.equal(record.value.occurred_at, Date.parse('2026-11-20T10:00:00Z'));
    assert.match(record.value.producer, /^key:/);
    assert.equal(await recordCount(t.rt.kafka, 'domain.events.v1'), 1);
  });

  it('given a type another service registered, then it is validated against that schema and accepted', async () => {
    const subject = `${t.namespace}.domain.events.v1-com.acme.OrderShipped`;
    await t.rt.kafka.registry.register(subject, {
      type: 'record',
      name: 'OrderShipped',
      namespace: 'com.acme',
      fields: [
        { name: 'event_id', type: 'string' },
        { name: 'occurred_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'received_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'key', type: 'string' },
        { name: 'producer', type: 'string' },
        { name: 'data', type: { type: 'record', name: 'OrderShippedData', fields: [{ name: 'order_id', type: 'string' }, { name: 'carrier', type: 'string', default: 'ups' }] } },
      ],
    });
    const ok = await post({ type: 'com.acme.OrderShipped', key: 'order_1', data: { order_id: 'order_1' } });
    assert.equal(ok.status, 202);
    const bad = await post({ type: 'com.acme.OrderShipped', key: 'order_2', data: { order: 'order_2' } });
    assert.equal(bad.status, 422);
  });

  it('given invalid events, then 4xx naming the problems, and nothing appended', async () => {
    const readOnly = await createKey(t, ['read']);
    const before = await recordCount(t.rt.kafka, 'domain.events.v1');
    const cases: [string, Promise<Response>, number, string, RegExp?][] = [
      ['no key', post({}, { 'content-type': 'application/json' }), 401, 'unauthorized'],
      ['read-only key', post({ type: 'UserSignedUp', key: 'k', data: {} }, bearer(readOnly)), 403, 'forbidden'],
      ['unknown type', post({ type: 'InvoiceTeleported', key: 'k', data: {} }), 422, 'unprocessable', /unknown event type/],
      ['wrong field type', post({ type: 'UsageThresholdReached', key: 'k', data: { user_id: 'u', metric: 'api', used: 'lots', limit: 10, threshold_percent: 80 } }), 422, 'unprocessable', /data\.used/],
      ['missing field', post({ type: 'UserSignedUp', key: 'k', data: { user_id: 'u' } }), 422, 'unprocessable', /data\.email/],
      ['undeclared field', post({ type: 'UserSignedUp', key: 'k', data: { user_id: 'u', email: 'e@x.test', nickname: 'x' } }), 422, 'unprocessable', /data\.nickname/],
      ['missing key', post({ type: 'UserSignedUp', data: {} }), 422, 'unprocessable', /key/],
      ['bad occurred_at', post({ type: 'UserSignedUp', key: 'k', data: {}, occurred_at: 'yesterday' }), 422, 'unprocessable', /occurred_at/],
      ['malformed JSON', post('{"type":'), 400, 'bad_request'],
      ['array body', post('[]'), 422, 'unprocessable'],
      ['not JSON', post('type=UserSignedUp', bearer(key, { 'content-type': 'text/plain' })), 415, 'unsupported_media_type'],
    ];
    for (const [name, response, status, error, detail] of cases) {
      const res = await response;
      assert.equal(res.status, status, name);
      const body = (await res.json()) as { error: string; detail: string; problems?: string[] };
      assert.equal(body.error, error, name);
      assert.equal(typeof body.detail, 'string', name);
      if (detail) assert.match(`${body.detail} ${JSON.stringify(body.problems ?? [])}`, detail, name);
    }
    assert.equal(await recordCount(t.rt.kafka, 'domain.events.v1'), before);
  });

  it('given an event type a rule makes an essential notification (SecurityAlertRaised), then a key without the essential scope gets 403 and nothing is appended; with it, 202', async () => {
    const before = await recordCount(t.rt.kafka, 'domain.events.v1');
    const alert = { type: 'SecurityAlertRaised', key: 'user_10', event_id: 'sec-scope-1', data: { user_id: 'user_10', alert: 'Call +1-555-0100 now', ip: null, device: null } };
    const refused = await post(alert);
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { detail: string }).detail, /needs the "essential" scope/);
    assert.equal(await recordCount(t.rt.kafka, 'domain.events.v1'), before);
    const allowed = await post(alert, bearer(await createKey(t, ['publish', 'essential'])));
    assert.equal(allowed.status, 202);
  });

  it('given the SDK, then typed publishes are acknowledged and idempotent like the API', async () => {
    const sdk = await EventlinePublisher.connect({ producer: 'auth-service', config: t.config });
    try {
      const before = await recordCount(t.rt.kafka, 'domain.events.v1');
      const first = await sdk.publish('SecurityAlertRaised', 'user_9', { user_id: 'user_9', alert: 'new_device_login', ip: '203.0.113.5', device: 'iPhone' }, { eventId: 'sec-1' });
      const second = await sdk.publish('SecurityAlertRaised', 'user_9', { user_id: 'user_9', alert: 'new_device_login', ip: '203.0.113.5', device: 'iPhone' }, { eventId: 'sec-1' });
      assert.deepEqual([first.duplicate, second.duplicate], [false, true]);
      await assert.rejects(() => sdk.publishAny('SecurityAlertRaised', 'user_9', { user_id: 'user_9' }), /does not match/);
      assert.equal(await recordCount(t.rt.kafka, 'domain.events.v1'), before + 1);
      const records = await collect(t.rt.kafka, ['domain.events.v1'], (got) => got.some((r) => r.value.event_id === 'sec-1'));
      assert.equal(records.find((r) => r.value.event_id === 'sec-1')?.value.producer, 'sdk:auth-service');
    } finally {
      await sdk.close();
    }
  });
});
