/**
 * Published template versions: `eventline templates publish` appends a TemplatePublished to
 * notify.templates.v1 (the record of what each version said) and keeps it in
 * dispatch.template_versions, where every running dispatcher reads it within seconds
 * (TemplateVersions) and renders new notifications with the latest version of their template and
 * locale; version 0 is the file shipped with the release. A version may carry an experiment:
 * variants with weights, each with its own sections, the first the control.
 */
import type { Db } from '../lib/db.ts';
import { EventlineError } from '../lib/errors.ts';
import type { Kafka } from '../lib/kafka/index.ts';
import type { TemplatePublished } from '../lib/topics.ts';
import { variantProblems, type VariantWeight } from './experiments.ts';
import { DEFAULT_LOCALE, SECTIONS, type Section, type Templates } from './render.ts';

export type Sections = Readonly<Record<Section, string>>;

export interface PublishInput {
  readonly template: string;
  readonly locale: string;
  readonly sections: Sections;
  readonly experiment: string | null;
  /** The experiment's arms, the control first; empty: none. */
  readonly variants: readonly (VariantWeight & { readonly sections: Sections })[];
  readonly publishedBy: string;
}

export const EXPERIMENT_ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** What is wrong with a version before it is published (empty: nothing); compiles every section. */
export function publishProblems(input: PublishInput, templates: Templates, locales: readonly string[]): string[] {
  const problems: string[] = [];
  if (!templates.has(input.template)) problems.push(`no template ${input.template} ships with this release (a version replaces a shipped template)`);
  if (!locales.includes(input.locale)) problems.push(`locale ${input.locale}: expected one of ${locales.join(', ')}`);
  // A locale without its own file renders en-US's (render.ts resolveLocale): its version would never be used.
  else if (templates.has(input.template) && !templates.hasFile(input.template, input.locale)) problems.push(`${input.locale}/${input.template}: no such file ships, so that locale renders ${DEFAULT_LOCALE}; publish the ${DEFAULT_LOCALE} version instead`);
  const compile = (sections: Sections, what: string) => {
    try {
      templates.compileSections(sections, what);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  };
  compile(input.sections, `${input.locale}/${input.template}`);
  if (input.variants.length > 0) {
    if (input.experiment === null || !EXPERIMENT_ID.test(input.experiment)) problems.push('experiment: a version with variants needs an experiment id (lowercase letters, digits, . _ -)');
    problems.push(...variantProblems(input.variants));
    // The analytics compare every arm with the one named control (analytics.template_experiments).
    if (input.variants[0]?.name !== 'control') problems.push('variants: the first, the control, must be named control');
    for (const v of input.variants) compile(v.sections, `${input.locale}/${input.template} variant ${v.name}`);
  } else if (input.experiment !== null) problems.push('experiment: only a version with variants has one');
  return problems;
}

/**
 * Publishes the next version of a template in a locale: appends it (acknowledged by Kafka) and
 * stores it, under a per-template lock, so two publishers never take the same number.
 */
export async function publishTemplate(db: Db, kafka: Kafka, input: PublishInput, templates: Templates, locales: readonly string[], now = Date.now()): Promise<TemplatePublished> {
  const problems = publishProblems(input, templates, locales);
  if (problems.length > 0) throw new EventlineError('unprocessable', `template version refused: ${problems.join('; ')}`, { detail: problems });
  return db.transaction(async (c) => {
    await c.query("SELECT pg_advisory_xact_lock(hashtextextended('template-version:' || $1, 0))", [`${input.template}/${input.locale}`]);
    const { rows } = await c.query<{ version: number | null }>('SELECT max(version) AS version FROM dispatch.template_versions WHERE template = $1 AND locale = $2', [input.template, input.locale]);
    const version = (rows[0]?.version ?? 0) + 1;
    const event: TemplatePublished = {
      event_id: `tpl:${input.template}:${input.locale}:${version}`,
      occurred_at: now,
      received_at: now,
      template: input.template,
      locale: input.locale,
      version,
      ...input.sections,
      experiment: input.variants.length > 0 ? input.experiment : null,
      variants: input.variants.map((v) => ({ name: v.name, weight: v.weight, ...v.sections })),
      published_by: input.publishedBy,
    };
    // Stored first, appended last, committed after the append: a failed append leaves no version, a
    // failed insert appends nothing, so the topic never says two things for one version number.
    await c.query('INSERT INTO dispatch.template_versions (template, locale, version, published, published_at) VALUES ($1, $2, $3, $4, $5)', [
      input.template,
      input.locale,
      version,
      JSON.stringify(event),
      new Date(now),
    ]);
    await (await kafka.appender()).append('notify.templates.v1', [{ key: input.template, record: 'TemplatePublished', value: event }]);
    return event;
  });
}

const sectionsOf = (v: Readonly<Record<Section, string>>): Sections => Object.fromEntries(SECTIONS.map((s) => [s, v[s]])) as Sections;

/** A version's experiment as a decision needs it. */
export interface VersionInfo {
  readonly version: number;
  readonly experiment: string | null;
  readonly variants: readonly VariantWeight[];
}

/**
 * The published versions as a dispatcher holds them: read from Postgres every `refreshMs` (in the
 * background; a failed read keeps what is in hand) and installed into `templates`.
 */
export class TemplateVersions {
  private readonly db: Db;
  private readonly templates: Templates;
  private readonly refreshMs: number;
  private readonly info = new Map<string, VersionInfo>();
  private readonly broken = new Set<string>();
  private readonly onBroken: ((version: string, problem: string) => void) | undefined;
  private readAt = 0;
  private reading: Promise<void> | null = null;

  constructor(db: Db, templates: Templates, options: { refreshMs?: number; onBroken?: (version: string, problem: string) => void } = {}) {
    this.db = db;
    this.templates = templates;
    this.refreshMs = options.refreshMs ?? 5000;
    this.onBroken = options.onBroken;
  }

  /** Reads every published version now and installs those not yet installed. */
  async refresh(): Promise<void> {
    this.readAt = Date.now();
    const { rows } = await this.db.query<{ published: TemplatePublished }>('SELECT published FROM dispatch.template_versions ORDER BY template, locale, version');
    for (const { published: p } of rows) {
      const key = `${p.locale}/${p.template}@${p.version}`;
      if (this.info.has(key) || this.broken.has(key)) continue;
      try {
        this.templates.install(
          p.template,
          p.locale,
          p.version,
          sectionsOf(p),
          p.variants.map((v) => ({ name: v.name, sections: sectionsOf(v) })),
        );
        this.info.set(key, { version: p.version, experiment: p.experiment, variants: p.variants.map((v) => ({ name: v.name, weight: v.weight })) });
      } catch (err) {
        // One stored version this release cannot compile must not hold back the others: skipped, said once.
        this.broken.add(key);
        this.onBroken?.(key, err instanceof Error ? err.message : String(err));
      }
    }
  }

  /** Refreshes in the background when due (never waits for it). */
  private tick(): void {
    if (Date.now() - this.readAt < this.refreshMs || this.reading) return;
    this.reading = this.refresh()
      .catch(() => undefined) // Postgres away: keep the versions in hand
      .finally(() => (this.reading = null));
  }

  /** Whether this instance can render `version` of the template in the locale `locale` resolves to. */
  installed(template: string, locale: string | null, version: number): boolean {
    if (version === 0) return true;
    return this.info.has(`${this.templates.resolveLocale(template, locale)}/${template}@${version}`);
  }

  /** The version a new notification of `template` for a user of `locale` renders with. */
  current(template: string, locale: string | null): VersionInfo {
    this.tick();
    const latest = this.templates.latestVersion(template, locale);
    return latest.version === 0 ? { version: 0, experiment: null, variants: [] } : (this.info.get(`${latest.locale}/${template}@${latest.version}`) ?? { version: 0, experiment: null, variants: [] });
  }
}

/** The locales templates ship in (each a directory of notify/templates), the default first. */
export function shippedLocales(templates: Templates): string[] {
  return [DEFAULT_LOCALE, ...templates.locales().filter((l) => l !== DEFAULT_LOCALE)];
}
