import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHttpsUrl, linkProblems, withSafeLinks } from './links.ts';

describe('links in template data', () => {
  it('given link values, then only absolute https URLs without credentials count as links', () => {
    for (const good of ['https://invoice.stripe.com/i/acct_1/test_x', 'https://pay.test/i?x=1&y=2#f']) assert.ok(isHttpsUrl(good), good);
    for (const bad of ['javascript:alert(1)', 'JavaScript:alert(1)', ' javascript:alert(1)', 'data:text/html,<script>', 'http://pay.test/i', '//pay.test/i', '/pay', 'https://user:pw@pay.test/', 'https:pay', 42, null, `https://x.test/${'a'.repeat(2100)}`]) {
      assert.equal(isHttpsUrl(bad), false, String(bad));
    }
  });

  it('given request data, when a *_url field at any depth is not an https URL, then it is named; null is no link', () => {
    assert.deepEqual(linkProblems({ hosted_invoice_url: 'https://pay.test/i', receipt_url: null, amount_due: 100, note: 'javascript:ok-not-a-link' }), []);
    assert.deepEqual(linkProblems({ hosted_invoice_url: 'javascript:alert(document.cookie)', items: [{ action_url: 'http://x.test' }], nested: { logo_url: 3 } }), [
      'data.hosted_invoice_url: a link must be an absolute https:// URL',
      'data.items[0].action_url: a link must be an absolute https:// URL',
      'data.nested.logo_url: a link must be an absolute https:// URL',
    ]);
  });

  it('given data with unsafe links, when made safe for rendering, then those links are null and everything else is kept', () => {
    const data = { hosted_invoice_url: 'javascript:alert(1)', ok_url: 'https://pay.test/i', items: [{ action_url: 'data:x', subject: 'Hi' }], amount_due: 5 };
    assert.deepEqual(withSafeLinks(data), { hosted_invoice_url: null, ok_url: 'https://pay.test/i', items: [{ action_url: null, subject: 'Hi' }], amount_due: 5 });
    assert.equal(data.hosted_invoice_url, 'javascript:alert(1)', 'the input is not changed');
  });
});
