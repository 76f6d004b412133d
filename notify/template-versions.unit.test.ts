import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { publishInput } from '../cli/commands/templates-publish.ts';
import { chooseTemplate } from '../processors/dispatch/decide.ts';
import { Templates } from './render.ts';
import { publishProblems, shippedLocales } from './template-versions.ts';

const sections = (subject: string) => ({ subject, text: 'Hi {{first_name}}, {{money amount_due currency}}.', html: '<p>{{money amount_due currency}}</p>', sms: 'Paid {{money amount_due currency}}' });
const data = { amount_due: 4900, currency: 'usd' };
const options = { timezone: 'UTC', unsubscribeUrl: null };

describe('template versions', () => {
  it('given an installed version with variants, then each renders its own sections, version 0 stays the file, and an unknown one is refused', () => {
    const t = new Templates();
    const shipped = t.render('receipt', 'en-US', data, options);
    assert.equal(shipped.version, 0);
    t.install('receipt', 'en-US', 1, sections('Receipt v1: {{money amount_due currency}}'), [
      { name: 'control', sections: sections('Receipt v1: {{money amount_due currency}}') },
      { name: 'short', sections: sections('Paid {{money amount_due currency}} ✓') },
    ]);
    assert.deepEqual(t.latestVersion('receipt', 'en-GB'), { locale: 'en-US', version: 1 });
    assert.deepEqual(t.latestVersion('receipt', 'de-DE'), { locale: 'en-US', version: 1 }, 'a locale without its own file falls back, to the en-US version');
    assert.deepEqual(t.latestVersion('payment_failed', 'de-DE'), { locale: 'de-DE', version: 0 }, 'another template keeps its file');
    const v1 = t.render('receipt', 'en-US', data, { ...options, version: 1 });
    assert.deepEqual([v1.version, v1.variant, v1.subject], [1, null, 'Receipt v1: $49.00']);
    const short = t.render('receipt', 'en-US', data, { ...options, version: 1, variant: 'short' });
    assert.deepEqual([short.variant, short.subject], ['short', 'Paid $49.00 ✓']);
    assert.equal(t.render('receipt', 'en-US', data, options).subject, shipped.subject, 'without a version: the file');
    assert.throws(() => t.render('receipt', 'en-US', data, { ...options, version: 2 }), /version 2 is not installed/);
    assert.throws(() => t.render('receipt', 'en-US', data, { ...options, version: 1, variant: 'long' }), /has no variant long/);
  });

  it('given a version that does not compile, links unsafely, or an experiment declared wrong, then each problem is named', () => {
    const t = new Templates();
    const locales = shippedLocales(t);
    const base = { template: 'receipt', locale: 'en-US', experiment: null, variants: [], publishedBy: 'test' };
    assert.deepEqual(publishProblems({ ...base, sections: sections('ok') }, t, locales), []);
    assert.match(publishProblems({ ...base, sections: sections('{{#if x}}unclosed') }, t, locales).join(), /receipt: subject: Parse error/);
    assert.match(publishProblems({ ...base, sections: { ...sections('ok'), html: '<a href="{{note}}">x</a>' } }, t, locales).join(), /href/);
    assert.deepEqual(publishProblems({ ...base, template: 'nope', locale: 'xx-XX', sections: sections('ok') }, t, locales), ['no template nope ships with this release (a version replaces a shipped template)', `locale xx-XX: expected one of ${locales.join(', ')}`]);
    const problems = publishProblems({ ...base, sections: sections('ok'), variants: [{ name: 'b', weight: 1, sections: sections('b') }, { name: 'b', weight: -1, sections: sections('b') }] }, t, locales);
    assert.ok(problems.some((p) => p.startsWith('experiment:')), problems.join('\n'));
    assert.ok(problems.includes('variants: the first, the control, must be named control'), problems.join('\n'));
  });

  it('given the publish command\'s arguments, then a file with a variable the template does not declare, or a syntax error, is refused before anything is appended', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventline-versions-'));
    const good = join(dir, 'good.hbs');
    writeFileSync(good, '--- subject\nReceipt {{money amount_due currency}}\n--- text\nThanks.\n--- html\n<p>Thanks.</p>\n--- sms\nPaid {{money amount_due currency}}\n');
    const undeclared = join(dir, 'undeclared.hbs');
    writeFileSync(undeclared, '--- subject\nReceipt {{coupon_code}}\n--- text\nx\n--- html\n<p>x</p>\n--- sms\nx\n');
    const broken = join(dir, 'broken.hbs');
    writeFileSync(broken, '--- subject\n{{#if amount_due}}open\n--- text\nx\n--- html\n<p>x</p>\n--- sms\nx\n');
    const ok = publishInput('receipt', { file: good, by: 'ana' });
    assert.ok(ok.ok, JSON.stringify(ok));
    assert.deepEqual([ok.input.locale, ok.input.publishedBy, ok.input.sections.subject], ['en-US', 'ana', 'Receipt {{money amount_due currency}}']);
    const bad = publishInput('receipt', { file: undeclared });
    assert.ok(!bad.ok);
    assert.match(bad.problems.join('\n'), /coupon_code/);
    const syntax = publishInput('receipt', { file: broken });
    assert.ok(!syntax.ok);
    assert.match(syntax.problems.join('\n'), /subject/);
    const experiment = publishInput('receipt', { experiment: 'receipt-2026', variant: [`control=1:${good}`, `short=1:${good}`] });
    assert.ok(experiment.ok, JSON.stringify(experiment));
    assert.deepEqual(experiment.input.variants.map((v) => [v.name, v.weight]), [['control', 1], ['short', 1]]);
    assert.deepEqual(publishInput('receipt', { variant: ['control'] }).ok ? [] : (publishInput('receipt', { variant: ['control'] }) as { problems: string[] }).problems, ['--variant control: expected <name>=<weight>:<file>, e.g. short=50:receipt-short.hbs']);
  });

  it('given a version with an experiment, then the choice is its version and the user\'s stable variant; without one, the version alone', () => {
    assert.deepEqual(chooseTemplate(null, 'u1'), { version: 0, experiment: null, variant: null });
    assert.deepEqual(chooseTemplate({ version: 3, experiment: null, variants: [] }, 'u1'), { version: 3, experiment: null, variant: null });
    const info = { version: 4, experiment: 'exp-1', variants: [{ name: 'control', weight: 1 }, { name: 'short', weight: 1 }] };
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const c = chooseTemplate(info, `user_${i}`);
      assert.deepEqual(c, chooseTemplate(info, `user_${i}`), 'stable');
      assert.equal(c.version, 4);
      seen.add(c.variant ?? '');
    }
    assert.deepEqual([...seen].sort(), ['control', 'short']);
  });
});
