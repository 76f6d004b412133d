import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { isEventlineError } from '../../lib/errors.ts';
import { checkSendgridSignature, loadSendgridPublicKey } from './verify.ts';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const publicBase64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const key = loadSendgridPublicKey(publicBase64);
const body = Buffer.from('[{"email":"a@example.com","event":"delivered","timestamp":1760000000}]');
const now = 1_760_000_010_000;
const ts = String(Math.floor(now / 1000));
const signature = sign('sha256', Buffer.concat([Buffer.from(ts), body]), privateKey).toString('base64');

describe('SendGrid event webhook signature', () => {
  it('the SendGrid console format of the public key loads', () => {
    assert.match(publicBase64, /^MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/);
    assert.throws(() => loadSendgridPublicKey('bm90IGEga2V5'), (err: unknown) => isEventlineError(err, 'config_invalid'));
  });

  it('accepts a signature over timestamp + body', () => {
    assert.deepEqual(checkSendgridSignature(key, signature, ts, body, now, 300), { ok: true });
  });

  it('rejects a changed body, a changed timestamp, another key and missing headers', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const cases = [
      checkSendgridSignature(key, signature, ts, Buffer.concat([body, Buffer.from(' ')]), now, 300),
      checkSendgridSignature(key, signature, String(Number(ts) + 1), body, now, 300),
      checkSendgridSignature(key, sign('sha256', Buffer.concat([Buffer.from(ts), body]), other).toString('base64'), ts, body, now, 300),
      checkSendgridSignature(key, undefined, ts, body, now, 300),
      checkSendgridSignature(key, 'not-base64-der', ts, body, now, 300),
    ];
    for (const c of cases) assert.equal(c.ok ? 'ok' : c.code, 'signature_invalid');
  });

  it('rejects a valid signature whose timestamp is outside the tolerance', () => {
    const old = String(Math.floor(now / 1000) - 301);
    const oldSig = sign('sha256', Buffer.concat([Buffer.from(old), body]), privateKey).toString('base64');
    const result = checkSendgridSignature(key, oldSig, old, body, now, 300);
    assert.equal(result.ok ? 'ok' : result.code, 'timestamp_stale');
  });
});
