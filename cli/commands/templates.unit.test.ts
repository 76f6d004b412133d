import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runEventline } from '../../test/support/process.ts';
import { checkCommand, listTemplates, previewTemplate } from './templates.ts';

const dir = mkdtempSync(join(tmpdir(), 'eventline-cli-templates-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('eventline templates', () => {
  it('list: each template with its categories, locales and the data it uses', () => {
    const r = listTemplates();
    assert.equal(r.code, 0);
    assert.deepEqual(r.stderr, []);
    assert.match(r.stdout[0] ?? '', /^template +categories +locales +variables/);
    assert.match(r.stdout.find((l) => l.startsWith('payment_failed ')) ?? '', /^payment_failed +payment +en-US,de-DE,fr-FR +amount_due currency hosted_invoice_url$/);
    assert.match(r.stdout.find((l) => l.startsWith('receipt ')) ?? '', /^receipt +billing,payment +en-US +amount_due currency hosted_invoice_url recovered$/);
  });

  it('check: given the shipped templates, then exit 0 and a summary; given a broken directory, then exit 1 and each problem on stderr', () => {
    const ok = checkCommand();
    assert.deepEqual([ok.code, ok.stderr], [0, []]);
    assert.match(ok.stdout[0] ?? '', /^\d+ templates, \d+ files in \d+ locales: every one compiles/);

    const broken = join(dir, 'broken');
    mkdirSync(join(broken, 'en-US'), { recursive: true });
    writeFileSync(join(broken, 'en-US', 'receipt.hbs'), '--- subject\n{{#if x}}\n--- text\n{{amount_du}}\n--- html\nx\n--- sms\nx\n');
    const bad = checkCommand(broken);
    assert.equal(bad.code, 1);
    assert.deepEqual(bad.stdout, []);
    assert.equal(bad.stderr.length, 3);
    assert.match(bad.stderr[0]!, /^en-US\/receipt\.hbs:2: subject: Parse error on line 1/);
    assert.equal(bad.stderr[1], 'en-US/receipt.hbs: amount_du is not in the data of receipt (notify/template-data.ts)');
    assert.equal(bad.stderr[2], `2 problems in ${broken}`);
    assert.deepEqual(checkCommand(join(dir, 'nowhere')).stderr, [`no directory ${join(dir, 'nowhere')}`]);
  });

  it('preview: given a template, then subject, text, HTML and SMS from its sample data, and the SMS size', () => {
    const r = previewTemplate('receipt', {});
    assert.equal(r.code, 0);
    assert.equal(r.stdout[0], 'template receipt, locale en-US, sample data');
    assert.equal(r.stdout[2], 'Payment received: $49.00');
    assert.ok(r.stdout.includes('--- html') && r.stdout.some((l) => l.includes('<a href="https://invoice.stripe.com/')));
    assert.equal(r.stdout.at(-3), 'Payment of $49.00 received. Thank you!\nReply STOP to opt out.');
    assert.equal(r.stdout.at(-1), 'sms: 1 segment, GSM-7, 61 characters');
  });

  it('preview: given --locale, then the locale it falls back to; given --data, then that data', () => {
    const fr = previewTemplate('payment_failed', { locale: 'fr-CA', data: file('fr.json', JSON.stringify({ amount_due: 1250, currency: 'eur' })) });
    assert.equal(fr.code, 0);
    assert.match(fr.stdout[0] ?? '', /^template payment_failed, locale fr-FR \(for fr-CA\), data from .*fr\.json$/);
    assert.match(fr.stdout[2] ?? '', /^Votre paiement de 12,50\s€ n'a pas abouti$/);
  });

  it('preview: given an unknown template or bad data, then exit 1 naming each problem, and nothing rendered', () => {
    const unknown = previewTemplate('invoice_ready', {});
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr[0] ?? '', /^no template invoice_ready; templates: card_expiring, contact_confirmation, digest, /);

    const data = file('bad.json', JSON.stringify({ amount_due: '49.00', currency: 'usd', hosted_invoice_url: 'http://pay.test/i', note: 'x' }));
    const bad = previewTemplate('payment_failed', { data });
    assert.deepEqual([bad.code, bad.stdout], [1, []]);
    assert.deepEqual(bad.stderr, [
      `${data}: data.hosted_invoice_url: a link must be an absolute https:// URL`,
      `${data}: data.amount_due: expected an integer amount in minor units (990 for 9.90)`,
      `${data}: data.note: not a field of payment_failed (its fields: action_url, amount_due, currency, hosted_invoice_url, invoice_id, days_since_failure, days_left)`,
    ]);
    assert.match(previewTemplate('receipt', { data: file('list.json', '[]') }).stderr[0] ?? '', /the data is a JSON object/);
    assert.match(previewTemplate('receipt', { data: file('broken.json', '{"amount_due":') }).stderr[0] ?? '', /not JSON/);
    assert.match(previewTemplate('receipt', { data: join(dir, 'missing.json') }).stderr[0] ?? '', /^cannot read /);
  });

  it('given an environment no runtime could start with, then the commands still run: they open no Kafka, Postgres or Redis', async () => {
    const env = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'not-a-level' };
    const check = await runEventline(env, ['templates', 'check']);
    assert.deepEqual([check.code, check.stderr], [0, '']);
    assert.match(check.stdout, /every one compiles/);
    assert.equal((await runEventline(env, ['keys', 'list'])).code, 2, 'a command with a runtime refuses this environment');
  });
});
