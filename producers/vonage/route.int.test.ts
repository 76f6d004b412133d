import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { VonageMessageIndex, SendEvidence } from '../../notify/index.ts';
import { VONAGE_STATUS_PATH, vonageStatusCallback } from '../../processors/dispatch/vonage.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { providerEnv, publicUrl } from '../../test/support/providers.ts';
import { createApp } from '../http/app.ts';
import { RecentlySeen } from '../http/recently-seen.ts';
import { VONAGE_WEBHOOK_PATH, vonageWebhookRoutes } from './route.ts';

const signatureSecret = 'vonageSigSecret0123456789abcdefABCDEF';

/**
 * Vonage's signing, written out here on its own (Vonage's "Signing Messages" guide): every field
 * but `sig`, sorted by name, "&" and "=" in values replaced by "_", joined as "&name=value…"; MD5
 * of that followed by the secret (the dashboard's default, "MD5 hash"), or an HMAC keyed by it.
 */
function sign(fields: Record<string, string>, secret = signatureSecret, method: 'md5hash' | 'sha256hmac' = 'md5hash'): Record<string, string> {
  let base = '';
  for (const name of Object.keys(fields).sort()) base += `&${name}=${(fields[name] ?? '').replace(/[&=]/g, '_')}`;
  const sig = method === 'md5hash' ? createHash('md5').update(base + secret).digest('hex') : createHmac('sha256', secret).update(base).digest('hex');
  return { ...fields, sig };
}

const messageId = () => randomBytes(8).toString('hex').toUpperCase();
const unixNow = () => Math.floor(Date.now() / 1000);

/** A delivery receipt as the SMS API sends it, signed fields included (but `sig`). */
function receipt(id: string, status: string, extra: Record<string, string> = {}): Record<string, string> {
  const at = new Date();
  return {
    msisdn: '447700900123',
    to: 'Eventline',
    'network-code': '23410',
    messageId: id,
    price: '0.03330000',
    status,
    scts: '2510091200',
    'err-code': status === 'delivered' ? '0' : '2',
    'api-key': 'a1b2c3d4',
    'client-ref': 'req:evt_1:sms',
    'message-timestamp': at.toISOString().slice(0, 19).replace('T', ' '),
    timestamp: String(unixNow()),
    nonce: randomBytes(16).toString('hex'),
    ...extra,
  };
}

const asForm = (fields: Record<string, string>) => ({ 'content-type': 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() });
const asJson = (fields: Record<string, string>) => ({ 'content-type': 'application/json', body: JSON.stringify(fields) });

async function post(base: string, pathAndQuery: string, payload: { 'content-type': string; body: string }): Promise<Response> {
  return fetch(`${base}${pathAndQuery}`, { method: 'POST', headers: { 'content-type': payload['content-type'] }, body: payload.body });
}

