/**
 * The domain-event rules file (EVENTLINE_RULES, JSON or YAML): which domain events on
 * domain.events.v1 become which notification requests. Parsed and validated once, at start, into
 * frozen rules; every problem is listed so one edit fixes them all. Pure: what templates, categories
 * and event types exist comes in as a catalogue.
 *
 *   rules:
 *     - name: security-alert          # unique; with the event id, the notification's source
 *       event: SecurityAlertRaised     # a bare name means eventline.domain.<name>
 *       template: security_alert
 *       category: security             # optional: the template's first category
 *       priority: HIGH                 # CRITICAL, HIGH, NORMAL (default) or LOW
 *       channel: email                 # optional: email, sms, push or in_app; absent lets preferences decide
 *       recipient: user_id             # the field of the event's data holding the user id (a.b for nested)
 *       data: { alert: alert }         # template field → event data field; or "all" (default)
 *       external: false                # true: a type another service registered, not in schemas/domain.events.v1
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { EventlineError } from '../lib/errors.ts';
import { domainTypeName, recordFullName, recordSchemas, topicSpecs, type RecordName } from '../lib/topics.ts';
import { Templates } from './render.ts';
import { categoryFor, type CategoryCheck } from './template-categories.ts';
import { priorities, type Priority } from './request.ts';

export const CHANNELS = ['email', 'sms', 'push', 'in_app'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface Rule {
  readonly name: string;
  /** The event type's record full name, e.g. eventline.domain.SecurityAlertRaised. */
  readonly event: string;
  readonly template: string;
  /** Checked against the template (notify/template-categories.ts), filled in when the file names none. */
  readonly category: string;
  readonly priority: Priority;
  readonly channel: Channel | null;
  /** Path in the event's data of the user to notify. */
  readonly recipient: string;
  /** `all`: the event's data as it is; else template field → path in the event's data. */
  readonly data: 'all' | Readonly<Record<string, string>>;
}

/** What the rules are checked against. */
export interface RulesCatalogue {
  /** The domain event types Eventline declares (schemas/domain.events.v1), full name → fields of their data. */
  readonly eventTypes: ReadonlyMap<string, readonly string[]>;
  hasTemplate(template: string): boolean;
  categoryFor(template: string, requested: string | null): CategoryCheck;
}

export type Validated = { readonly ok: true; readonly rules: readonly Rule[] } | { readonly ok: false; readonly problems: readonly string[] };

const fieldPath = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'a field of the event data, e.g. user_id or account.owner_id');

const ruleInput = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'lowercase letters, digits and _.- (at most 64), e.g. security-alert'),
  event: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'an Avro record name, e.g. SecurityAlertRaised or com.acme.OrderShipped'),
  external: z.boolean().default(false),
  template: z.string().min(1),
  category: z.string().min(1).optional(),
  priority: z.enum(priorities, { error: `expected one of ${priorities.join(', ')}` }).default('NORMAL'),
  channel: z.enum(CHANNELS, { error: `expected one of ${CHANNELS.join(', ')}, or none` }).nullish(),
  recipient: fieldPath,
  data: z.union([z.literal('all'), z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a template field name'), fieldPath)], { error: 'expected "all" or an object of template field → event data field' }).default('all'),
});

