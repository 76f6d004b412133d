/**
 * Checks a templates directory (templates/<locale>/<template>.hbs) before it ships: every section
 * of every template and locale compiles, its URL attributes are safe (notify/render.ts), and each
 * variable it uses is declared in the template's data (notify/template-data.ts) or added by
 * Eventline when it renders; every template has a data schema and a category, and every locale's
 * file has an en-US counterpart. Reads the directory; nothing else.
 *
 * Variables come from the Handlebars syntax tree: paths alone (`{{plan}}`), as helper arguments
 * (`{{money amount_due currency}}`, `{{#if trial_end}}`), and inside `{{#each items}}` (`items[].subject`)
 * or `{{#with}}`, with block params (`as |item|`) and `../`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compileOptions, DEFAULT_LOCALE, parseSections, SECTIONS, templateHandlebars, TEMPLATES_DIR, urlAttributeProblems, type Section } from './render.ts';
import { templateCategories, type TemplateCategories } from './template-categories.ts';
import { declares, RENDER_VARIABLES, templateData, type TemplateData } from './template-data.ts';

/** A variable as a path: `amount_due`, `items.length`, `items[].subject`. */
export type Variable = string;

export interface TemplateFile {
  readonly template: string;
  readonly locale: string;
  /** `<locale>/<template>.hbs`, as problems name it. */
  readonly file: string;
  /** What it uses, sorted; empty when it does not compile. */
  readonly variables: readonly Variable[];
}

export interface CheckResult {
  readonly files: readonly TemplateFile[];
  /** One line each: `<locale>/<template>.hbs[:line]: …`; empty when the directory is fine. */
  readonly problems: readonly string[];
}

const BLOCK_CONTEXT = new Set(['each', 'with']);

interface Scope {
  /** The path of `this`, from the root (`[]` at the top, `['items', '[]']` in `{{#each items}}`). */
  readonly context: readonly string[];
  /** Block params in force: `item` → `['items', '[]']`. */
  readonly params: ReadonlyMap<string, readonly string[]>;
  readonly parent: Scope | null;
}

/** The variables a Handlebars program uses and the helpers it calls that `helpers` lacks. */
export function variablesOf(program: hbs.AST.Program, helpers: ReadonlySet<string>): { variables: Set<Variable>; unknownHelpers: Set<string> } {
  const variables = new Set<Variable>();
  const unknownHelpers = new Set<string>();

  const resolve = (p: hbs.AST.PathExpression, scope: Scope): string[] | null => {
    if (p.data) return p.parts[0] === 'root' ? p.parts.slice(1) : null; // @root.x is x; @index, @key, @first are not data
    let s = scope;
    for (let d = 0; d < p.depth && s.parent; d++) s = s.parent;
    const [head, ...rest] = p.parts;
    const param = head === undefined ? undefined : s.params.get(head);
    return param ? [...param, ...rest] : [...s.context, ...p.parts];
  };
  const use = (p: hbs.AST.PathExpression, scope: Scope) => {
    const path = resolve(p, scope);
    if (path && path.length > 0) variables.add(path.join('.').replace(/\.\[\]/g, '[]'));
  };
  const expression = (e: hbs.AST.Expression, scope: Scope): void => {
    if (e.type === 'PathExpression') use(e as hbs.AST.PathExpression, scope);
    else if (e.type === 'SubExpression') call(e as hbs.AST.SubExpression, scope);
  };
  /** A mustache, block or sub-expression: a helper call when it has arguments (or names a helper), else a variable. */
  const call = (node: { path: hbs.AST.PathExpression | hbs.AST.Literal; params: hbs.AST.Expression[]; hash?: hbs.AST.Hash }, scope: Scope): string | null => {
    const pairs = node.hash?.pairs ?? [];
    if (node.path.type !== 'PathExpression') return null;
    const path = node.path as hbs.AST.PathExpression;
    const name = path.parts.length === 1 && !path.data && path.depth === 0 ? (path.parts[0] ?? '') : null;
    if (node.params.length === 0 && pairs.length === 0 && !(name && helpers.has(name))) {
      use(path, scope);
      return null;
    }
    if (name === null || !helpers.has(name)) unknownHelpers.add(path.original);
    for (const param of node.params) expression(param, scope);
    for (const pair of pairs) expression(pair.value, scope);
    return name;
  };
  const walk = (p: hbs.AST.Program | undefined, scope: Scope): void => {
    for (const node of p?.body ?? []) {
      if (node.type === 'MustacheStatement') call(node as hbs.AST.MustacheStatement, scope);
      else if (node.type === 'BlockStatement') {
        const block = node as hbs.AST.BlockStatement;
        const helper = call(block, scope);
        const first = block.params[0];
        // each and with move `this` to their argument; a section without a helper ({{#items}}) to itself.
        const target = helper === null ? resolve(block.path, scope) : first?.type === 'PathExpression' && BLOCK_CONTEXT.has(helper) ? resolve(first as hbs.AST.PathExpression, scope) : null;
        const inner = target ? [...target, ...(helper === 'each' ? ['[]'] : [])] : null;
        const params = new Map(scope.params);
        const [asItem] = block.program?.blockParams ?? [];
        if (asItem && inner) params.set(asItem, inner);
        walk(block.program, inner ? { context: inner, params, parent: scope } : { ...scope, params });
        walk(block.inverse, scope);
      } else if (node.type === 'PartialStatement' || node.type === 'PartialBlockStatement') unknownHelpers.add('> (partials are not registered)');
    }
  };
  walk(program, { context: [], params: new Map(), parent: null });
  return { variables, unknownHelpers };
}

