import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { TwilioMessageIndex } from '../../notify/index.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { providerEnv, publicUrl, twilioAccountSid, twilioSignature } from '../../test/support/providers.ts';

function callback(sid: string, status: string, extra: Record<string, string> = {}): Record<string, string> {
  return { AccountSid: twilioAccountSid, ApiVersion: '2010-04-01', From: '+14155550100', To: '+14155550123', MessageSid: sid, SmsSid: sid, MessageStatus: status, SmsStatus: status, ...extra };
}

describe('POST /webhooks/twilio/status against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;

  before(async () => {
    t = await createTestEnv('twilio', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  /** Posts to the app, signing with the public URL Twilio would have called (the app sits behind a proxy). */
  const post = (pathAndQuery: string, params: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${app.url}${pathAndQuery}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(`${publicUrl}${pathAndQuery}`, params), ...headers },
      body: new URLSearchParams(params).toString(),
    });

  it('given signed callbacks, then the notification id comes from the callback URL or from the SID recorded at send time', async () => {
    const sidA = 'SM11111111111111111111111111111111';
    const sidB = 'SM22222222222222222222222222222222';
    await new TwilioMessageIndex(t.rt.redis).record(sidB, 'ntf_fromIndex');
    const a = await post('/webhooks/twilio/status?notification_id=ntf_fromQuery', callback(sidA, 'delivered'));
    const b = await post('/webhooks/twilio/status', callback(sidB, 'undelivered', { ErrorCode: '30003', ErrorMessage: 'Unreachable destination handset' }));
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const records = await collect(t.rt.kafka, ['notify.delivery-events.v1'], 2);
    const bySid = new Map(records.map((r) => [r.value.provider_message_id, r]));
    assert.equal(bySid.get(sidA)?.key, 'ntf_fromQuery');
    assert.equal(bySid.get(sidA)?.value.kind, 'delivered');
    assert.equal(bySid.get(sidA)?.value.event_id, `${sidA}:delivered`);
    assert.equal(bySid.get(sidB)?.value.notification_id, 'ntf_fromIndex');
    assert.equal(bySid.get(sidB)?.value.error_code, '30003');
  });

  it('given bad input, then 4xx with a JSON error and nothing appended', async () => {
    const before = await recordCount(t.rt.kafka, 'notify.delivery-events.v1');
    const params = callback('SM33333333333333333333333333333333', 'sent');
    const cases: [string, Promise<Response>, number, string][] = [
      ['signed for another URL', post('/webhooks/twilio/status', params, { 'x-twilio-signature': twilioSignature(`http://127.0.0.1/webhooks/twilio/status`, params) }), 400, 'signature_invalid'],
      ['signed with another token', post('/webhooks/twilio/status', params, { 'x-twilio-signature': twilioSignature(`${publicUrl}/webhooks/twilio/status`, params, 'another-token') }), 400, 'signature_invalid'],
      ['no signature', fetch(`${app.url}/webhooks/twilio/status`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() }), 400, 'signature_invalid'],
      ['JSON instead of a form', post('/webhooks/twilio/status', params, { 'content-type': 'application/json' }), 415, 'unsupported_media_type'],
      ['signed but not a status callback', post('/webhooks/twilio/status', { Body: 'hello', From: '+14155550100' }), 400, 'bad_request'],
    ];
    for (const [name, response, status, error] of cases) {
      const res = await response;
      assert.equal(res.status, status, name);
      assert.equal(((await res.json()) as { error: string }).error, error, name);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.delivery-events.v1'), before);
  });
});
