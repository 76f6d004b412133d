import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allows,
  confirmContact,
  contactChanges,
  contactFor,
  defaultPreferences,
  essentialViolations,
  preferencesInput,
  resetChangedConfirmations,
  resubscribe,
  toPreferences,
  unsubscribe,
  withConfirmationsOf,
} from './document.ts';

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

  it('given an unconfirmed email, then it receives non-essential messages only; once confirmed, essential ones too', () => {
    const doc = { ...defaultPreferences(), email: 'new@example.com', phone: '+14155550123' };
    assert.equal(contactFor(doc, 'email', 'billing'), 'new@example.com');
    assert.equal(contactFor(doc, 'email', 'payment'), null, 'the Stripe customer\'s address is used instead');
    assert.equal(contactFor(doc, 'phone', 'security'), null);
    const confirmed = confirmContact(doc, 'email', 1000);
    assert.equal(contactFor(confirmed, 'email', 'payment'), 'new@example.com');
    assert.equal(contactFor(confirmed, 'phone', 'payment'), null, 'confirming the email does not confirm the phone');
    assert.equal(confirmContact(confirmed, 'email', 2000).email_confirmed_at, 1000, 'confirming again keeps the first time');
  });

  it('given a confirmed email, when a writer changes or removes it, then it is unconfirmed; other changes keep the confirmation', () => {
    const confirmed = confirmContact({ ...defaultPreferences(), email: 'a@example.com' }, 'email', 1000);
    const replaced = toPreferences(preferencesInput.parse({ email: 'b@example.com' }));
    assert.deepEqual(contactChanges(confirmed, replaced), ['email']);
    assert.equal(resetChangedConfirmations(confirmed, withConfirmationsOf(confirmed, replaced)).email_confirmed_at, null);
    const removed = toPreferences(preferencesInput.parse({}));
    assert.equal(resetChangedConfirmations(confirmed, withConfirmationsOf(confirmed, removed)).email_confirmed_at, null);
    const sameEmail = toPreferences(preferencesInput.parse({ email: 'a@example.com', timezone: 'Europe/Paris' }));
    assert.equal(resetChangedConfirmations(confirmed, withConfirmationsOf(confirmed, sameEmail)).email_confirmed_at, 1000);
    assert.equal(unsubscribe(confirmed, null).email_confirmed_at, 1000);
  });
});
