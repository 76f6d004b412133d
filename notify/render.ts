/**
 * Notification templates: notify/templates/<locale>/<template>.hbs, each with `--- subject`,
 * `--- text`, `--- html` and `--- sms` sections, rendered with Handlebars (HTML escaped in the
 * html part only). Locales fall back exact → language → en-US. Pure apart from loading the files
 * once. The API checks template names with it; the dispatch processor renders the messages.
 *
 * Links: request data is untrusted, so a link field (`*_url`, notify/links.ts) that is not an
 * https URL renders as absent, and a template may put into an `href` or `src` only a link field
 * or text after a literal `https://` — checked when the templates load. Links Eventline makes
 * itself (unsubscribe, contact confirmation) come in through `options`, not the data.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { LINK_FIELD, withSafeLinks } from './links.ts';

export const DEFAULT_LOCALE = 'en-US';
/** The shipped templates: templates/<locale>/<template>.hbs next to this module. */
export const TEMPLATES_DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'templates');
export const SECTIONS = ['subject', 'text', 'html', 'sms'] as const;
/** Per locale, the line every SMS ends with (absent: none). */
const SMS_FOOTER_FILE = 'sms-footer.txt';
export type Section = (typeof SECTIONS)[number];
/** How each section compiles: HTML escaped in the html part only; a missing field renders empty. */
export const compileOptions = (section: Section) => ({ noEscape: section !== 'html', strict: false }) as const;

export interface Rendered {
  readonly locale: string;
  /** The version rendered: 0 for the shipped file, else a published one. */
  readonly version: number;
  /** The variant rendered, when the version has variants. */
  readonly variant: string | null;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly sms: string;
  /**
   * The line every SMS in this locale ends with, when the locale has one (`<locale>/sms-footer.txt`:
   * how to stop, as carriers and the CTIA ask), kept apart so the body is shortened, not the line.
   */
  readonly smsFooter: string | null;
}

const zeroDecimal = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

// Building an Intl formatter costs far more than formatting with it (a dunning reminder renders
// amounts and dates in every channel): one per locale and currency or time zone, kept.
const moneyFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();

function formatter<F>(cache: Map<string, F>, key: string, build: () => F): F {
  let f = cache.get(key);
  if (f === undefined) {
    f = build();
    if (cache.size >= 1000) cache.clear();
    cache.set(key, f);
  }
  return f;
}

export function formatMoney(amount: unknown, currency: unknown, locale: string): string {
  const cur = typeof currency === 'string' && /^[a-z]{3}$/i.test(currency) ? currency.toLowerCase() : 'usd';
  const minor = typeof amount === 'number' ? amount : Number(amount);
  if (!Number.isFinite(minor)) return '';
  const major = zeroDecimal.has(cur) ? minor : minor / 100;
  return formatter(moneyFormats, `${locale}|${cur}`, () => new Intl.NumberFormat(locale, { style: 'currency', currency: cur.toUpperCase() })).format(major);
}

export function formatDate(value: unknown, locale: string, timeZone: string): string {
  const ms = typeof value === 'number' ? (value < 1e12 ? value * 1000 : value) : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) return '';
  return formatter(dateFormats, `${locale}|${timeZone}`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone })).format(new Date(ms));
}

export interface SectionSource {
  /** The section's template, trimmed. */
  readonly source: string;
  /** The line of the file its first character is on, for messages. */
  readonly line: number;
}

/** The `--- subject`, `--- text`, `--- html` and `--- sms` sections of a template file; throws naming `file` when one is missing or unknown. */
export function parseSections(source: string, file: string): Record<Section, SectionSource> {
  const out: Partial<Record<Section, SectionSource>> = {};
  const headers = [...source.matchAll(/^--- (\w+)[^\S\n]*$/gm)];
  headers.forEach((h, i) => {
    const name = h[1] as Section;
    if (!SECTIONS.includes(name)) throw new Error(`${file}: unknown section ${name}`);
    const raw = source.slice(h.index + h[0].length, headers[i + 1]?.index ?? source.length);
    const start = h.index + h[0].length + (raw.length - raw.trimStart().length);
    out[name] = { source: raw.trim(), line: source.slice(0, start).split('\n').length };
  });
  for (const s of SECTIONS) if (out[s] === undefined) throw new Error(`${file}: missing section ${s}`);
  return out as Record<Section, SectionSource>;
}

type Compiled = Record<Section, Handlebars.TemplateDelegate>;

/** The Handlebars environment templates compile in: the built-in helpers, `money` and `date`. */
export function templateHandlebars(): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('money', (amount: unknown, currency: unknown, options: Handlebars.HelperOptions) =>
    formatMoney(amount, currency, (options.data.root as { _locale: string })._locale),
  );
  hb.registerHelper('date', (value: unknown, options: Handlebars.HelperOptions) => {
    const root = options.data.root as { _locale: string; _timezone: string };
    return formatDate(value, root._locale, root._timezone);
  });
  return hb;
}

