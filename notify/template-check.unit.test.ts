import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { templateHandlebars } from './render.ts';
import { checkTemplates, variablesOf } from './template-check.ts';

const sections = (body: { subject?: string; text?: string; html?: string; sms?: string }) =>
  `--- subject\n${body.subject ?? 'Hi'}\n--- text\n${body.text ?? 'Hi'}\n--- html\n${body.html ?? '<p>Hi</p>'}\n--- sms\n${body.sms ?? 'Hi'}\n`;

/** A templates directory: `{ 'en-US/receipt.hbs': '…' }`. */
function templatesDir(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'eventline-templates-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path.split('/')[0]!), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  dirs.push(dir);
  return dir;
}
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const used = (source: string) => {
  const hb = templateHandlebars();
  const found = variablesOf(hb.parse(source), new Set(Object.keys(hb.helpers)));
  return { variables: [...found.variables].sort(), unknownHelpers: [...found.unknownHelpers] };
};

describe('templates check', () => {
  it('given the shipped templates, then there is no problem, and each file lists what it uses', () => {
    const { files, problems } = checkTemplates();
    assert.deepEqual(problems, []);
    const variables = (file: string) => files.find((f) => f.file === file)?.variables;
    assert.deepEqual(variables('de-DE/payment_failed.hbs'), ['amount_due', 'currency', 'first_name', 'hosted_invoice_url']);
    assert.deepEqual(variables('en-US/digest.hbs'), ['first_name', 'items', 'items.length', 'items[].subject']);
    assert.deepEqual(variables('en-US/contact_confirmation.hbs'), ['confirm_url', 'first_name']);
  });

  it('given a template that does not compile, then the problem names the file, the line and Handlebars\' message', () => {
    const dir = templatesDir({
      'en-US/receipt.hbs': sections({ subject: 'Paid {{money amount_due currency}}', html: '<p>Paid</p>\n{{#if recovered}}<p>Thanks</p>' }),
    });
    const { files, problems } = checkTemplates(dir);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^en-US\/receipt\.hbs:7: html: Parse error on line 2: .*Expecting .*got 'EOF'$/);
    assert.deepEqual(files.map((f) => [f.file, f.variables]), [['en-US/receipt.hbs', []]]);
  });

  it('given a variable the template does not declare (a typo), then it is named with the file', () => {
    const dir = templatesDir({
      'en-US/payment_failed.hbs': sections({ text: 'You owe {{money amount_du currency}}. {{#each items}}{{subject}}{{/each}}', sms: '{{first_name}}: {{hosted_invoice_url}}' }),
    });
    assert.deepEqual(checkTemplates(dir).problems, [
      'en-US/payment_failed.hbs: amount_du is not in the data of payment_failed (notify/template-data.ts)',
      'en-US/payment_failed.hbs: items is not in the data of payment_failed (notify/template-data.ts)',
      'en-US/payment_failed.hbs: items[].subject is not in the data of payment_failed (notify/template-data.ts)',
    ]);
  });

  it('given a template without data or category, a locale file without an en-US one, an unknown helper and an unsafe link, then each is named', () => {
    const dir = templatesDir({
      'en-US/newsletter.hbs': sections({ text: '{{headline}}' }),
      'en-US/receipt.hbs': sections({ text: '{{shout amount_due}}', html: '<a href="{{invoice}}">x</a>' }),
      'fr-FR/orphan.hbs': sections({}),
    });
    assert.deepEqual(checkTemplates(dir).problems, [
      'en-US/newsletter.hbs: newsletter declares no data (notify/template-data.ts)',
      'en-US/newsletter.hbs: newsletter declares no category (notify/template-categories.ts)',
      'en-US/receipt.hbs:6: html: href="{{invoice}}": a URL attribute holds one link field named *_url, or starts with https://',
      'en-US/receipt.hbs: shout: no such helper (helpers: money, date and Handlebars\' own)',
      'en-US/receipt.hbs: invoice is not in the data of receipt (notify/template-data.ts)',
      'fr-FR/orphan.hbs: no en-US/orphan.hbs, which every locale falls back to',
    ]);
  });

  it('given a file without its sections, then that is the problem', () => {
    const dir = templatesDir({ 'en-US/receipt.hbs': '--- subject\nHi\n--- text\nHi\n' });
    assert.deepEqual(checkTemplates(dir).problems, ['en-US/receipt.hbs: missing section html']);
  });
});

describe('the variables a template uses', () => {
  it('given helper arguments, conditions and sub-expressions, then their paths; not the helpers, literals or @data', () => {
    assert.deepEqual(used('{{money amount_due currency}} {{#if trial_end}}{{date trial_end}}{{else}}{{plan}}{{/if}} {{#unless x}}{{/unless}} {{money (lookup prices 0) "usd"}} {{@index}}'), {
      variables: ['amount_due', 'currency', 'plan', 'prices', 'trial_end', 'x'],
      unknownHelpers: [],
    });
  });

  it('given each and with, block params, ../ and @root, then paths from the data\'s root', () => {
    assert.deepEqual(used('{{#each factors as |f|}}{{f.name}} {{weight}} {{this}} {{../score}} {{@root.action}}{{/each}}{{#with customer}}{{name}}{{/with}}{{items.length}}').variables, [
      'action',
      'customer',
      'customer.name',
      'factors',
      'factors[]',
      'factors[].name',
      'factors[].weight',
      'items.length',
      'score',
    ]);
  });

  it('given a helper that is not registered or a partial, then it is reported', () => {
    assert.deepEqual(used('{{shout name}} {{> footer}}').unknownHelpers, ['shout', '> (partials are not registered)']);
  });
});
