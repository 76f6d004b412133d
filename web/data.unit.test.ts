import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskRecipient } from './data.ts';

describe('recipient masking on the dashboard', () => {
  it('given an email address, then only its first character and its domain show', () => {
    assert.equal(maskRecipient('ana.lopez@example.com'), 'a***@example.com');
    assert.equal(maskRecipient('x@example.com'), 'x***@example.com');
    assert.equal(maskRecipient('"odd@local"@example.com'), '"***@example.com');
  });

  it('given a phone number, then its first and last four digits show and every other digit is a star', () => {
    assert.equal(maskRecipient('+15005550123'), '+1******0123');
    assert.equal(maskRecipient('+33 6 12 34 56 78'), '+3******5678');
    assert.equal(maskRecipient('555-0123'), '*******', 'a short number shows no digit');
  });

  it('given anything else, then one character shows and the length does not', () => {
    assert.equal(maskRecipient('user_42'), 'u***');
    assert.equal(maskRecipient(''), '***');
  });
});
