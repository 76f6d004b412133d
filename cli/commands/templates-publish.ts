/**
 * eventline templates publish <id> [--locale <l>] [--file <f.hbs>] [--experiment <id> --variant <name=weight:file> …] [--by <who>]
 *
 * Publishes the next version of a template in one locale: the file given (default: the shipped
 * one, e.g. after editing it), or an experiment whose variants each have their own file (the
 * first is the control). Checked first like `templates check` (syntax, the variables against the
 * template's declared data, unsafe links) and refused with each problem (exit 1) before anything
 * is appended; then appended to notify.templates.v1 and stored for the dispatchers, which use it
 * for new notifications within EVENTLINE_TEMPLATE_REFRESH_MS (5 s), without a restart.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOCALE, TEMPLATES_DIR, Templates, checkTemplates, publishProblems, publishTemplate, shippedLocales, type PublishInput, type Sections } from '../../notify/index.ts';
import { SECTIONS, parseSections } from '../../notify/render.ts';

export interface PublishOptions {
  readonly locale?: string;
  readonly file?: string;
  readonly experiment?: string;
  readonly variant?: readonly string[];
  readonly by?: string;
}

/** A template file's sections, or why it cannot be read. */
function sectionsOf(path: string): Sections {
  const parsed = parseSections(readFileSync(path, 'utf8'), path);
  return Object.fromEntries(SECTIONS.map((s) => [s, parsed[s].source])) as Sections;
}

/** `templates check`'s problems for this source as `<locale>/<id>.hbs` among the shipped templates. */
function checkProblems(id: string, locale: string, source: string, label: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'eventline-publish-'));
  try {
    cpSync(TEMPLATES_DIR, dir, { recursive: true });
    writeFileSync(join(dir, locale, `${id}.hbs`), source);
    const file = `${locale}/${id}.hbs`;
    return checkTemplates(dir)
      .problems.filter((p) => p.startsWith(file))
      .map((p) => `${label}: ${p.slice(file.length).replace(/^:\s*/, '')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Who runs the command, when --by does not say: the operating-system user. */
function operator(): string {
  try {
    return userInfo().username || 'eventline';
  } catch {
    return 'eventline';
  }
}

const render = (s: Sections) => SECTIONS.map((name) => `--- ${name}\n${s[name]}\n`).join('');

/** The version to publish from the command's arguments, or each problem with them (files read, nothing appended). */
export function publishInput(id: string, options: PublishOptions, templates: Templates = new Templates()): { ok: true; input: PublishInput } | { ok: false; problems: string[] } {
  const locale = options.locale ?? DEFAULT_LOCALE;
  const problems: string[] = [];
  const variantArgs = options.variant ?? [];
  if (variantArgs.length > 0 && options.file) problems.push('--file and --variant: give the control as the first --variant instead');
  const read = (path: string, label: string): Sections | null => {
    if (!existsSync(path)) {
      problems.push(`${label}: no file ${path}`);
      return null;
    }
    try {
      return sectionsOf(path);
    } catch (err) {
      problems.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  };
  const variants: (PublishInput['variants'][number])[] = [];
  for (const arg of variantArgs) {
    const m = /^([^=]+)=([^:]+):(.+)$/.exec(arg);
    if (!m) {
      problems.push(`--variant ${arg}: expected <name>=<weight>:<file>, e.g. short=50:receipt-short.hbs`);
      continue;
    }
    const sections = read(m[3] as string, `variant ${m[1]}`);
    if (sections) variants.push({ name: m[1] as string, weight: Number(m[2]), sections });
  }
  const file = options.file ?? join(TEMPLATES_DIR, locale, `${id}.hbs`);
  const sections = variants[0]?.sections ?? (variantArgs.length > 0 ? null : read(file, 'file'));
  if (problems.length > 0 || !sections) return { ok: false, problems };
  const input: PublishInput = { template: id, locale, sections, experiment: options.experiment ?? null, variants, publishedBy: options.by ?? operator() };
  problems.push(...publishProblems(input, templates, shippedLocales(templates)));
  if (templates.has(id) && shippedLocales(templates).includes(locale)) {
    if (variants.length === 0) problems.push(...checkProblems(id, locale, render(sections), 'file'));
    for (const v of variants) problems.push(...checkProblems(id, locale, render(v.sections), `variant ${v.name}`));
  }
  return problems.length > 0 ? { ok: false, problems: [...new Set(problems)] } : { ok: true, input };
}

export { publishTemplate, shippedLocales };
