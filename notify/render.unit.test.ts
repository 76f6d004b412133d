import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Templates, formatDate, formatMoney, urlAttributeProblems } from './render.ts';

const linked = ['payment_failed', 'update_payment_method', 'final_notice', 'receipt'];
const options = { timezone: 'UTC', unsubscribeUrl: null };

describe('template links', () => {
  it('given a javascript: hosted_invoice_url, when any template with a link renders, then no part carries it and the html has no such href', () => {
    const t = new Templates();
    for (const template of linked) {
      for (const locale of ['en-US', 'de-DE', 'fr-FR']) {
        const r = t.render(template, locale, { amount_due: 4900, currency: 'usd', days_left: 7, hosted_invoice_url: 'javascript:alert(document.cookie)' }, options);
        for (const part of [r.subject, r.text, r.html, r.sms]) assert.doesNotMatch(part, /javascript:/i, `${locale}/${template}`);
        assert.doesNotMatch(r.html, /href="(?!https:\/\/|")/, `${locale}/${template}: every href left is https (or empty)`);
      }
    }
  });

  it('given an https link with a quote in it, then it cannot leave the href attribute', () => {
    const r = new Templates().render('payment_failed', 'en-US', { amount_due: 1, currency: 'usd', hosted_invoice_url: 'https://pay.test/"onmouseover="alert(1)' }, options);
    assert.doesNotMatch(r.html, /"onmouseover=/);
    assert.match(r.html, /href="https:\/\/pay\.test\/%22onmouseover&#x3D;%22alert\(1\)"/);
  });

  it('given an https hosted_invoice_url, then the link is rendered as before', () => {
    const r = new Templates().render('payment_failed', 'en-US', { amount_due: 4900, currency: 'usd', hosted_invoice_url: 'https://invoice.stripe.com/i/x?a=1&b=2' }, options);
    assert.match(r.html, /<a href="https:\/\/invoice\.stripe\.com\/i\/x\?a&#x3D;1&amp;b&#x3D;2">/);
    assert.match(r.text, /https:\/\/invoice\.stripe\.com\/i\/x\?a=1&b=2/);
  });

  it('given links Eventline makes itself, then they render even on http (local development) and are not taken from the data', () => {
    const r = new Templates().render('contact_confirmation', 'en-US', { confirm_url: 'https://evil.test/steal' }, { ...options, links: { confirm_url: 'http://127.0.0.1:8080/v1/contacts/confirm/abc.def' } });
    assert.match(r.html, /href="http:\/\/127\.0\.0\.1:8080\/v1\/contacts\/confirm\/abc\.def"/);
    assert.doesNotMatch(r.text, /evil/);
  });

  it('given template sources, then a URL attribute must hold one *_url field or start with https://', () => {
    assert.deepEqual(urlAttributeProblems('<a href="{{hosted_invoice_url}}">x</a> <img src="https://cdn.test/{{logo}}.png"> <a href="{{this.action_url}}">y</a>'), []);
    assert.equal(urlAttributeProblems('<a href="{{{hosted_invoice_url}}}">x</a>').length, 1, 'unescaped');
    assert.equal(urlAttributeProblems('<a href="{{link}}">x</a>').length, 1);
    assert.equal(urlAttributeProblems('<a href="{{scheme}}://{{host_url}}">x</a>').length, 1);
    assert.equal(urlAttributeProblems("<a href='https:{{hosted_invoice_url}}'>x</a>").length, 1);
    assert.equal(urlAttributeProblems('<a href={{money amount_url}}>x</a>').length, 1);
  });

  it('given a template whose href takes a field that is not a link field, then the templates refuse to load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'templates-'));
    mkdirSync(join(dir, 'en-US'));
    writeFileSync(join(dir, 'en-US', 'bad.hbs'), '--- subject\nS\n--- text\nT\n--- html\n<a href="{{target}}">go</a>\n--- sms\nS\n');
    assert.throws(() => new Templates(dir), /en-US\/bad\.hbs: href=/);
  });
});

describe('money and dates', () => {
  it('given amounts in several locales, currencies and time zones in turn, when formatted, then each is formatted for its own', () => {
    // Interleaved, so a formatter kept for one locale or currency that served another would show.
    for (let round = 0; round < 2; round++) {
      assert.equal(formatMoney(2900, 'usd', 'en-US'), '$29.00');
      assert.equal(formatMoney(2900, 'eur', 'de-DE').replace(/\s/g, ' '), '29,00 €');
      assert.equal(formatMoney(2900, 'jpy', 'en-US'), '¥2,900');
      assert.equal(formatMoney(2900, 'usd', 'de-DE').replace(/\s/g, ' '), '29,00 $');
      assert.equal(formatDate(Date.UTC(2026, 0, 1, 2), 'en-US', 'UTC'), 'Jan 1, 2026');
      assert.equal(formatDate(Date.UTC(2026, 0, 1, 2), 'en-US', 'America/New_York'), 'Dec 31, 2025');
      assert.equal(formatDate(Date.UTC(2026, 0, 1, 2), 'de-DE', 'UTC'), '01.01.2026');
    }
  });

  it('given an amount that is not a number, when formatted, then it is empty; an unknown currency code reads as USD', () => {
    assert.equal(formatMoney('x', 'usd', 'en-US'), '');
    assert.equal(formatMoney(100, 'dollars', 'en-US'), '$1.00');
  });
});
