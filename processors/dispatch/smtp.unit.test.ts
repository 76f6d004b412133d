import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeSmtpRelay } from '../../test/support/fake-smtp.ts';
import { ProviderError, type EmailMessage } from './providers.ts';
import { SmtpEmail } from './smtp.ts';

const message = (n: number): EmailMessage => ({
  to: 'pat@example.com',
  from: 'Eventline <notifications@eventline.test>',
  subject: `Your payment failed (${n})`,
  text: 'Hi Pat,',
  html: '<p>Hi Pat,</p>',
  headers: { 'List-Unsubscribe': '<https://hooks.eventline.test/v1/unsubscribe/x>' },
  customArgs: { notification_id: `ntf_${n}`, category: 'payment' },
  notificationId: `ntf_${n}`,
  idempotencyKey: `req:${n}:email`,
});

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, String(err));
    return err;
  }
  assert.fail('the send succeeded');
}

describe('SMTP as the second email path: nodemailer against a local relay', () => {
  let relay: FakeSmtpRelay;
  before(async () => {
    relay = await new FakeSmtpRelay().start();
  });
  after(() => relay.close());

  it('given a healthy relay, then it takes the message with our headers, and the send returns its message id', async () => {
    const smtp = new SmtpEmail(relay.url);
    const result = await smtp.send(message(1));
    smtp.close();
    assert.equal(result.provider, 'smtp');
    const got = relay.received.at(-1)!;
    assert.deepEqual(got.to, ['pat@example.com']);
    assert.equal(got.header('Subject'), 'Your payment failed (1)');
    assert.equal(got.header('X-Eventline-notification-id'), 'ntf_1');
    assert.equal(got.header('List-Unsubscribe'), '<https://hooks.eventline.test/v1/unsubscribe/x>');
    assert.equal(got.header('Message-ID'), result.providerMessageId);
  });

  it('given a relay answering 421, then a retryable fault of the provider (another one may send it)', async () => {
    relay.failWith(421);
    const smtp = new SmtpEmail(relay.url);
    const e = await failure(smtp.send(message(2)));
    smtp.close();
    relay.failWith(null);
    assert.deepEqual([e.status, e.retryable, e.providerCode], [503, true, '421']);
  });

  it('given a refused recipient, then a permanent failure no other provider would fix, without the address in it', async () => {
    relay.rejectRecipients(550);
    const smtp = new SmtpEmail(relay.url);
    const e = await failure(smtp.send(message(3)));
    smtp.close();
    relay.rejectRecipients(null);
    assert.deepEqual([e.status, e.retryable], [400, false]);
    assert.ok(!e.message.includes('pat@example.com'), e.message);
  });

  it('given wrong credentials, then the provider refused us: retryable, and another provider may send it', async () => {
    const smtp = new SmtpEmail(relay.url.replace(encodeURIComponent(relay.password), 'wrong'));
    const e = await failure(smtp.send(message(4)));
    smtp.close();
    assert.deepEqual([e.status, e.retryable], [401, true]);
  });

  it('given a relay that cannot be reached, then nothing was sent: a fault of the provider, not an unknown outcome', async () => {
    const gone = await new FakeSmtpRelay().start();
    const url = gone.url;
    await gone.close();
    const smtp = new SmtpEmail(url, { timeoutMs: 2000 });
    const e = await failure(smtp.send(message(5)));
    smtp.close();
    assert.deepEqual([e.status, e.retryable], [503, true]);
  });
});
