import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contactConfirmationUrl, isTokenAddress, signContactToken, verifyContactToken } from './contact-token.ts';
import { signUnsubscribeToken, verifyUnsubscribeToken } from './unsubscribe-token.ts';

const secret = 'a-secret-for-tests';
const now = Date.UTC(2026, 0, 1);

describe('contact confirmation tokens', () => {
  it('given a token for an address, then it verifies for 3 days, for that user, channel and address only', () => {
    const token = signContactToken(secret, 'user_42', 'email', 'ana@example.com', now);
    const check = verifyContactToken(secret, token, now);
    assert.ok(check.ok);
    assert.deepEqual([check.claims.userId, check.claims.channel, check.claims.expiresAt], ['user_42', 'email', now + 3 * 86_400_000]);
    assert.ok(isTokenAddress(secret, check.claims, 'ana@example.com'));
    assert.ok(!isTokenAddress(secret, check.claims, 'mallory@example.com'));
    assert.ok(!isTokenAddress(secret, check.claims, null));
    assert.deepEqual(verifyContactToken(secret, token, now + 3 * 86_400_000 + 1000), { ok: false, reason: 'expired' });
  });

  it('given the link, then it does not show the address', () => {
    const url = contactConfirmationUrl('https://x.test', secret, 'user_42', 'sms', '+14155550123', now);
    assert.match(url, /^https:\/\/x\.test\/v1\/contacts\/confirm\/[\w-]+\.[\w-]{43}$/);
    assert.ok(!Buffer.from(url.split('/').pop()!.split('.')[0]!, 'base64url').toString().includes('4155550123'));
  });

  it('given another secret, a forged payload, or an unsubscribe token, then it does not verify (nor the other way round)', () => {
    const token = signContactToken(secret, 'user_42', 'email', 'ana@example.com', now);
    assert.deepEqual(verifyContactToken('other', token, now), { ok: false, reason: 'signature' });
    const [body, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), u: 'user_43' })).toString('base64url');
    assert.deepEqual(verifyContactToken(secret, `${forged}.${mac}`, now), { ok: false, reason: 'signature' });
    assert.equal(verifyContactToken(secret, signUnsubscribeToken(secret, 'user_42', null, now), now).ok, false);
    assert.equal(verifyUnsubscribeToken(secret, token, now).ok, false);
  });
});
