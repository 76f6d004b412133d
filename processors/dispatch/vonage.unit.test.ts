import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { FakeVonage } from '../../test/support/fake-vonage.ts';
import { ProviderError, type SmsMessage } from './providers.ts';
import { VonageSms } from './vonage.ts';

const publicUrl = 'https://hooks.eventline.test';
const message: SmsMessage = {
  to: '+447700900123',
  body: 'Your code is 4417. It expires in 10 minutes.',
  statusCallback: `${publicUrl}/webhooks/twilio/status?notification_id=ntf_1`,
  notificationId: 'ntf_1',
  idempotencyKey: 'evt_01J9Z6Q2:sms',
};

/** The error `send` threw (fails the test when it resolved or threw something else). */
async function refusal(sms: VonageSms, m: SmsMessage = message): Promise<ProviderError> {
  const err = await sms.send(m).then(
    () => assert.fail('send resolved; a ProviderError was expected'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
  return err;
}

function assertNoPersonalData(err: ProviderError, m: SmsMessage = message): void {
  for (const secret of [m.to, m.to.slice(1), m.body, '4417']) assert.ok(!err.message.includes(secret), `"${err.message}" contains "${secret}"`);
}

describe('VonageSms (the real @vonage/server-sdk against a local SMS API)', () => {
  let fake: FakeVonage;
  let sms: VonageSms;

  before(async () => {
    fake = await new FakeVonage().start();
    sms = new VonageSms(fake.apiKey, fake.apiSecret, '+447700900000', fake.url, publicUrl);
  });
  after(() => fake.close());
  afterEach(() => {
    fake.failWith(null).rejectWith(null);
  });

  it('sends, returning the message-id Vonage gave; the API saw the number, sender, text, client-ref and callback', async () => {
    const before = fake.sent.length;
    const result = await sms.send(message);
    const seen = fake.sent[before];
    assert.ok(seen, 'the fake accepted no message');
    assert.deepEqual(
      { to: seen.to, from: seen.from, text: seen.text, type: seen.type, clientRef: seen.clientRef, callback: seen.callback },
      {
        to: '447700900123',
        from: '447700900000',
        text: 'Your code is 4417. It expires in 10 minutes.',
        type: 'text',
        clientRef: 'evt_01J9Z6Q2:sms',
        callback: 'https://hooks.eventline.test/webhooks/vonage/status?notification_id=ntf_1',
      },
    );
    assert.deepEqual(result, { provider: 'vonage', providerMessageId: seen.messageIds[0] });
    assert.equal(fake.requests.at(-1)?.contentType, 'application/json');
  });

  it('escapes the notification id in the callback, sends non-GSM text as unicode, and names a long text by its first part', async () => {
    const before = fake.sent.length;
    const body = `Привет! ${'ж'.repeat(80)}`;
    const result = await sms.send({ ...message, body, notificationId: 'ntf 2&x=1' });
    const seen = fake.sent[before];
    assert.ok(seen);
    assert.equal(seen.callback, 'https://hooks.eventline.test/webhooks/vonage/status?notification_id=ntf%202%26x%3D1');
    assert.equal(new URL(seen.callback ?? '').searchParams.get('notification_id'), 'ntf 2&x=1');
    assert.equal(seen.type, 'unicode');
    assert.equal(seen.text, body);
    assert.equal(seen.messageIds.length, 2);
    assert.equal(result.providerMessageId, seen.messageIds[0]);
  });

  it('without a callback base, asks for no per-message callback (the account default applies)', async () => {
    const plain = new VonageSms(fake.apiKey, fake.apiSecret, 'Eventline', fake.url, null);
    const before = fake.sent.length;
    await plain.send(message);
    assert.equal(fake.sent[before]?.callback, null);
    assert.equal(fake.sent[before]?.from, 'Eventline');
  });

  it('an HTTP 503 is a retryable ProviderError with status 503, and the message was not taken', async () => {
    fake.failWith(503);
    const before = fake.sent.length;
    const err = await refusal(sms);
    assert.equal(err.retryable, true);
    assert.equal(err.status, 503);
    assert.equal(fake.sent.length, before);
    assertNoPersonalData(err);
  });

  it('HTTP 429 is retryable, another 4xx is not', async () => {
    fake.failWith(429);
    const throttled = await refusal(sms);
    assert.deepEqual([throttled.retryable, throttled.status], [true, 429]);
    fake.failWith(403);
    const forbidden = await refusal(sms);
    assert.deepEqual([forbidden.retryable, forbidden.status], [false, 403]);
  });

  it('Vonage status 1 (throttled) and 5 (internal error), answered with HTTP 200, are retryable', async () => {
    for (const code of ['1', '5']) {
      fake.rejectWith(code);
      const err = await refusal(sms);
      assert.equal(err.retryable, true, `status ${code}`);
      assert.equal(err.providerCode, code);
      // Vonage answered (it did not take the message): a retry must send again.
      assert.notEqual(err.status, null);
      assertNoPersonalData(err);
    }
  });

  it('bad credentials (status 4) are permanent, without the number or the text in the error', async () => {
    const wrong = new VonageSms(fake.apiKey, 'not-the-secret', '+447700900000', fake.url, publicUrl);
    const err = await refusal(wrong);
    assert.equal(err.retryable, false);
    assert.equal(err.providerCode, '4');
    assert.match(err.message, /Bad Credentials/);
    assertNoPersonalData(err);
  });

  it('a barred number (status 7) and other refusals are permanent, without the number or the text in the error', async () => {
    for (const code of ['7', '2', '3', '6', '9', '29']) {
      fake.rejectWith(code);
      const err = await refusal(sms);
      assert.equal(err.retryable, false, `status ${code}`);
      assert.equal(err.providerCode, code);
      assertNoPersonalData(err);
    }
  });

  it('no answer at all (connection refused) is retryable with no status: the outcome is unknown', async () => {
    const gone = await new FakeVonage().start();
    const url = gone.url;
    await gone.close();
    const err = await refusal(new VonageSms(fake.apiKey, fake.apiSecret, '+447700900000', url, publicUrl));
    assert.equal(err.retryable, true);
    assert.equal(err.status, null);
    assertNoPersonalData(err);
  });
});
