import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allows, defaultPreferences, essentialViolations, preferencesInput, resubscribe, toPreferences, unsubscribe } from './document.ts';

describe('preference document', () => {
  it('fills omitted fields with defaults', () => {
    const doc = toPreferences(preferencesInput.parse({ timezone: 'America/Sao_Paulo', channels: { sms: false } }));
    assert.deepEqual(doc, { ...defaultPreferences(), timezone: 'America/Sao_Paulo', channels: { email: true, sms: false, push: false, in_app: true } });
  });

  it('names every invalid field', () => {
    const r = preferencesInput.safeParse({
      timezone: 'Mars/Olympus',
      quiet_hours: { start: '25:00', end: '07:00' },
      daily_max: 0,
      phone: '555-0100',
      channels: { fax: true },
      locale: 'english',
      color: 'blue',
    });
    assert.ok(!r.success);
    const paths = new Set(r.error.issues.map((i) => i.path.join('.') || '(root)'));
    for (const p of ['timezone', 'quiet_hours.start', 'daily_max', 'phone', 'channels', 'locale', '(root)']) assert.ok(paths.has(p), `${p} in ${[...paths].join(', ')}`);
  });

  it('refuses turning off security or payment, on any channel', () => {
    const doc = toPreferences(preferencesInput.parse({ categories: { payment: { sms: false }, security: { email: false }, marketing: { email: false } } }));
    assert.deepEqual(essentialViolations(doc).sort(), [
      'categories.payment.sms: payment notifications cannot be turned off',
      'categories.security.email: security notifications cannot be turned off',
    ]);
  });

  it('decides per category and channel; essential categories always pass', () => {
    const doc = toPreferences(preferencesInput.parse({ channels: { sms: false }, categories: { marketing: { email: false } } }));
    assert.equal(allows(doc, 'marketing', 'email'), false);
    assert.equal(allows(doc, 'product', 'email'), true);
    assert.equal(allows(doc, 'product', 'sms'), false);
    assert.equal(allows(doc, 'payment', 'sms'), true);
    const out = unsubscribe(doc, null);
    assert.equal(allows(out, 'product', 'email'), false);
    assert.equal(allows(out, 'security', 'email'), true);
    assert.equal(allows(resubscribe(out, null), 'product', 'email'), true);
    const noMarketing = unsubscribe(defaultPreferences(), 'billing');
    assert.equal(allows(noMarketing, 'billing', 'in_app'), false);
    assert.equal(allows(resubscribe(noMarketing, 'billing'), 'billing', 'in_app'), true);
  });
});
