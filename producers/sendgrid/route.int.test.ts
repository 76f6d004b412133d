import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, plain, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { providerEnv, sendgridHeaders } from '../../test/support/providers.ts';

const now = () => Math.floor(Date.now() / 1000);

/** A batch as SendGrid posts it: several events of several messages, custom args flattened in. */
function batch(tag: string): Record<string, unknown>[] {
  const msg = (n: number) => `${tag}${n}.filter0001.16648.5515E0B88.0`;
  return [
    { email: 'ana@example.com', timestamp: now() - 30, 'smtp-id': '<a@x>', event: 'processed', category: ['payment'], sg_event_id: `${tag}-p1`, sg_message_id: msg(1), notification_id: `ntf_${tag}1`, template: 'payment_failed' },
    { email: 'ana@example.com', timestamp: now() - 20, event: 'delivered', response: '250 OK', sg_event_id: `${tag}-d1`, sg_message_id: msg(1), notification_id: `ntf_${tag}1`, template: 'payment_failed' },
    { email: 'ana@example.com', timestamp: now() - 10, event: 'open', sg_machine_open: false, useragent: 'Mozilla/5.0', ip: '203.0.113.9', sg_event_id: `${tag}-o1`, sg_message_id: msg(1), notification_id: `ntf_${tag}1` },
    { email: 'bob@example.com', timestamp: now() - 15, event: 'bounce', type: 'bounce', reason: '550 5.1.1 The email account does not exist', status: '5.1.1', sg_event_id: `${tag}-b2`, sg_message_id: msg(2), notification_id: `ntf_${tag}2` },
    { email: 'cy@example.com', timestamp: now() - 5, event: 'group_resubscribe', asm_group_id: 42, sg_event_id: `${tag}-g3`, sg_message_id: msg(3) },
  ];
}

describe('POST /webhooks/sendgrid against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;

  before(async () => {
    t = await createTestEnv('sendgrid', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const post = (body: string, headers: Record<string, string>) => fetch(`${app.url}/webhooks/sendgrid`, { method: 'POST', headers, body });

  it('given a signed batch, then every event becomes one record keyed by its notification id (else its message id)', async () => {
    const events = batch('sgA');
    const body = JSON.stringify(events);
    const res = await post(body, sendgridHeaders(body));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { received: 5, appended: 5, duplicates: 0 });
    const records = await collect(t.rt.kafka, ['notify.delivery-events.v1'], 5);
    const byId = new Map(records.map((r) => [r.value.event_id, r]));
    assert.deepEqual([...byId.keys()].sort(), events.map((e) => e.sg_event_id as string).sort());
    assert.equal(byId.get('sgA-d1')?.key, 'ntf_sgA1');
    assert.equal(byId.get('sgA-d1')?.value.kind, 'delivered');
    assert.equal(byId.get('sgA-o1')?.value.kind, 'opened');
    assert.equal(byId.get('sgA-b2')?.value.kind, 'bounced');
    assert.equal(byId.get('sgA-b2')?.value.bounce_type, 'bounce');
    assert.equal(byId.get('sgA-g3')?.key, 'sgA3.filter0001.16648.5515E0B88.0');
    assert.equal(byId.get('sgA-g3')?.value.kind, 'resubscribed');
    for (const e of events) assert.deepEqual(JSON.parse((plain(byId.get(e.sg_event_id as string)?.value) as { raw: string }).raw), e);
  });

  it('given a batch delivered again, then nothing is appended twice', async () => {
    const body = JSON.stringify(batch('sgB'));
    const before = await recordCount(t.rt.kafka, 'notify.delivery-events.v1');
    assert.equal((await post(body, sendgridHeaders(body))).status, 200);
    const again = await post(body, sendgridHeaders(body));
    assert.deepEqual(await again.json(), { received: 5, appended: 0, duplicates: 5 });
    assert.equal(await recordCount(t.rt.kafka, 'notify.delivery-events.v1'), before + 5);
  });

  it('given bad input, then 4xx with a JSON error and nothing appended', async () => {
    const before = await recordCount(t.rt.kafka, 'notify.delivery-events.v1');
    const body = JSON.stringify(batch('sgC'));
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const notArray = JSON.stringify({ event: 'open' });
    const cases: [string, Promise<Response>, number, string][] = [
      ['no signature headers', post(body, { 'content-type': 'application/json' }), 400, 'signature_invalid'],
      ['signed by another key', post(body, sendgridHeaders(body, { key: otherKey })), 400, 'signature_invalid'],
      ['body changed after signing', post(body.replace('ana@', 'eve@'), sendgridHeaders(body)), 400, 'signature_invalid'],
      ['stale timestamp', post(body, sendgridHeaders(body, { timestamp: now() - 600 })), 400, 'timestamp_stale'],
      ['malformed JSON', post('[{"event":', sendgridHeaders('[{"event":')), 400, 'bad_request'],
      ['not an array', post(notArray, sendgridHeaders(notArray)), 400, 'bad_request'],
    ];
    for (const [name, response, status, error] of cases) {
      const res = await response;
      assert.equal(res.status, status, name);
      assert.equal(((await res.json()) as { error: string }).error, error, name);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.delivery-events.v1'), before);
  });
});
