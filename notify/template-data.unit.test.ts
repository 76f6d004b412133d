import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contactConfirmationRequest } from './contact-confirmation.ts';
import { Templates } from './render.ts';
import { dataProblems, declares, templateData } from './template-data.ts';

const options = { timezone: 'UTC', unsubscribeUrl: null };

describe('the declared data of each template', () => {
  it('given the shipped templates, then each declares its data, and every entry names a template', () => {
    assert.deepEqual(new Templates().templates().sort(), Object.keys(templateData).sort());
  });

  it('given each sample, then it passes its schema and renders in every locale', () => {
    const templates = new Templates();
    for (const [template, { sample }] of Object.entries(templateData)) {
      assert.deepEqual(dataProblems(template, sample), [], template);
      for (const locale of ['en-US', 'de-DE', 'fr-FR']) {
        const r = templates.render(template, locale, sample, options);
        assert.ok(r.subject.length > 0, `${locale}/${template}`);
        for (const part of [r.subject, r.text, r.html, r.sms]) assert.doesNotMatch(part, /undefined|NaN/, `${locale}/${template}`);
      }
    }
  });

  it('given fields of the wrong type, then each is named with what it should be', () => {
    const data = { amount_due: 9.9, currency: 'dollars', hosted_invoice_url: 'http://pay.test/i', recovered: 'yes' };
    assert.deepEqual(dataProblems('receipt', data), [
      'data.hosted_invoice_url: a link must be an absolute https:// URL',
      'data.amount_due: expected an integer amount in minor units (990 for 9.90)',
      'data.currency: expected a 3-letter currency code like usd',
      'data.recovered: expected true or false',
    ]);
  });

  it('given a required field missing, then it is named as required', () => {
    assert.deepEqual(dataProblems('payment_failed', { currency: 'eur' }), ['data.amount_due: required, expected an integer amount in minor units (990 for 9.90)']);
    assert.deepEqual(dataProblems('final_notice', { amount_due: 100, currency: 'eur' }), ['data.days_left: required, expected a whole number of days']);
  });

  it('given a field the template does not declare (a typo), or one Eventline sets, then it is refused, naming it', () => {
    assert.deepEqual(dataProblems('receipt', { amount_due: 100, currency: 'usd', amount_du: 100, first_name: 'Ada' }), [
      'data.amount_du: not a field of receipt (its fields: action_url, amount_due, currency, hosted_invoice_url, invoice_id, recovered)',
      'data.first_name: set by Eventline when it renders, not by the request',
    ]);
    assert.deepEqual(dataProblems('digest', { items: [{ subject: 'Hi', url: 'x' }] }), ['data.items[0].url: not a field of digest']);
  });

  it('given a template without a schema, then that is the problem', () => {
    assert.deepEqual(dataProblems('newsletter', {}), ['template: newsletter declares no data (notify/template-data.ts)']);
  });

  it('given what Eventline itself requests (contact confirmation, the daily digest), then it passes', () => {
    const confirmation = contactConfirmationRequest({ userId: 'user_1', field: 'phone', changeEventId: 'pref_1', requestedBy: 'test', at: 0 });
    assert.deepEqual(dataProblems(confirmation.template, JSON.parse(confirmation.data) as Record<string, unknown>), []);
    // processors/dispatch/decide.ts: the digest's items are the summaries of the batched messages.
    assert.deepEqual(dataProblems('digest', { items: [{ template: 'receipt', subject: 'Payment received: €15.00' }], date: '2026-11-02' }), []);
  });

  it('given a variable path, then declares() follows objects, list elements ([]) and a list\'s length', () => {
    const digest = templateData.digest!.schema;
    assert.equal(declares(digest, ['items', 'length']), true);
    assert.equal(declares(digest, ['items', '[]', 'subject']), true);
    assert.equal(declares(digest, ['items', 'subject']), false);
    assert.equal(declares(digest, ['items', 'length', 'x']), false);
    assert.equal(declares(templateData.receipt!.schema, ['amount_due', 'x']), false);
    assert.equal(declares(templateData.receipt!.schema, ['hosted_invoice_url']), true);
  });
});
