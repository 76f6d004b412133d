import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withoutTokens } from './steps.ts';

describe('clicked links in the timeline', () => {
  it('given a click on a confirmation or unsubscribe link, then the token is cut out; other links stay whole', () => {
    assert.equal(withoutTokens('https://hooks.example.com/v1/contacts/confirm/eyJ1Ijo.abc123?x=1'), 'https://hooks.example.com/v1/contacts/confirm/…?x=1');
    assert.equal(withoutTokens('https://hooks.example.com/v1/unsubscribe/tok_9f8e7d'), 'https://hooks.example.com/v1/unsubscribe/…');
    assert.equal(withoutTokens('https://invoice.stripe.com/i/acct_1/test_x'), 'https://invoice.stripe.com/i/acct_1/test_x');
  });
});
