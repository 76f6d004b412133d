import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isEventlineError } from '../errors.ts';
import { isSealed, newDataKey, open, parseMasterKey, seal, tokenSubject, unwrapKey, wrapKey } from './crypto.ts';

describe('privacy crypto', () => {
  it('seals a value that only its subject key opens, naming the subject', () => {
    const key = newDataKey();
    const token = seal(key, 'user:u1', 'Ada Lovelace');
    assert.ok(isSealed(token));
    assert.ok(!token.includes('Ada'));
    assert.equal(tokenSubject(token), 'user:u1');
    assert.equal(open(key, token), 'Ada Lovelace');
    assert.equal(open(newDataKey(), token), null, 'another key');
    assert.equal(seal(key, 'user:u1', 'Ada Lovelace'), token, 'the same value of the same subject seals to the same token');
    assert.notEqual(seal(key, 'user:u1', 'Ada Lovelacf').slice(0, 40), token.slice(0, 40), 'another value: another IV');
    assert.notEqual(seal(newDataKey(), 'user:u1', 'Ada Lovelace'), token, 'another key');
  });

  it('binds the subject: a token relabelled for another subject does not open', () => {
    const key = newDataKey();
    const token = seal(key, 'user:u1', 'ada@example.com');
    const relabelled = token.replace(Buffer.from('user:u1').toString('base64url'), Buffer.from('user:u2').toString('base64url'));
    assert.equal(open(key, relabelled), null);
  });

  it('keeps only the domain of an email address in clear', () => {
    const key = newDataKey();
    const token = seal(key, 'customer:cus_1', 'ada.lovelace@Mailinator.com', { email: true });
    assert.match(token, /^enc\.v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+@mailinator\.com$/);
    assert.ok(!token.includes('lovelace'));
    assert.equal(token.split('@')[1], 'mailinator.com');
    assert.equal(open(key, token), 'ada.lovelace@Mailinator.com');
    assert.doesNotMatch(seal(key, 'customer:cus_1', 'not an address', { email: true }), /@/);
  });

  it('wraps data keys under the master key, per subject', () => {
    const master = randomBytes(32);
    const dataKey = newDataKey();
    const wrapped = wrapKey(master, 'user:u1', dataKey);
    assert.deepEqual(unwrapKey(master, 'user:u1', wrapped), dataKey);
    assert.equal(unwrapKey(randomBytes(32), 'user:u1', wrapped), null, 'a wrong master key');
    assert.equal(unwrapKey(master, 'user:u2', wrapped), null, 'another subject');
  });

  it('rejects a missing or malformed master key with a clear error', () => {
    for (const bad of [undefined, '', '   ']) assert.throws(() => parseMasterKey(bad), (e: unknown) => isEventlineError(e, 'config_invalid') && /EVENTLINE_MASTER_KEY is not set/.test(e.message));
    for (const bad of [randomBytes(16).toString('base64'), 'not base64 at all!', randomBytes(33).toString('base64')]) {
      assert.throws(() => parseMasterKey(bad), (e: unknown) => isEventlineError(e, 'config_invalid') && /32 bytes/.test(e.message), bad);
    }
    const good = randomBytes(32);
    assert.deepEqual(parseMasterKey(good.toString('base64')), good);
    assert.deepEqual(parseMasterKey(good.toString('base64url')), good);
  });

  it('leaves strings that only look like tokens alone', () => {
    for (const s of ['enc.v1.', 'enc.v1.abc', 'enc.v2.abc.def', 'hello', 'enc.v1.a b.c']) {
      assert.equal(isSealed(s), false, s);
      assert.equal(tokenSubject(s), null, s);
    }
  });
});
