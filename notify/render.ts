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
const SECTIONS = ['subject', 'text', 'html', 'sms'] as const;
/** Per locale, the line every SMS ends with (absent: none). */
const SMS_FOOTER_FILE = 'sms-footer.txt';
type Section = (typeof SECTIONS)[number];

export interface Rendered {
  readonly locale: string;
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

export function formatMoney(amount: unknown, currency: unknown, locale: string): string {
  const cur = typeof currency === 'string' && /^[a-z]{3}$/i.test(currency) ? currency.toLowerCase() : 'usd';
  const minor = typeof amount === 'number' ? amount : Number(amount);
  if (!Number.isFinite(minor)) return '';
  const major = zeroDecimal.has(cur) ? minor : minor / 100;
  return new Intl.NumberFormat(locale, { style: 'currency', currency: cur.toUpperCase() }).format(major);
}

export function formatDate(value: unknown, locale: string, timeZone: string): string {
  const ms = typeof value === 'number' ? (value < 1e12 ? value * 1000 : value) : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) return '';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone }).format(new Date(ms));
}

function parseSections(source: string, file: string): Record<Section, string> {
  const out: Partial<Record<Section, string>> = {};
  const parts = source.split(/^--- (\w+)\s*$/m);
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i] as Section;
    if (!SECTIONS.includes(name)) throw new Error(`${file}: unknown section ${name}`);
    out[name] = (parts[i + 1] ?? '').trim();
  }
  for (const s of SECTIONS) if (out[s] === undefined) throw new Error(`${file}: missing section ${s}`);
  return out as Record<Section, string>;
}

type Compiled = Record<Section, Handlebars.TemplateDelegate>;

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
  private readonly hb: typeof Handlebars;
  private readonly layout: Handlebars.TemplateDelegate;
  private readonly smsFooters = new Map<string, string>();

  constructor(dir: string = join(fileURLToPath(new URL('.', import.meta.url)), 'templates')) {
    this.hb = Handlebars.create();
    this.hb.registerHelper('money', (amount: unknown, currency: unknown, options: Handlebars.HelperOptions) =>
      formatMoney(amount, currency, (options.data.root as { _locale: string })._locale),
    );
    this.hb.registerHelper('date', (value: unknown, options: Handlebars.HelperOptions) => {
      const root = options.data.root as { _locale: string; _timezone: string };
      return formatDate(value, root._locale, root._timezone);
    });
    for (const locale of readdirSync(dir)) {
      const footer = join(dir, locale, SMS_FOOTER_FILE);
      if (existsSync(footer)) this.smsFooters.set(locale, readFileSync(footer, 'utf8').trim());
      for (const file of readdirSync(join(dir, locale)).filter((f) => f.endsWith('.hbs'))) {
        const sections = parseSections(readFileSync(join(dir, locale, file), 'utf8'), `${locale}/${file}`);
        const unsafe = urlAttributeProblems(sections.html);
        if (unsafe.length > 0) throw new Error(`${locale}/${file}: ${unsafe.join('; ')}`);
        const compiled = Object.fromEntries(
          SECTIONS.map((s) => [s, this.hb.compile(sections[s], { noEscape: s !== 'html', strict: false })]),
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
    options: { timezone: string; unsubscribeUrl: string | null; links?: Readonly<Record<string, string>> },
  ): Rendered {
    const locale = this.resolveLocale(template, wantedLocale);
    const compiled = this.compiled.get(`${locale}/${template}`);
    if (!compiled) throw new Error(`no template ${template}`);
    const context = { ...withSafeLinks(data), ...options.links, _locale: locale, _timezone: options.timezone, unsubscribe_url: options.unsubscribeUrl };
    const subject = compiled.subject(context).trim();
    const content = compiled.html(context);
    return {
      locale,
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
