import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { signContactToken, signUnsubscribeToken, verifyUnsubscribeToken } from '../../notify/index.ts';
import { isUserTokenShaped, signUserToken, verifyUserToken } from './user-token.ts';

const secret = 'a-secret-for-tests';
const now = Date.UTC(2026, 0, 1, 12, 0, 0);
const hour = 3_600_000;

describe('user tokens', () => {
  it('given a token, then it verifies for its user until its expiry, which is an hour by default', () => {
    const { token, expiresAt } = signUserToken(secret, 'user_42', now);
    assert.equal(expiresAt, now + hour);
    assert.match(token, /^evu_[\w-]+\.[\w-]{43}$/);
    assert.deepEqual(verifyUserToken(secret, token, now + hour - 1000), { ok: true, claims: { userId: 'user_42', issuedAt: now, expiresAt: now + hour } });
    assert.deepEqual(verifyUserToken(secret, token, now + hour), { ok: false, reason: 'expired' });
  });

  it('given a TTL, then the token lasts that long', () => {
    assert.equal(signUserToken(secret, 'user_42', now, 86_400).expiresAt, now + 24 * hour);
    assert.equal(signUserToken(secret, 'user_42', now + 999, 60).expiresAt, now + 60_000);
  });

  it('given another secret, a payload changed under the signature, or any token of another kind, then it does not verify', () => {
    const { token } = signUserToken(secret, 'user_42', now);
    assert.deepEqual(verifyUserToken('other', token, now), { ok: false, reason: 'signature' });
    const [body, mac] = token.slice(4).split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), u: 'user_43' })).toString('base64url');
    assert.deepEqual(verifyUserToken(secret, `evu_${forged}.${mac}`, now), { ok: false, reason: 'signature' });
    // A payload signed with the secret itself (as unsubscribe tokens are) is not a user token.
    const plain = Buffer.from(JSON.stringify({ u: 'user_42', iat: now / 1000, exp: now / 1000 + 3600 })).toString('base64url');
    const direct = createHmac('sha256', secret).update(plain).digest('base64url');
    assert.deepEqual(verifyUserToken(secret, `evu_${plain}.${direct}`, now), { ok: false, reason: 'signature' });
    assert.equal(verifyUserToken(secret, `evu_${signUnsubscribeToken(secret, 'user_42', null, now)}`, now).ok, false);
    assert.equal(verifyUserToken(secret, `evu_${signContactToken(secret, 'user_42', 'email', 'a@example.com', now)}`, now).ok, false);
    assert.equal(verifyUnsubscribeToken(secret, token.slice(4), now).ok, false);
    // The same signature spelled with other spare bits in its last character.
    const last = 'AEIMQUYcgkosw048'.indexOf(mac!.at(-1)!);
    assert.ok(last >= 0);
    const respelled = `${mac!.slice(0, -1)}${'BFJNRVZdhlptx159'[last]}`;
    assert.deepEqual(Buffer.from(respelled, 'base64url'), Buffer.from(mac!, 'base64url'));
    assert.deepEqual(verifyUserToken(secret, `evu_${body}.${respelled}`, now), { ok: false, reason: 'signature' });
    for (const bad of ['', 'evu_', 'evu_abc.def', token.slice(4), `${token}x`]) assert.deepEqual(verifyUserToken(secret, bad, now), { ok: false, reason: 'malformed' }, bad);
  });

  it('tells a user token from API keys by its shape', () => {
    assert.ok(isUserTokenShaped(signUserToken(secret, 'u', now).token));
    assert.ok(!isUserTokenShaped('evl_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'));
    assert.ok(!isUserTokenShaped('q8Jd2kLmN4pR6sT8vX0zB2dF4hJ6kM8nP0rS2uW4yA6'));
  });

  it('given a preference-centre token, then it verifies only as one, and a user token only as a user token', () => {
    const centre = signUserToken(secret, 'u1', now, 3600, 'preference_centre').token;
    assert.match(centre, /^evp_/);
    assert.deepEqual(verifyUserToken(secret, centre, now + 1000, 'preference_centre'), { ok: true, claims: { userId: 'u1', issuedAt: now, expiresAt: now + hour } });
    assert.deepEqual(verifyUserToken(secret, centre, now + 1000), { ok: false, reason: 'malformed' }, 'not a user token');
    const user = signUserToken(secret, 'u1', now).token;
    assert.deepEqual(verifyUserToken(secret, user, now + 1000, 'preference_centre'), { ok: false, reason: 'malformed' });
    // The same body signed for the other purpose, prefix swapped, does not verify either.
    assert.equal(verifyUserToken(secret, `evu_${centre.slice(4)}`, now + 1000).ok, false);
    assert.ok(isUserTokenShaped(centre), 'refused (401) on API routes rather than taken for an API key');
  });
});
