/**
 * eventline templates — the notification templates (notify/templates/<locale>/<template>.hbs):
 *   list                      each template: its categories, locales and the variables it uses
 *   check [--dir <path>]      compiles every template and locale and checks its variables against
 *                             the template's declared data (exit 1 with each problem on stderr)
 *   preview <id> [--locale <l>] [--data <file.json>]
 *                             renders subject, text, HTML and SMS from the sample data or the file
 *                             (checked against the template's data first), with the SMS size
 *
 * Files and code only: these commands open no runtime (no Kafka, Postgres or Redis), so they run
 * in CI and on a laptop without the stack.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { errorMessage } from '../../lib/errors.ts';
import {
  CONTACT_CONFIRMATION_TEMPLATE,
  RENDER_VARIABLES,
  TEMPLATES_DIR,
  Templates,
  categoryFor,
  checkTemplates,
  dataProblems,
  fitSms,
  smsSize,
  templateCategories,
  templateData,
} from '../../notify/index.ts';
import { line, tableLines } from '../output.ts';
import { withRuntime } from '../runtime.ts';
import { publishInput, publishTemplate, shippedLocales, type PublishOptions } from './templates-publish.ts';

/** What a command prints and its exit code, kept apart from the terminal so it can be tested. */
export interface CommandResult {
  readonly code: 0 | 1;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
}

const refused = (...stderr: string[]): CommandResult => ({ code: 1, stdout: [], stderr });

export function listTemplates(dir: string = TEMPLATES_DIR): CommandResult {
  const { files, problems } = checkTemplates(dir);
  const names = [...new Set(files.map((f) => f.template))].sort();
  const rows = names.map((name) => {
    const own = files.filter((f) => f.template === name);
    const variables = [...new Set(own.flatMap((f) => f.variables))].filter((v) => !RENDER_VARIABLES.includes(v)).sort();
    return [name, templateCategories[name]?.categories.join(',') ?? '-', own.map((f) => f.locale).join(','), variables.join(' ') || '-'];
  });
  return {
    code: 0,
    stdout: tableLines([['template', 'categories', 'locales', 'variables (besides those Eventline adds)'], ...rows]),
    stderr: problems.length > 0 ? [`${problems.length} problem${problems.length === 1 ? '' : 's'}: see eventline templates check`] : [],
  };
}

export function checkCommand(dir: string = TEMPLATES_DIR): CommandResult {
  if (!existsSync(dir)) return refused(`no directory ${dir}`);
  const { files, problems } = checkTemplates(dir);
  if (problems.length > 0) return refused(...problems, `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${dir}`);
  const templates = new Set(files.map((f) => f.template)).size;
  const locales = new Set(files.map((f) => f.locale)).size;
  return { code: 0, stdout: [`${templates} templates, ${files.length} files in ${locales} locales: every one compiles and uses only its declared data`], stderr: [] };
}

function readData(file: string): { data: Record<string, unknown> } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problem: `cannot read ${file}: ${errorMessage(err)}` };
  }
  try {
    const data: unknown = JSON.parse(text);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) return { problem: `${file}: the data is a JSON object, like the request's "data"` };
    return { data: data as Record<string, unknown> };
  } catch (err) {
    return { problem: `${file}: not JSON: ${errorMessage(err)}` };
  }
}

const PREVIEW_LINK = 'https://eventline.example/preview';

