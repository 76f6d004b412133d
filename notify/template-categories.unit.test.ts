import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Templates } from './render.ts';
import { categoryFor, templateCategories } from './template-categories.ts';

describe('the category of each template', () => {
  it('given the shipped templates, then each declares its categories, and every entry names a template', () => {
    assert.deepEqual(new Templates().templates().sort(), Object.keys(templateCategories).sort());
  });

  it('given a request without a category, then the template\'s first one is filled in', () => {
    assert.deepEqual(categoryFor('payment_failed', undefined, 'api'), { ok: true, category: 'payment', essential: true });
    assert.deepEqual(categoryFor('receipt', undefined, 'api'), { ok: true, category: 'billing', essential: false });
  });

  it('given a category the template does not allow, then it is refused, naming both', () => {
    assert.deepEqual(categoryFor('welcome_subscription', 'security', 'api'), { ok: false, problem: 'category: welcome_subscription is sent as account, not security' });
    assert.deepEqual(categoryFor('receipt', 'payment', 'api'), { ok: true, category: 'payment', essential: true });
  });

  it('given a template only Eventline sends, then the API may not request it', () => {
    assert.equal(categoryFor('contact_confirmation', undefined, 'api').ok, false);
    assert.equal(categoryFor('contact_confirmation', 'account').ok, true);
  });
});