describe('POST /webhooks/vonage/status against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;

  before(async () => {
    t = await createTestEnv('vonage', { ...providerEnv, VONAGE_SIGNATURE_SECRET: signatureSecret, EVENTLINE_BODY_LIMIT_BYTES: String(64 * 1024) });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  it('is mounted where the dispatcher asks Vonage to post receipts, and documented', async () => {
    assert.equal(VONAGE_WEBHOOK_PATH, VONAGE_STATUS_PATH);
    assert.ok(vonageStatusCallback(publicUrl, 'ntf_1').startsWith(`${publicUrl}${VONAGE_WEBHOOK_PATH}?`));
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, { post?: object }> };
    assert.ok(doc.paths[VONAGE_WEBHOOK_PATH]?.post);
  });

  it('given signed receipts as JSON and as a form, then each appends one normalized delivery event, its notification from the index first, else the callback URL', async () => {
    const before = await recordCount(t.rt.kafka, 'notify.delivery-events.v1');
    const index = new VonageMessageIndex(t.rt.redis);
    const idJson = messageId();
    const idForm = messageId();
    const idDisagree = messageId();
    await index.record(idJson, 'ntf_fromIndexJson');
    await index.record(idDisagree, 'ntf_fromIndexDisagree');
    const callbackPath = (ntf: string) => new URL(vonageStatusCallback(publicUrl, ntf)).pathname + new URL(vonageStatusCallback(publicUrl, ntf)).search;

    const a = await post(app.url, VONAGE_WEBHOOK_PATH, asJson(sign(receipt(idJson, 'delivered'))));
    const b = await post(app.url, callbackPath('ntf_fromQueryForm'), asForm(sign(receipt(idForm, 'delivered'))));
    // A query parameter that disagrees with the index (not covered by the signature): the index wins.
    const c = await post(app.url, callbackPath('ntf_forged'), asForm(sign(receipt(idDisagree, 'expired'))));
    for (const [name, res] of [['json', a], ['form', b], ['disagreeing query', c]] as const) {
      assert.equal(res.status, 200, name);
      const body = (await res.json()) as { received: boolean; duplicate: boolean; event_id: string };
      assert.equal(body.received, true, name);
      assert.equal(body.duplicate, false, name);
    }

    const records = await collect(t.rt.kafka, ['notify.delivery-events.v1'], before + 3);
    const byId = new Map(records.map((r) => [r.value.provider_message_id, r]));
    const json = byId.get(idJson);
    assert.ok(json);
    assert.equal(json.key, 'ntf_fromIndexJson');
    assert.equal(json.record, 'DeliveryEventReceived');
    assert.deepEqual(
      { provider: json.value.provider, channel: json.value.channel, kind: json.value.kind, provider_event: json.value.provider_event, notification_id: json.value.notification_id, event_id: json.value.event_id, recipient: json.value.recipient, error_code: json.value.error_code },
      { provider: 'vonage', channel: 'sms', kind: 'delivered', provider_event: 'delivered', notification_id: 'ntf_fromIndexJson', event_id: `${idJson}:delivered`, recipient: '+447700900123', error_code: null },
    );
    const form = byId.get(idForm);
    assert.ok(form);
    assert.equal(form.key, 'ntf_fromQueryForm');
    assert.equal(form.value.notification_id, 'ntf_fromQueryForm');
    assert.equal(form.value.provider, 'vonage');
    assert.equal(form.value.channel, 'sms');
    assert.equal(form.value.kind, 'delivered');
    assert.equal(form.value.event_id, `${idForm}:delivered`);
    const disagree = byId.get(idDisagree);
    assert.ok(disagree);
    assert.equal(disagree.key, 'ntf_fromIndexDisagree');
    assert.equal(disagree.value.notification_id, 'ntf_fromIndexDisagree');
    assert.equal(disagree.value.kind, 'undelivered');
    assert.equal(disagree.value.error_code, '2');
    assert.equal(await recordCount(t.rt.kafka, 'notify.delivery-events.v1'), before + 3);

    // Provider evidence for the dispatcher's reconciliation, as for Twilio.
    assert.equal(await new SendEvidence(t.rt.redis).get('ntf_fromIndexJson', 'sms'), idJson);
  });

  it('given a receipt Vonage posts again (or someone replays, with another notification_id), then it is a duplicate: nothing new appended', async () => {
    const id = messageId();
    const signed = sign(receipt(id, 'delivered'));
    const first = await post(app.url, `${VONAGE_WEBHOOK_PATH}?notification_id=ntf_replay`, asForm(signed));
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { received: true, event_id: `${id}:delivered`, duplicate: false });
    await collect(t.rt.kafka, ['notify.delivery-events.v1'], (rs) => rs.some((r) => r.value.provider_message_id === id));
    const after1 = await recordCount(t.rt.kafka, 'notify.delivery-events.v1');

    const again = await post(app.url, `${VONAGE_WEBHOOK_PATH}?notification_id=ntf_replay`, asForm(signed));
    const asJsonAgain = await post(app.url, `${VONAGE_WEBHOOK_PATH}?notification_id=ntf_other`, asJson(signed));
    for (const res of [again, asJsonAgain]) {
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { received: true, event_id: `${id}:delivered`, duplicate: true });
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.delivery-events.v1'), after1);
    const forId = (await collect(t.rt.kafka, ['notify.delivery-events.v1'], after1)).filter((r) => r.value.provider_message_id === id);
    assert.equal(forId.length, 1);
    assert.equal(forId[0]?.value.notification_id, 'ntf_replay');
  });

  it('given bad input, then a JSON 4xx and nothing appended', async () => {
    const before = await recordCount(t.rt.kafka, 'notify.delivery-events.v1');
    const fields = receipt(messageId(), 'delivered');
    const good = sign(fields);
    const unsigned = { ...fields };
    const cases: [string, { 'content-type': string; body: string }, number, string][] = [
      ['signed with another secret', asForm(sign(fields, 'another-secret')), 400, 'signature_invalid'],
      ['a field changed after signing', asForm({ ...good, status: 'failed' }), 400, 'signature_invalid'],
      ['a field added after signing', asJson({ ...good, extra: '1' }), 400, 'signature_invalid'],
      ['signed with another method', asForm(sign(fields, signatureSecret, 'sha256hmac')), 400, 'signature_invalid'],
      ['no sig field', asForm(unsigned), 400, 'signature_invalid'],
      ['no timestamp field', asForm(sign({ ...fields, timestamp: '' })), 400, 'signature_invalid'],
      ['a stale signed timestamp', asForm(sign({ ...fields, timestamp: String(unixNow() - 600) })), 400, 'timestamp_stale'],
      ['a signed timestamp in the future', asJson(sign({ ...fields, timestamp: String(unixNow() + 600) })), 400, 'timestamp_stale'],
      ['signed, but no messageId nor status', asForm(sign({ timestamp: String(unixNow()), nonce: 'n1', 'api-key': 'a1b2c3d4' })), 400, 'bad_request'],
      ['signed, but no status', asJson(sign({ ...fields, status: '' })), 400, 'bad_request'],
      ['signed, but a malformed messageId', asForm(sign({ ...fields, messageId: 'x' })), 400, 'bad_request'],
      ['an empty form', { 'content-type': 'application/x-www-form-urlencoded', body: '' }, 400, 'signature_invalid'],
      ['an empty JSON body', { 'content-type': 'application/json', body: '' }, 400, 'bad_request'],
      ['malformed JSON', { 'content-type': 'application/json', body: '{"messageId":' }, 400, 'bad_request'],
      ['a JSON array', { 'content-type': 'application/json', body: JSON.stringify([good]) }, 400, 'bad_request'],
      ['a nested JSON field', { 'content-type': 'application/json', body: JSON.stringify({ ...good, to: { number: '1' } }) }, 400, 'bad_request'],
      ['text/plain', { 'content-type': 'text/plain', body: new URLSearchParams(good).toString() }, 415, 'unsupported_media_type'],
    ];
    for (const [name, payload, status, error] of cases) {
      const res = await post(app.url, `${VONAGE_WEBHOOK_PATH}?notification_id=ntf_bad`, payload);
      assert.equal(res.status, status, name);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, name);
      assert.equal(((await res.json()) as { error: string }).error, error, name);
    }
    const tooLarge = await post(app.url, VONAGE_WEBHOOK_PATH, asForm({ ...good, pad: 'x'.repeat(t.config.http.bodyLimitBytes) }));
    assert.equal(tooLarge.status, 413);
    assert.equal(((await tooLarge.json()) as { error: string }).error, 'payload_too_large');
    assert.equal(await recordCount(t.rt.kafka, 'notify.delivery-events.v1'), before);
  });

  it('given the account signs with an HMAC method, then a route told so accepts its receipts and refuses MD5-hash ones', async () => {
    const router = vonageWebhookRoutes({
      kafka: t.rt.kafka,
      signatureSecret,
      signatureMethod: 'sha256hmac',
      index: new VonageMessageIndex(t.rt.redis),
      seen: new RecentlySeen(t.rt.redis, 'vonage:seen'),
      evidence: new SendEvidence(t.rt.redis),
      bodyLimitBytes: t.config.http.bodyLimitBytes,
      toleranceSeconds: t.config.http.webhookToleranceSeconds,
      log: t.rt.log,
    });
    const server = createServer(createApp([router], t.rt.log));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const id = messageId();
      const md5 = await post(base, VONAGE_WEBHOOK_PATH, asForm(sign(receipt(id, 'delivered'))));
      assert.equal(md5.status, 400);
      assert.equal(((await md5.json()) as { error: string }).error, 'signature_invalid');
      const hmac = await post(base, `${VONAGE_WEBHOOK_PATH}?notification_id=ntf_hmac`, asJson(sign(receipt(id, 'delivered'), signatureSecret, 'sha256hmac')));
      assert.equal(hmac.status, 200);
      const got = await collect(t.rt.kafka, ['notify.delivery-events.v1'], (rs) => rs.some((r) => r.value.provider_message_id === id));
      assert.equal(got.find((r) => r.value.provider_message_id === id)?.value.notification_id, 'ntf_hmac');
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });

  it('given no signature secret configured, then every receipt is refused with 503 and nothing is appended', async () => {
    // Empty, whatever the shell running the tests has set: no secret.
    const bare = await createTestEnv('vonage-bare', { ...providerEnv, VONAGE_SIGNATURE_SECRET: '' });
    await createTopics(bare.rt.kafka);
    const bareApp = await startApp(bare.rt);
    try {
      assert.equal(bare.config.vonage.signatureSecret, null);
      for (const payload of [asForm(sign(receipt(messageId(), 'delivered'))), asJson(sign(receipt(messageId(), 'delivered')))]) {
        const res = await post(bareApp.url, `${VONAGE_WEBHOOK_PATH}?notification_id=ntf_1`, payload);
        assert.equal(res.status, 503);
        assert.equal(((await res.json()) as { error: string }).error, 'not_configured');
      }
      assert.equal(await recordCount(bare.rt.kafka, 'notify.delivery-events.v1'), 0);
    } finally {
      await bareApp.close();
      await bare.cleanup();
    }
  });
});