export function previewTemplate(id: string, options: { locale?: string; data?: string }, templates: Templates = new Templates()): CommandResult {
  if (!templates.has(id)) return refused(`no template ${id}; templates: ${templates.templates().sort().join(', ')}`);
  let data = templateData[id]?.sample ?? {};
  if (options.data) {
    const read = readData(options.data);
    if ('problem' in read) return refused(read.problem);
    const problems = dataProblems(id, read.data);
    if (problems.length > 0) return refused(...problems.map((p) => `${options.data}: ${p}`));
    data = read.data;
  }
  const category = categoryFor(id, null);
  const essential = category.ok && category.essential;
  // What the dispatcher adds (processors/dispatch/main.ts), with stand-ins for the signed links.
  const rendered = templates.render(id, options.locale ?? null, { ...data, user_id: 'user_preview', first_name: 'Ada' }, {
    timezone: 'UTC',
    unsubscribeUrl: essential ? null : `${PREVIEW_LINK}/unsubscribe`,
    links: id === CONTACT_CONFIRMATION_TEMPLATE ? { confirm_url: `${PREVIEW_LINK}/confirm` } : {},
  });
  const sms = fitSms(rendered.sms, Number.POSITIVE_INFINITY, rendered.smsFooter);
  const size = smsSize(sms);
  const asked = options.locale && options.locale !== rendered.locale ? ` (for ${options.locale})` : '';
  return {
    code: 0,
    stdout: [
      `template ${id}, locale ${rendered.locale}${asked}, ${options.data ? `data from ${options.data}` : 'sample data'}`,
      '--- subject',
      rendered.subject,
      '--- text',
      rendered.text.trimEnd(),
      '--- html',
      rendered.html,
      '--- sms',
      sms,
      '---',
      `sms: ${size.segments} segment${size.segments === 1 ? '' : 's'}, ${size.encoding}, ${size.units} ${size.encoding === 'GSM-7' ? 'characters' : 'UTF-16 units'}`,
    ],
    stderr: [],
  };
}

function print(result: CommandResult): void {
  for (const l of result.stdout) line(l);
  for (const l of result.stderr) process.stderr.write(`${l}\n`);
  process.exitCode = result.code;
}

export function registerTemplatesCommands(program: Command): void {
  const templates = program.command('templates').description('notification templates: list, check, preview (files only: needs no stack)');
  templates
    .command('list')
    .description('each template: the categories it is sent in, its locales and the variables it uses')
    .action(() => print(listTemplates()));
  templates
    .command('check')
    .description('compile every template and locale and check each variable against the template\'s declared data (notify/template-data.ts); exit 1 with each problem on stderr')
    .option('--dir <path>', 'a templates directory, <locale>/<template>.hbs', TEMPLATES_DIR)
    .action((opts: { dir: string }) => print(checkCommand(opts.dir)));
  templates
    .command('preview')
    .description('render subject, text, HTML and SMS from the template\'s sample data, or from a JSON file checked against its declared data; prints the SMS segments and encoding')
    .argument('<id>', 'the template, e.g. payment_failed')
    .option('--locale <locale>', 'e.g. de-DE (falls back to the language, then en-US)')
    .option('--data <file.json>', 'the request\'s "data" as a JSON object')
    .action((id: string, opts: { locale?: string; data?: string }) => print(previewTemplate(id, opts)));
  templates
    .command('publish')
    .description('publish the next version of a template in a locale (the shipped file, or --file, or an experiment\'s --variant files), checked first; running dispatchers use it for new notifications within seconds')
    .argument('<id>', 'the template, e.g. receipt')
    .option('--locale <locale>', 'the locale of the version', 'en-US')
    .option('--file <file.hbs>', 'the version (sections --- subject, --- text, --- html, --- sms); default: the shipped file')
    .option('--experiment <id>', 'an experiment id, with two or more --variant')
    .option('--variant <name=weight:file>', 'an arm of the experiment, the control first (repeat)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--by <who>', 'who publishes it (default: the operating-system user)')
    .action(async (id: string, opts: PublishOptions) => {
      const built = publishInput(id, opts);
      if (!built.ok) return print({ code: 1, stdout: [], stderr: built.problems });
      await withRuntime(async (rt) => {
        const templates = new Templates();
        const published = await publishTemplate(rt.db, rt.kafka, built.input, templates, shippedLocales(templates));
        const arms = published.variants.map((v) => `${v.name} ${v.weight}`).join(', ');
        line(`published ${published.template} ${published.locale} version ${published.version}${published.experiment ? ` (experiment ${published.experiment}: ${arms})` : ''}`);
      });
    });
}
