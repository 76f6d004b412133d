import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allows, defaultPreferences, optInSms, type Preferences } from '../../projections/preferences/document.ts';
import { applyCentreChange, categoriesFor, parseCentreForm, viewOf } from './form.ts';
import { centrePage } from './page.ts';

const form = (pairs: [string, string][]) => new URLSearchParams(pairs);
const shownAll = (prefs: Preferences): [string, string][] => categoriesFor(prefs).filter((c) => c !== 'security' && c !== 'payment').map((c) => ['shown', c]);

describe('the preference centre form', () => {
  it('given the defaults, then every template category is shown, essential first and locked on', () => {
    const view = viewOf(defaultPreferences());
    assert.deepEqual(view.categories.map((c) => [c.category, c.essential]), [['payment', true], ['security', true], ['account', false], ['billing', false], ['product', false]]);
    assert.ok(view.categories.every((c) => Object.values(c.channels).every(Boolean)), 'every category switch on by default');
    assert.deepEqual(view.channels, { email: true, sms: true, push: false, in_app: true });
    assert.equal(view.smsConsent, false);
    const html = centrePage(view, { phone: '+14155550100' });
    assert.equal((html.match(/ disabled /g) ?? []).length, 8, 'two essential rows of four locked boxes');
    assert.ok(!html.includes('name="cat.security.'), 'essential categories post nothing');
    assert.match(html, /at \+14155550100\. Reply STOP/);
  });

  it('given a category the user has, then it is shown too; its name is a field only when safe', () => {
    const prefs = { ...defaultPreferences(), categories: { marketing: { email: false } } };
    assert.ok(categoriesFor(prefs).includes('marketing'));
    assert.equal(viewOf(prefs).categories.find((c) => c.category === 'marketing')?.channels.email, false);
  });

  it('given a post, then unchecked boxes of the shown categories are off, consent is given with its source, and categories not shown are kept', () => {
    const current = { ...defaultPreferences(), categories: { legacy: { sms: false } } };
    const parsed = parseCentreForm(
      form([...shownAll(defaultPreferences()), ['channel.email', 'on'], ['channel.in_app', 'on'], ['channel.sms', 'on'], ['cat.billing.email', 'on'], ['cat.account.email', 'on'], ['cat.account.sms', 'on'], ['sms_consent', 'on'], ['preferred_channel', 'sms'], ['reason', ' too many emails ']]),
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.change.reason, 'too many emails');
    const next = applyCentreChange(current, parsed.change, 1_700_000_000_000);
    assert.deepEqual(next.categories.billing, { email: true, sms: false, push: false, in_app: false });
    assert.deepEqual(next.categories.product, { email: false, sms: false, push: false, in_app: false });
    assert.deepEqual(next.categories.legacy, { sms: false }, 'not shown: kept');
    assert.deepEqual(next.sms_consent, { at: 1_700_000_000_000, source: 'preference_centre' });
    assert.equal(next.preferred_channel, 'sms');
    assert.equal(allows(next, 'product', 'email'), false);
    assert.equal(allows(next, 'payment', 'push'), true, 'essential: always');
    assert.equal(allows(next, 'account', 'push'), false, 'push is off as a channel');
  });

  it('given consent already given and the box still checked, then its time and source are kept; unchecked withdraws it', () => {
    const current = optInSms(defaultPreferences(), 'keyword', 5);
    const base: [string, string][] = [...shownAll(current), ['channel.email', 'on']];
    const kept = parseCentreForm(form([...base, ['sms_consent', 'on']]));
    assert.ok(kept.ok);
    assert.deepEqual(applyCentreChange(current, kept.change, 99).sms_consent, { at: 5, source: 'keyword' });
    const withdrawn = parseCentreForm(form(base));
    assert.ok(withdrawn.ok);
    assert.equal(applyCentreChange(current, withdrawn.change, 99).sms_consent, null);
  });

  it('given bad input, then each problem is named and nothing is changed', () => {
    const bad = parseCentreForm(
      form([['shown', 'billing'], ['shown', 'Bad Name'], ['cat.security.email', 'on'], ['cat.product.email', 'on'], ['cat.billing.fax', 'on'], ['channel.email', 'yes'], ['preferred_channel', 'pigeon'], ['sms_consent', 'maybe'], ['reason', 'x'.repeat(501)], ['admin', '1'], ['unsubscribed', 'on'], ['unsubscribed', 'on']]),
    );
    assert.ok(!bad.ok);
    assert.deepEqual(bad.problems, [
      'shown: "Bad Name" is not a category name',
      'cat.security.email: security notifications are always sent and cannot be changed',
      'cat.product.email: product was not on the page',
      'cat.billing.fax: no such channel (email, sms, push, in_app)',
      'channel.email: expected "on"',
      'preferred_channel: expected one of email, sms, push, in_app',
      'sms_consent: expected "on"',
      'reason: at most 500 characters',
      'admin: not a field of the preference centre',
      'unsubscribed: given twice',
    ]);
    const empty = parseCentreForm(form([]));
    assert.deepEqual(empty.ok ? [] : empty.problems, ['shown: the form names no category (post the page’s form)']);
  });
});
