import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { authProblem, base64urlBytes, endpointProblem, p256dhProblem, parsePushSubscription } from './subscription-input.ts';

const strict = { allowLoopback: false };
const loopback = { allowLoopback: true };

function browserKeys(): { p256dh: string; auth: string } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

describe('push subscription input', () => {
  it('given a browser subscription as PushSubscription.toJSON() gives it, then it is accepted without expirationTime', () => {
    const keys = browserKeys();
    const parsed = parsePushSubscription({ endpoint: 'https://fcm.googleapis.com/fcm/send/dXk:APA91b', expirationTime: null, keys }, strict);
    assert.deepEqual(parsed, { ok: true, value: { endpoint: 'https://fcm.googleapis.com/fcm/send/dXk:APA91b', keys } });
  });

  it('given two spellings of one URL, then the stored endpoint is the same', () => {
    const keys = browserKeys();
    const a = parsePushSubscription({ endpoint: 'https://Updates.Push.Services.Mozilla.com:443/wpush/v2/gAAAA', keys }, strict);
    const b = parsePushSubscription({ endpoint: 'https://updates.push.services.mozilla.com/wpush/v2/gAAAA', keys }, strict);
    assert.ok(a.ok && b.ok);
    assert.equal(a.value.endpoint, 'https://updates.push.services.mozilla.com/wpush/v2/gAAAA');
    assert.equal(b.value.endpoint, a.value.endpoint);
  });

  it('given endpoints that are not a public https push service, then each is refused', () => {
    const refused = [
      'http://fcm.googleapis.com/fcm/send/x',
      'ftp://fcm.googleapis.com/x',
      'fcm.googleapis.com/fcm/send/x',
      'https://user:pw@fcm.googleapis.com/x',
      'https://fcm.googleapis.com/x#frag',
      'https://fcm.googleapis.com/x y',
      ' https://fcm.googleapis.com/x',
      'https://10.0.0.8/push/x',
      'https://169.254.169.254/latest/meta-data',
      'https://2130706433/push/x',
      'https://[fd00::1]/push/x',
      'https://localhost/push/x',
      'https://127.0.0.1/push/x',
      'https://metadata/computeMetadata',
      'https://db.internal/x',
      'https://printer.local/x',
    ];
    for (const endpoint of refused) assert.notEqual(endpointProblem(endpoint, strict), null, endpoint);
  });

  it('given the loopback policy, then https on loopback hosts is accepted and plain http still is not', () => {
    assert.equal(endpointProblem('https://127.0.0.1:4431/push/a', loopback), null);
    assert.equal(endpointProblem('https://[::1]:4431/push/a', loopback), null);
    assert.equal(endpointProblem('https://localhost:4431/push/a', loopback), null);
    assert.notEqual(endpointProblem('http://127.0.0.1:4431/push/a', loopback), null);
    assert.notEqual(endpointProblem('https://10.1.2.3/push/a', loopback), null);
  });

  it('given keys of the wrong shape, then each is named', () => {
    const good = browserKeys();
    const point = Buffer.from(good.p256dh, 'base64url');
    const offCurve = Buffer.from(point);
    offCurve[64] = (offCurve[64] ?? 0) ^ 0x01;
    const compressed = Buffer.concat([Buffer.from([0x02]), point.subarray(1, 33)]);
    assert.equal(p256dhProblem(good.p256dh), null);
    assert.notEqual(p256dhProblem(offCurve.toString('base64url')), null);
    assert.notEqual(p256dhProblem(compressed.toString('base64url')), null);
    assert.notEqual(p256dhProblem(point.toString('base64')), null, 'standard base64 with padding');
    assert.notEqual(p256dhProblem(`${good.p256dh}=`), null);
    assert.equal(authProblem(good.auth), null);
    assert.notEqual(authProblem(randomBytes(15).toString('base64url')), null);
    assert.notEqual(authProblem(randomBytes(32).toString('base64url')), null);
    assert.notEqual(authProblem('!!!!!!!!!!!!!!!!!!!!!!'), null);
  });

  it('given base64url text with stray trailing bits, then it is not canonical and refused', () => {
    // 16 bytes are 22 characters: the last one's low 4 bits are unused. "Q" (010000) sets only
    // data bits; "B" (000001) sets an unused one.
    assert.equal(base64urlBytes('AAAAAAAAAAAAAAAAAAAAAQ')?.length, 16);
    assert.equal(base64urlBytes('AAAAAAAAAAAAAAAAAAAAAB'), null);
  });

  it('given unknown fields or a missing key, then the problems name them', () => {
    const keys = browserKeys();
    const extra = parsePushSubscription({ endpoint: 'https://fcm.googleapis.com/x', keys, device: 'phone' }, strict);
    assert.equal(extra.ok, false);
    assert.match(extra.ok ? '' : extra.problems.join('; '), /device/);
    const missing = parsePushSubscription({ endpoint: 'https://fcm.googleapis.com/x', keys: { p256dh: keys.p256dh } }, strict);
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.problems.join('; '), /keys\.auth/);
  });
});
