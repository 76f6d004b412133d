import assert from 'node:assert/strict';
import { createECDH } from 'node:crypto';
import { describe, it } from 'node:test';
import { ProviderError } from './providers.ts';
import { pushPayload, pushTopic, vapidProblems } from './push.ts';

/** 4096 bytes of aes128gcm body less header with key (86), tag (16) and delimiter (1). */
const LIMIT = 3993;
const base = { notificationId: 'ntf_1', title: 'Your receipt', body: 'Thanks!', url: 'https://app.example.com/r/1' };

function vapid(): { subject: string; publicKey: string; privateKey: string } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const priv = Buffer.alloc(32);
  const raw = ecdh.getPrivateKey();
  raw.copy(priv, 32 - raw.length);
  return { subject: 'mailto:ops@example.com', publicKey: ecdh.getPublicKey().toString('base64url'), privateKey: priv.toString('base64url') };
}

describe('push payload', () => {
  it('given a message within the limit, then the payload is exactly its four fields', () => {
    assert.deepEqual(JSON.parse(pushPayload(base)), { notification_id: 'ntf_1', title: 'Your receipt', body: 'Thanks!', url: 'https://app.example.com/r/1' });
  });

  it('given bodies over the limit in one-, two- and four-byte characters, then each is cut to the longest prefix that fits, with an ellipsis', () => {
    for (const ch of ['a', 'é', '🎉', '"']) {
      const payload = pushPayload({ ...base, body: ch.repeat(5000) });
      const bytes = Buffer.byteLength(payload);
      assert.ok(bytes <= LIMIT, `${ch}: ${bytes} bytes`);
      const body = (JSON.parse(payload) as { body: string }).body;
      assert.ok(body.endsWith(`${ch}…`), ch);
      // One more character would not have fitted.
      const longer = JSON.stringify({ notification_id: 'ntf_1', title: 'Your receipt', body: `${ch.repeat([...body].length)}…`, url: base.url });
      assert.ok(Buffer.byteLength(longer) > LIMIT, ch);
    }
  });

  it('given a title over the limit, then the body is dropped and the title cut', () => {
    const payload = JSON.parse(pushPayload({ ...base, title: 'T'.repeat(6000) })) as { title: string; body: string };
    assert.equal(payload.body, '');
    assert.ok(payload.title.endsWith('T…'));
  });

  it('given a url that alone is over the limit, then the send fails permanently (413)', () => {
    assert.throws(
      () => pushPayload({ ...base, url: `https://app.example.com/${'x'.repeat(5000)}` }),
      (err: unknown) => err instanceof ProviderError && !err.retryable && err.status === 413,
    );
  });
});

describe('push topic', () => {
  it('given an idempotency key, then the topic is at most 32 base64url characters, stable for that key and different for another', () => {
    assert.match(pushTopic('evt_1:push'), /^[A-Za-z0-9_-]{1,32}$/);
    assert.equal(pushTopic('evt_1:push'), pushTopic('evt_1:push'));
    assert.notEqual(pushTopic('evt_1:push'), pushTopic('evt_2:push'));
  });
});

describe('VAPID identity', () => {
  it('given a generated pair and a mailto subject, then there is no problem', () => {
    assert.deepEqual(vapidProblems(vapid()), []);
  });

  it('given mismatched, malformed or padded keys, or a bare address as subject, then each is named', () => {
    const a = vapid();
    const b = vapid();
    assert.match(vapidProblems({ ...a, privateKey: b.privateKey }).join(), /not the private key/);
    assert.match(vapidProblems({ ...a, publicKey: `${a.publicKey}=` }).join(), /public key/);
    assert.match(vapidProblems({ ...a, privateKey: a.privateKey.slice(1) }).join(), /private key/);
    assert.match(vapidProblems({ ...a, subject: 'ops@example.com' }).join(), /subject/);
    assert.deepEqual(vapidProblems({ ...a, subject: 'https://eventline.example.com/contact' }), []);
  });
});