/** The document in a rules file's text: JSON for .json, YAML for .yaml and .yml. */
export function parseRulesText(text: string, file: string): { readonly ok: true; readonly doc: unknown } | { readonly ok: false; readonly problem: string } {
  const format = /\.json$/i.test(file) ? 'json' : /\.ya?ml$/i.test(file) ? 'yaml' : null;
  if (format === null) return { ok: false, problem: `${file}: a rules file is .json, .yaml or .yml` };
  try {
    return { ok: true, doc: format === 'json' ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown) };
  } catch (err) {
    return { ok: false, problem: `${file}: not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** The rules of a parsed rules file, or every problem with it ("rules[0] (name).field: …" each). */
export function validateRules(doc: unknown, catalogue: RulesCatalogue): Validated {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || !Array.isArray((doc as { rules?: unknown }).rules)) {
    return { ok: false, problems: ['(file): expected an object {"rules": [...]}'] };
  }
  const problems: string[] = Object.keys(doc)
    .filter((k) => k !== 'rules')
    .map((k) => `${k}: not a field of a rules file (only "rules")`);
  const rules: Rule[] = [];
  const names = new Set<string>();
  (doc as { rules: unknown[] }).rules.forEach((input, i) => {
    const raw: Readonly<Record<string, unknown>> = input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
    const at = `rules[${i}]${typeof raw.name === 'string' ? ` (${raw.name})` : ''}`;
    const parsed = ruleInput.safeParse(input);
    const ruleProblems = parsed.success
      ? []
      : parsed.error.issues.map((issue) => `${issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue.message}${issue.code === 'unrecognized_keys' ? `: ${issue.keys.join(', ')}` : ''}`);
    // What refers to something else is checked on whatever fields are well-formed, so one pass lists every problem.
    const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    const name = text(raw.name);
    if (name !== null && names.has(name)) ruleProblems.push(`.name: ${name} is used by an earlier rule; names must be unique (they make notification ids)`);
    if (name !== null) names.add(name);
    const event = text(raw.event) === null ? null : domainTypeName(raw.event as string);
    const fields = event === null ? undefined : catalogue.eventTypes.get(event);
    if (event !== null && raw.external !== true && !fields) ruleProblems.push(`.event: ${event} is not in schemas/domain.events.v1; a type another service registered needs "external": true`);
    if (fields) {
      const mapping = raw.data !== null && typeof raw.data === 'object' ? Object.entries(raw.data).map(([k, path]) => [`.data.${k}`, path] as const) : [];
      for (const [where, path] of [['.recipient', raw.recipient] as const, ...mapping]) {
        const top = text(path)?.split('.')[0];
        if (top !== undefined && !fields.includes(top)) ruleProblems.push(`${where}: ${event} has no data field ${top} (its fields: ${fields.join(', ')})`);
      }
    }
    const template = text(raw.template);
    let category: string | null = null;
    if (template !== null && !catalogue.hasTemplate(template)) ruleProblems.push(`.template: ${template} is not a template (notify/templates/en-US)`);
    else if (template !== null) {
      const check = catalogue.categoryFor(template, text(raw.category));
      if (check.ok) category = check.category;
      else ruleProblems.push(`.${check.problem}`);
    }
    problems.push(...ruleProblems.map((p) => `${at}${p}`));
    if (parsed.success && ruleProblems.length === 0 && event !== null && category !== null) {
      const r = parsed.data;
      const data = r.data === 'all' ? 'all' : Object.freeze({ ...r.data });
      rules.push(Object.freeze({ name: r.name, event, template: r.template, category, priority: r.priority, channel: r.channel ?? null, recipient: r.recipient, data }));
    }
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rules: Object.freeze(rules) };
}

/** The event types of schemas/domain.events.v1 with the fields of their data, the shipped templates and their categories. */
export function shippedCatalogue(templates: Templates = new Templates()): RulesCatalogue {
  const eventTypes = new Map<string, readonly string[]>();
  for (const record of topicSpecs['domain.events.v1'].records as readonly RecordName[]) {
    const schema = recordSchemas[record].schema as { fields: readonly { name: string; type: unknown }[] };
    const data = schema.fields.find((f) => f.name === 'data')?.type as { fields?: readonly { name: string }[] } | undefined;
    eventTypes.set(recordFullName(record), (data?.fields ?? []).map((f) => f.name));
  }
  return { eventTypes, hasTemplate: (t) => templates.has(t), categoryFor: (t, c) => categoryFor(t, c, 'api') };
}

/** Reads and validates a rules file; refuses (config_invalid, every problem listed) a file that is missing, malformed or wrong. */
export function loadRules(path: string, catalogue: RulesCatalogue = shippedCatalogue()): readonly Rule[] {
  const refuse = (problems: readonly string[]) =>
    new EventlineError('config_invalid', `invalid rules file ${path} (EVENTLINE_RULES): ${problems.join('; ')}`, { detail: problems });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw refuse([`cannot read it: ${(err as Error).message}`]);
  }
  const parsed = parseRulesText(text, path);
  if (!parsed.ok) throw refuse([parsed.problem]);
  const validated = validateRules(parsed.doc, catalogue);
  if (!validated.ok) throw refuse(validated.problems);
  return validated.rules;
}
