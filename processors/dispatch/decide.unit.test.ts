import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitSms, smsSize, Templates } from '../../notify/index.ts';
import { defaultPreferences, optInSms, suppress, type Preferences } from '../../projections/preferences/document.ts';
import { blockedChannels, localParts, nextLocalTime, planDispatch, quietHoursEnd, type PlanContext, type Recipient } from './decide.ts';

const both: Recipient = { email: 'ana@example.com', phone: '+14155550123', name: 'Ana', locale: null };
const noon = Date.UTC(2026, 10, 20, 12, 0); // 13:00 in Paris
const ctx = (prefs: Partial<Preferences> = {}, over: Partial<PlanContext> = {}): PlanContext => ({ prefs: { ...defaultPreferences(), ...prefs }, recipient: both, sentToday: 0, now: noon, ...over });

describe('dispatch decisions', () => {
  it('CRITICAL goes to every allowed and reachable channel, even in quiet hours and past the cap', () => {
    const quiet = { quiet_hours: { start: '12:00', end: '14:00' }, daily_max: 1 };
    const critical = { priority: 'CRITICAL', category: 'security', channel: null } as const;
    // The inbox is always reachable; push only with a registered browser (and push is off by default).
    assert.deepEqual(planDispatch(critical, ctx(quiet, { sentToday: 5 })), { kind: 'send', channels: ['email', 'sms', 'in_app'], fallback: [] });
    assert.deepEqual(planDispatch(critical, ctx({ channels: { email: true, sms: true, push: true, in_app: true } }, { recipient: { ...both, push: true } })), { kind: 'send', channels: ['email', 'sms', 'push', 'in_app'], fallback: [] });
    assert.deepEqual(planDispatch(critical, ctx({ channels: { email: true, sms: true, push: true, in_app: true } })), { kind: 'send', channels: ['email', 'sms', 'in_app'], fallback: [] }, 'push without a browser is not reachable');
  });

  it('given no SMS consent or a suppressed address, then that channel is not used, CRITICAL and essential included, and the suppression says why', () => {
    const critical = { priority: 'CRITICAL', category: 'security', channel: null } as const;
    const prefs = { ...defaultPreferences(), channels: { email: true, sms: true, push: false, in_app: false } };
    const noConsent = { ...both, blocked: blockedChannels(prefs, both.email, both.phone) };
    assert.equal(prefs.sms_consent, null, 'SMS is off until the user opts in');
    // Essential categories ignore the channel switches (so the inbox gets it too), not reachability.
    assert.deepEqual(planDispatch(critical, ctx(prefs, { recipient: noConsent })), { kind: 'send', channels: ['email', 'in_app'], fallback: [] });
    const consented = optInSms(prefs, 'api', noon);
    assert.deepEqual(planDispatch(critical, ctx(consented, { recipient: { ...both, blocked: blockedChannels(consented, both.email, both.phone) } })), { kind: 'send', channels: ['email', 'sms', 'in_app'], fallback: [] });
    const bounced = suppress(consented, 'email', 'ana@example.com', 'hard_bounce', noon);
    const onlySms = { ...both, blocked: blockedChannels(bounced, both.email, both.phone) };
    assert.deepEqual(planDispatch(critical, ctx(bounced, { recipient: onlySms })), { kind: 'send', channels: ['sms', 'in_app'], fallback: [] });
    const product = { priority: 'CRITICAL', category: 'product', channel: null } as const;
    const bouncedNoPhone = { ...both, phone: null, blocked: blockedChannels(bounced, both.email, null) };
    assert.deepEqual(planDispatch(product, ctx(bounced, { recipient: bouncedNoPhone })), {
      kind: 'suppress',
      reason: 'no reachable channel (email: address suppressed (hard_bounce))',
    });
    // A new address is not the suppressed one.
    assert.deepEqual(blockedChannels(bounced, 'ana.new@example.com', both.phone), {});
  });

  it('HIGH uses the preferred channel with SMS as fallback; NORMAL the preferred channel only', () => {
    assert.deepEqual(planDispatch({ priority: 'HIGH', category: 'payment', channel: null }, ctx()), { kind: 'send', channels: ['email'], fallback: ['sms', 'in_app'] });
    assert.deepEqual(planDispatch({ priority: 'HIGH', category: 'payment', channel: null }, ctx({ preferred_channel: 'in_app' })), { kind: 'send', channels: ['in_app'], fallback: ['sms', 'email'] });
    assert.deepEqual(planDispatch({ priority: 'HIGH', category: 'payment', channel: null }, ctx({ preferred_channel: 'push' })), { kind: 'send', channels: ['sms'], fallback: ['email', 'in_app'] }, 'a preferred channel that cannot reach the user is passed over for SMS, then the rest');
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'billing', channel: null }, ctx()), { kind: 'send', channels: ['email'], fallback: [] });
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'billing', channel: null }, ctx({ categories: { billing: { email: false } } })), { kind: 'send', channels: ['sms'], fallback: [] });
  });

  it('given channels to avoid (a bounced reminder before), then HIGH and NORMAL go to another reachable channel first, the avoided one last, and still there when nothing else reaches the user', () => {
    assert.deepEqual(planDispatch({ priority: 'HIGH', category: 'payment', channel: null, avoid: ['email'] }, ctx()), { kind: 'send', channels: ['sms'], fallback: ['in_app', 'email'] });
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'billing', channel: null, avoid: ['email'] }, ctx()), { kind: 'send', channels: ['sms'], fallback: [] });
    const emailOnly = { channels: { email: true, sms: false, push: false, in_app: false } };
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'billing', channel: null, avoid: ['email'] }, ctx(emailOnly)), { kind: 'send', channels: ['email'], fallback: [] });
  });

  it('respects opt-outs, except for essential categories; suppresses without an address', () => {
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'marketing', channel: null }, ctx({ unsubscribed: true })), { kind: 'suppress', reason: 'unsubscribed' });
    assert.equal(planDispatch({ priority: 'HIGH', category: 'payment', channel: null }, ctx({ unsubscribed: true, channels: { email: false, sms: false, push: false, in_app: false } })).kind, 'send');
    const nowhere = { email: null, phone: null, name: null, locale: null };
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'product', channel: null }, ctx({}, { recipient: nowhere })), { kind: 'send', channels: ['in_app'], fallback: [] }, 'the inbox needs no address');
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'product', channel: null }, ctx({ channels: { email: true, sms: true, push: true, in_app: false } }, { recipient: nowhere })), { kind: 'suppress', reason: 'no address for any allowed channel' });
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'product', channel: 'fax' }, ctx()), { kind: 'suppress', reason: 'channel fax is not available' });
  });

  it('defers to the end of quiet hours in the user time zone (overnight windows too)', () => {
    const paris = { timezone: 'Europe/Paris', quiet_hours: { start: '12:30', end: '14:00' } };
    const plan = planDispatch({ priority: 'HIGH', category: 'payment', channel: null }, ctx(paris));
    assert.deepEqual(plan, { kind: 'defer', until: Date.UTC(2026, 10, 20, 13, 0), reason: 'quiet_hours' }); // 14:00 Paris = 13:00 UTC
    const night = Date.UTC(2026, 10, 20, 23, 30); // 00:30 in Paris
    assert.equal(quietHoursEnd(night, { start: '22:00', end: '07:00' }, 'Europe/Paris'), Date.UTC(2026, 10, 21, 6, 0));
    assert.equal(quietHoursEnd(noon, { start: '22:00', end: '07:00' }, 'Europe/Paris'), null);
  });

  it('applies the daily cap to NORMAL, not to HIGH or essential categories', () => {
    assert.deepEqual(planDispatch({ priority: 'NORMAL', category: 'product', channel: null }, ctx({ daily_max: 3 }, { sentToday: 3 })), { kind: 'suppress', reason: 'daily cap of 3 reached' });
    assert.equal(planDispatch({ priority: 'NORMAL', category: 'payment', channel: null }, ctx({ daily_max: 3 }, { sentToday: 3 })).kind, 'send');
    assert.equal(planDispatch({ priority: 'HIGH', category: 'product', channel: null }, ctx({ daily_max: 3 }, { sentToday: 3 })).kind, 'send');
  });

  it('batches LOW into the digest at the user digest hour', () => {
    const plan = planDispatch({ priority: 'LOW', category: 'product', channel: null }, ctx({ timezone: 'America/New_York', digest: { enabled: true, hour: 9 } }));
    assert.deepEqual(plan, { kind: 'batch', sendAt: Date.UTC(2026, 10, 20, 14, 0), digestDate: '2026-11-20' }); // 12:00 UTC is 07:00 EST: 09:00 EST the same day
    assert.equal(planDispatch({ priority: 'LOW', category: 'product', channel: null }, ctx({ digest: { enabled: false, hour: 9 } })).kind, 'send');
  });

  it('never batches an essential message, even LOW: a digest is a product message that follows opt-outs', () => {
    assert.equal(planDispatch({ priority: 'LOW', category: 'payment', channel: null }, ctx({ digest: { enabled: true, hour: 9 } })).kind, 'send');
    assert.equal(planDispatch({ priority: 'LOW', category: 'security', channel: null }, ctx({ digest: { enabled: true, hour: 9 } })).kind, 'send');
  });

  it('local time math follows DST', () => {
    assert.deepEqual(localParts(Date.UTC(2026, 2, 29, 0, 30), 'Europe/Paris'), { date: '2026-03-29', minutes: 90 });
    // Clocks go forward on 2026-03-29 at 02:00 in Paris: 09:00 local is 07:00 UTC that day.
    assert.equal(nextLocalTime(Date.UTC(2026, 2, 29, 0, 30), 9 * 60, 'Europe/Paris'), Date.UTC(2026, 2, 29, 7, 0));
  });
});