const URL_ATTRIBUTE = /\b(?:href|src|action|formaction|background|poster|srcset)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi;

/**
 * Problems with the URL attributes of a template's html: each must be one escaped link field alone
 * (`href="{{hosted_invoice_url}}"`, sanitized at render) or start with a literal `https://`, and
 * none may use an unescaped `{{{…}}}`.
 */
export function urlAttributeProblems(html: string): string[] {
  const out: string[] = [];
  for (const [attribute, quoted = ''] of html.matchAll(URL_ATTRIBUTE)) {
    const value = quoted.replace(/^["']|["']$/g, '');
    if (!value.includes('{{')) continue;
    if (value.includes('{{{') || value.includes('{{&')) {
      out.push(`${attribute}: no unescaped {{{…}}} in a URL attribute`);
      continue;
    }
    if (/^https:\/\/[^{/]/.test(value)) continue;
    const only = /^\{\{\s*([^}]*?)\s*\}\}$/.exec(value)?.[1];
    const field = only?.split(/[./]/).pop() ?? '';
    if (!only || !/^[A-Za-z0-9_./]+$/.test(only) || !LINK_FIELD.test(field)) out.push(`${attribute}: a URL attribute holds one link field named *_url, or starts with https://`);
  }
  return out;
}

export class Templates {
  private readonly compiled = new Map<string, Compiled>();
  /** Published versions by `<locale>/<template>`: each version's sections and its variants' (name → sections). */
  private readonly published = new Map<string, Map<number, { readonly base: Compiled; readonly variants: ReadonlyMap<string, Compiled> }>>();
  private readonly hb: typeof Handlebars;
  private readonly layout: Handlebars.TemplateDelegate;
  private readonly smsFooters = new Map<string, string>();

  constructor(dir: string = TEMPLATES_DIR) {
    this.hb = templateHandlebars();
    for (const locale of readdirSync(dir)) {
      const footer = join(dir, locale, SMS_FOOTER_FILE);
      if (existsSync(footer)) this.smsFooters.set(locale, readFileSync(footer, 'utf8').trim());
      for (const file of readdirSync(join(dir, locale)).filter((f) => f.endsWith('.hbs'))) {
        const sections = parseSections(readFileSync(join(dir, locale, file), 'utf8'), `${locale}/${file}`);
        const unsafe = urlAttributeProblems(sections.html.source);
        if (unsafe.length > 0) throw new Error(`${locale}/${file}: ${unsafe.join('; ')}`);
        const compiled = Object.fromEntries(
          SECTIONS.map((s) => [s, this.hb.compile(sections[s].source, compileOptions(s))]),
        ) as Compiled;
        this.compiled.set(`${locale}/${file.replace(/\.hbs$/, '')}`, compiled);
      }
    }
    this.layout = this.hb.compile(
      `<!doctype html><html lang="{{lang}}"><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="margin:0;padding:24px;background:#f5f6f8;font-family:-apple-system,Segoe UI,sans-serif;color:#1f2933">
<div style="max-width:560px;margin:0 auto;background:#fff;border-radius:8px;padding:24px;line-height:1.5">{{{content}}}</div>
<p style="max-width:560px;margin:12px auto;font-size:12px;color:#7b8794">{{#if unsubscribe_url}}<a href="{{unsubscribe_url}}">Unsubscribe</a> from these emails.{{else}}You receive this because it concerns your account's security or payments.{{/if}}</p>
</body></html>`,
    );
  }

  /**
   * Compiles a version's sections (throws naming what does not compile or links unsafely). Pure;
   * `install` keeps the result.
   */
  compileSections(sections: Readonly<Record<Section, string>>, what: string): Compiled {
    const unsafe = urlAttributeProblems(sections.html);
    if (unsafe.length > 0) throw new Error(`${what}: ${unsafe.join('; ')}`);
    // Handlebars compiles lazily: parse now, so a syntax error surfaces here and not at send time.
    for (const s of SECTIONS) {
      try {
        this.hb.parse(sections[s]);
      } catch (err) {
        throw new Error(`${what}: ${s}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return Object.fromEntries(SECTIONS.map((s) => [s, this.hb.compile(sections[s], compileOptions(s))])) as Compiled;
  }

  /** Makes a published version renderable (idempotent). */
  install(template: string, locale: string, version: number, sections: Readonly<Record<Section, string>>, variants: readonly { readonly name: string; readonly sections: Readonly<Record<Section, string>> }[] = []): void {
    const key = `${locale}/${template}`;
    const versions = this.published.get(key) ?? new Map();
    if (versions.has(version)) return;
    const what = `${key} version ${version}`;
    versions.set(version, { base: this.compileSections(sections, what), variants: new Map(variants.map((v) => [v.name, this.compileSections(v.sections, `${what} variant ${v.name}`)])) });
    this.published.set(key, versions);
  }

  /** The latest version of a template in the locale it would render in (0: the shipped file). */
  latestVersion(template: string, wantedLocale: string | null): { locale: string; version: number } {
    const locale = this.resolveLocale(template, wantedLocale);
    const versions = this.published.get(`${locale}/${template}`);
    return { locale, version: versions && versions.size > 0 ? Math.max(...versions.keys()) : 0 };
  }

  /** The locales of the shipped templates, sorted. */
  locales(): string[] {
    return [...new Set([...this.compiled.keys()].map((k) => k.split('/')[0] as string))].sort();
  }

  /** Whether `template` ships a file in exactly `locale`. */
  hasFile(template: string, locale: string): boolean {
    return this.compiled.has(`${locale}/${template}`);
  }

  has(template: string): boolean {
    return this.compiled.has(`${DEFAULT_LOCALE}/${template}`);
  }

  templates(): string[] {
    return [...this.compiled.keys()].filter((k) => k.startsWith(`${DEFAULT_LOCALE}/`)).map((k) => k.slice(DEFAULT_LOCALE.length + 1));
  }

  /** The locale used for a template: the exact one, else another of the same language, else en-US. */
  resolveLocale(template: string, wanted: string | null): string {
    if (wanted && this.compiled.has(`${wanted}/${template}`)) return wanted;
    const language = wanted?.split('-')[0]?.toLowerCase();
    if (language) {
      for (const key of this.compiled.keys()) {
        const [locale, name] = key.split('/');
        if (name === template && locale?.split('-')[0]?.toLowerCase() === language) return locale;
      }
    }
    return DEFAULT_LOCALE;
  }

  /**
   * Renders a message. `data` is the request's (untrusted: its link fields that are not https URLs
   * render as absent); `options.links` are links Eventline made itself, e.g. `confirm_url`.
   */
  render(
    template: string,
    wantedLocale: string | null,
    data: Readonly<Record<string, unknown>>,
    options: { timezone: string; unsubscribeUrl: string | null; links?: Readonly<Record<string, string>>; version?: number; variant?: string | null },
  ): Rendered {
    const locale = this.resolveLocale(template, wantedLocale);
    const version = options.version ?? 0;
    const published = version > 0 ? this.published.get(`${locale}/${template}`)?.get(version) : undefined;
    if (version > 0 && !published) throw new Error(`${locale}/${template} version ${version} is not installed`);
    const variant = published && options.variant ? options.variant : null;
    const chosen = published ? (variant ? published.variants.get(variant) : published.base) : this.compiled.get(`${locale}/${template}`);
    if (variant && !chosen) throw new Error(`${locale}/${template} version ${version} has no variant ${variant}`);
    const compiled = chosen;
    if (!compiled) throw new Error(`no template ${template}`);
    const context = { ...withSafeLinks(data), ...options.links, _locale: locale, _timezone: options.timezone, unsubscribe_url: options.unsubscribeUrl };
    const subject = compiled.subject(context).trim();
    const content = compiled.html(context);
    return {
      locale,
      version,
      variant,
      subject,
      text: `${compiled.text(context).trim()}\n${options.unsubscribeUrl ? `\nUnsubscribe: ${options.unsubscribeUrl}\n` : ''}`,
      html: this.layout({ lang: locale, subject, content, unsubscribe_url: options.unsubscribeUrl }),
      sms: compiled.sms(context).trim(),
      smsFooter: this.smsFooters.get(locale) || null,
    };
  }
}

// ---------------------------------------------------------------- SMS segments
const GSM7 = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'.split(''),
);
const GSM7_EXTENDED = new Set('^{}\\[~]|€\f'.split(''));

export interface SmsSize {
  readonly encoding: 'GSM-7' | 'UCS-2';
  readonly units: number;
  readonly segments: number;
}

/** Segments an SMS takes: GSM-7 160 per message or 153 per part; UCS-2 70 or 67. */
export function smsSize(text: string): SmsSize {
  const chars = [...text];
  const gsm = chars.every((c) => GSM7.has(c) || GSM7_EXTENDED.has(c));
  if (gsm) {
    const units = chars.reduce((n, c) => n + (GSM7_EXTENDED.has(c) ? 2 : 1), 0);
    return { encoding: 'GSM-7', units, segments: units <= 160 ? 1 : Math.ceil(units / 153) };
  }
  const units = text.length; // UTF-16 code units
  return { encoding: 'UCS-2', units, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/**
 * Shortens an SMS to fit `maxSegments`, ending with "..." when cut (the longest prefix that fits).
 * With a footer (the locale's STOP line), the message is the body, a line break and the footer,
 * and only the body is shortened: the footer is always there whole.
 */
export function fitSms(text: string, maxSegments: number, footer: string | null = null): string {
  const withFooter = (body: string) => (footer ? `${body}\n${footer}` : body);
  if (smsSize(withFooter(text)).segments <= maxSegments) return withFooter(text);
  const chars = [...text];
  const cut = (n: number) => withFooter(`${chars.slice(0, n).join('').trimEnd()}...`);
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (smsSize(cut(mid)).segments <= maxSegments) lo = mid;
    else hi = mid - 1;
  }
  return cut(lo);
}
