import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signUnsubscribeToken, unsubscribeUrl, verifyUnsubscribeToken } from './unsubscribe-token.ts';

const secret = 'a-secret-for-tests';
const now = Date.UTC(2026, 0, 1);

describe('unsubscribe tokens', () => {
  it('round-trip the user, the category and a 90-day expiry', () => {
    const check = verifyUnsubscribeToken(secret, signUnsubscribeToken(secret, 'user_42', 'marketing', now), now);
    assert.ok(check.ok);
    assert.equal(check.claims.userId, 'user_42');
    assert.equal(check.claims.category, 'marketing');
    assert.equal(check.claims.expiresAt, now + 90 * 86_400_000);
    const all = verifyUnsubscribeToken(secret, signUnsubscribeToken(secret, 'user_42', null, now), now);
    assert.ok(all.ok && all.claims.category === null);
  });

  it('refuse another secret, a changed payload and garbage', () => {
    const token = signUnsubscribeToken(secret, 'user_42', 'marketing', now);
    assert.deepEqual(verifyUnsubscribeToken('other', token, now), { ok: false, reason: 'signature' });
    const [body, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), u: 'user_43' })).toString('base64url');
    assert.deepEqual(verifyUnsubscribeToken(secret, `${forged}.${mac}`, now), { ok: false, reason: 'signature' });
    assert.deepEqual(verifyUnsubscribeToken(secret, 'nope', now), { ok: false, reason: 'malformed' });
  });

  it('expire after 90 days, and each token is unique', () => {
    const token = signUnsubscribeToken(secret, 'user_42', null, now);
    assert.ok(verifyUnsubscribeToken(secret, token, now + 90 * 86_400_000 - 1000).ok);
    assert.deepEqual(verifyUnsubscribeToken(secret, token, now + 90 * 86_400_000 + 1000), { ok: false, reason: 'expired' });
    assert.notEqual(token, signUnsubscribeToken(secret, 'user_42', null, now));
    assert.match(unsubscribeUrl('https://x.test', secret, 'u', null, now), /^https:\/\/x\.test\/v1\/unsubscribe\/[\w-]+\.[\w-]{43}$/);
  });
});