describe('templates and SMS', () => {
  const t = new Templates();
  it('has every contract template in en-US, and falls back by language then to en-US', () => {
    for (const name of ['welcome_subscription', 'payment_failed', 'update_payment_method', 'final_notice', 'trial_ending', 'subscription_canceled', 'receipt', 'fraud_review', 'digest']) assert.ok(t.has(name), name);
    assert.equal(t.resolveLocale('payment_failed', 'fr-CA'), 'fr-FR');
    assert.equal(t.resolveLocale('payment_failed', 'de-AT'), 'de-DE');
    assert.equal(t.resolveLocale('final_notice', 'fr-FR'), 'en-US');
    assert.equal(t.resolveLocale('payment_failed', null), 'en-US');
  });

  it('renders money and dates in the locale, escapes HTML, and adds the unsubscribe link', () => {
    const r = t.render('payment_failed', 'de-DE', { first_name: '<b>Jo</b>', amount_due: 123456, currency: 'eur', hosted_invoice_url: 'https://pay.test/x' }, { timezone: 'Europe/Berlin', unsubscribeUrl: 'https://e.test/u/1' });
    assert.match(r.subject, /1\.234,56\s€/);
    assert.match(r.html, /Hallo &lt;b&gt;Jo&lt;\/b&gt;/);
    assert.match(r.text, /Hallo <b>Jo<\/b>/, 'plain text is not HTML-escaped');
    assert.match(r.html, /href="https:\/\/e\.test\/u\/1">Unsubscribe/);
    assert.match(r.text, /Unsubscribe: https:\/\/e\.test\/u\/1/);
    const jpy = t.render('receipt', 'en-US', { amount_due: 5000, currency: 'jpy' }, { timezone: 'UTC', unsubscribeUrl: null });
    assert.match(jpy.subject, /¥5,000/);
    assert.match(jpy.text, /^Hi,\n/, 'no dangling space without a name');
  });

  it('counts SMS segments (GSM-7 160/153, UCS-2 70/67) and cuts to fit', () => {
    assert.deepEqual(smsSize('a'.repeat(160)), { encoding: 'GSM-7', units: 160, segments: 1 });
    assert.deepEqual(smsSize('a'.repeat(161)), { encoding: 'GSM-7', units: 161, segments: 2 });
    assert.deepEqual(smsSize('€'.repeat(80)), { encoding: 'GSM-7', units: 160, segments: 1 });
    assert.deepEqual(smsSize('ş'.repeat(71)), { encoding: 'UCS-2', units: 71, segments: 2 });
    const cut = fitSms('word '.repeat(100), 2);
    assert.ok(cut.endsWith('...'));
    assert.equal(smsSize(cut).segments, 2);
    assert.equal(fitSms('short', 1), 'short');
  });

  it('given a locale with a STOP line, then every SMS ends with it whole, and a long body is cut before it', () => {
    const t = new Templates();
    const en = t.render('payment_failed', 'en-US', { amount_due: 4900, currency: 'usd' }, { timezone: 'UTC', unsubscribeUrl: null });
    assert.equal(en.smsFooter, 'Reply STOP to opt out.');
    assert.doesNotMatch(en.sms, /STOP/, 'the body itself (shown in the inbox and in push) has no STOP line');
    assert.equal(fitSms(en.sms, 2, en.smsFooter), `${en.sms}\nReply STOP to opt out.`);
    assert.equal(t.render('payment_failed', 'de-DE', { amount_due: 4900, currency: 'eur' }, { timezone: 'UTC', unsubscribeUrl: null }).smsFooter, 'Antworte STOP zum Abmelden.');
    const long = fitSms('word '.repeat(100), 1, 'Reply STOP to opt out.');
    assert.match(long, /\.\.\.\nReply STOP to opt out\.$/);
    assert.equal(smsSize(long).segments, 1);
    assert.ok(smsSize(`${long.replace(/\.\.\.\n[^]*$/, '')} word...\nReply STOP to opt out.`).segments > 1, 'the longest body that fits');
  });
});