function readDirs(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .sort();
}

/** `file:line: section: ` and Handlebars' message on one line (its line is within the section; the prefix's, within the file). */
function compileProblem(err: unknown, file: string, section: Section, firstLine: number): string {
  const message = err instanceof Error ? err.message : String(err);
  const at = /on line (\d+)/.exec(message)?.[1] ?? /- (\d+):\d+$/.exec(message)?.[1];
  const line = at ? firstLine + Number(at) - 1 : firstLine;
  const text = message
    .split('\n')
    .filter((l) => !/^-*\^$/.test(l)) // the caret under the snippet, meaningless on one line
    .join(' ');
  return `${file}:${line}: ${section}: ${text}`;
}

/** Compiles and checks every template of `dir`; pure apart from reading it. */
export function checkTemplates(
  dir: string = TEMPLATES_DIR,
  schemas: Readonly<Record<string, TemplateData>> = templateData,
  categories: Readonly<Record<string, TemplateCategories>> = templateCategories,
): CheckResult {
  const hb = templateHandlebars();
  const helpers = new Set(Object.keys(hb.helpers));
  const files: TemplateFile[] = [];
  const problems: string[] = [];
  const locales = readDirs(dir);
  const templatesOf = (locale: string) =>
    readdirSync(join(dir, locale))
      .filter((f) => f.endsWith('.hbs'))
      .map((f) => f.slice(0, -'.hbs'.length))
      .sort();
  const base = new Set(locales.includes(DEFAULT_LOCALE) ? templatesOf(DEFAULT_LOCALE) : []);
  if (!locales.includes(DEFAULT_LOCALE)) problems.push(`${DEFAULT_LOCALE}/: missing (every template has an ${DEFAULT_LOCALE} version, the fallback of every locale)`);
  for (const template of base) {
    if (!schemas[template]) problems.push(`${DEFAULT_LOCALE}/${template}.hbs: ${template} declares no data (notify/template-data.ts)`);
    if (!categories[template]) problems.push(`${DEFAULT_LOCALE}/${template}.hbs: ${template} declares no category (notify/template-categories.ts)`);
  }
  for (const locale of [DEFAULT_LOCALE, ...locales.filter((l) => l !== DEFAULT_LOCALE)].filter((l) => locales.includes(l))) {
    for (const template of templatesOf(locale)) {
      const file = `${locale}/${template}.hbs`;
      if (!base.has(template)) problems.push(`${file}: no ${DEFAULT_LOCALE}/${template}.hbs, which every locale falls back to`);
      let sections: ReturnType<typeof parseSections>;
      try {
        sections = parseSections(readFileSync(join(dir, file), 'utf8'), file);
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
        files.push({ template, locale, file, variables: [] });
        continue;
      }
      for (const p of urlAttributeProblems(sections.html.source)) problems.push(`${file}:${sections.html.line}: html: ${p}`);
      const used = new Set<Variable>();
      const unknown = new Set<string>();
      let compiled = true;
      for (const section of SECTIONS) {
        try {
          const ast = hb.parse(sections[section].source);
          hb.precompile(ast, compileOptions(section));
          const found = variablesOf(ast, helpers);
          for (const v of found.variables) used.add(v);
          for (const h of found.unknownHelpers) unknown.add(h);
        } catch (err) {
          compiled = false;
          problems.push(compileProblem(err, file, section, sections[section].line));
        }
      }
      for (const h of unknown) problems.push(`${file}: ${h}: no such helper (helpers: money, date and Handlebars' own)`);
      const schema = schemas[template]?.schema;
      if (schema) {
        for (const v of used) {
          const path = v.replace(/\[\]/g, '.[]').split('.');
          if (!RENDER_VARIABLES.includes(path[0] ?? '') && !declares(schema, path)) problems.push(`${file}: ${v} is not in the data of ${template} (notify/template-data.ts)`);
        }
      }
      files.push({ template, locale, file, variables: compiled ? [...used].sort() : [] });
    }
  }
  return { files, problems };
}
