/**
 * The notification-preference document: its validated input shape, defaults, and the rules every
 * writer shares (essential categories cannot be turned off; a changed email or phone is
 * unconfirmed until the user confirms it, and only a confirmed one receives essential messages).
 * Pure; no I/O.
 */
import { z } from 'zod';
import type { Preferences } from '../../lib/topics.ts';

export type { Preferences } from '../../lib/topics.ts';

export const channels = ['email', 'sms', 'push', 'in_app'] as const;
export type Channel = (typeof channels)[number];

/** Categories that carry security and payment messages: always delivered, never unsubscribable. */
export const essentialCategories: readonly string[] = ['security', 'payment'];

export function isEssential(category: string): boolean {
  return essentialCategories.includes(category);
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24 h)');
const channelFlags = z
  .object({ email: z.boolean(), sms: z.boolean(), push: z.boolean(), in_app: z.boolean() })
  .partial()
  .strict();

/** What PUT /v1/users/:userId/preferences accepts: the whole document (omitted fields take defaults) and an optional reason. */
export const preferencesInput = z
  .object({
    email: z.email().max(254).nullable().default(null),
    phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 number like +14155550123').nullable().default(null),
    locale: z.string().regex(/^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2}|-\d{3})?$/, 'expected a BCP 47 tag like en-US').default('en-US'),
    timezone: z.string().refine(isTimeZone, 'expected an IANA time zone like Europe/Paris').default('UTC'),
    channels: channelFlags.default({}),
    categories: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'category names are lowercase words'), channelFlags).default({}),
    quiet_hours: z.object({ start: hhmm, end: hhmm }).strict().nullable().default(null),
    daily_max: z.number().int().min(1).max(1000).nullable().default(null),
    digest: z
      .object({ enabled: z.boolean().default(true), hour: z.number().int().min(0).max(23).default(9) })
      .strict()
      .default({ enabled: true, hour: 9 }),
    unsubscribed: z.boolean().default(false),
    /** Where HIGH-priority messages go first; null: email. */
    preferred_channel: z.enum(channels).nullable().default(null),
    /** true opts in to SMS (recorded with its source), false withdraws; omitted keeps the current consent. */
    sms_consent: z.boolean().optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();

export type PreferencesInput = z.infer<typeof preferencesInput>;

export const defaultChannels: Readonly<Record<Channel, boolean>> = { email: true, sms: true, push: false, in_app: true };

export function defaultPreferences(): Preferences {
  return {
    email: null,
    phone: null,
    locale: 'en-US',
    timezone: 'UTC',
    channels: { ...defaultChannels },
    categories: {},
    quiet_hours: null,
    daily_max: null,
    digest: { enabled: true, hour: 9 },
    unsubscribed: false,
    email_confirmed_at: null,
    phone_confirmed_at: null,
    sms_consent: null,
    preferred_channel: null,
    suppressions: [],
  };
}

/** Problems that make a valid-looking document unacceptable (422): turning off an essential category. */
export function essentialViolations(doc: Preferences): string[] {
  const out: string[] = [];
  for (const category of essentialCategories) {
    const flags = doc.categories[category] ?? {};
    for (const [channel, on] of Object.entries(flags)) {
      if (on === false) out.push(`categories.${category}.${channel}: ${category} notifications cannot be turned off`);
    }
  }
  return out;
}

export function toPreferences(input: PreferencesInput): Preferences {
  return {
    email: input.email,
    phone: input.phone,
    locale: input.locale,
    timezone: input.timezone,
    channels: { ...defaultChannels, ...input.channels },
    categories: Object.fromEntries(Object.entries(input.categories).map(([c, flags]) => [c, { ...flags }])),
    quiet_hours: input.quiet_hours,
    daily_max: input.daily_max,
    digest: { enabled: input.digest.enabled, hour: input.digest.hour },
    unsubscribed: input.unsubscribed,
    email_confirmed_at: null,
    phone_confirmed_at: null,
    sms_consent: null,
    preferred_channel: input.preferred_channel,
    suppressions: [],
  };
}

// ---------------------------------------------------------------- contact details
/** The contact details a user's preferences may give, and the channel each one serves. */
export const contactFields = ['email', 'phone'] as const;
export type ContactField = (typeof contactFields)[number];
export const contactChannel: Readonly<Record<ContactField, 'email' | 'sms'>> = { email: 'email', phone: 'sms' };
export const contactFieldOf: Readonly<Record<'email' | 'sms', ContactField>> = { email: 'email', sms: 'phone' };
const confirmedAt = { email: 'email_confirmed_at', phone: 'phone_confirmed_at' } as const;

export function confirmationOf(doc: Preferences, field: ContactField): number | null {
  return doc[confirmedAt[field]] ?? null;
}

/** The contact fields whose value differs between two documents. */
export function contactChanges(current: Preferences, next: Preferences): ContactField[] {
  return contactFields.filter((f) => (current[f] ?? null) !== (next[f] ?? null));
}

/**
 * `next` with what only their own writers change kept from `current` (for writers that replace the
 * document without knowing them): the confirmations, the SMS consent, the suppressions.
 */
export function withConfirmationsOf(current: Preferences, next: Preferences): Preferences {
  return {
    ...next,
    email_confirmed_at: confirmationOf(current, 'email'),
    phone_confirmed_at: confirmationOf(current, 'phone'),
    sms_consent: current.sms_consent ?? null,
    suppressions: [...(current.suppressions ?? [])],
  };
}

/**
 * Every writer's rule: an email or phone that changes (or is removed) is unconfirmed, and a phone
 * that changes loses the SMS consent given for the old number (consent is for a number).
 */
export function resetChangedConfirmations(current: Preferences, next: Preferences): Preferences {
  const changed = contactChanges(current, next);
  if (changed.length === 0) return next;
  return { ...next, ...Object.fromEntries(changed.map((f) => [confirmedAt[f], null])), ...(changed.includes('phone') && current.sms_consent ? { sms_consent: null } : {}) };
}

// ---------------------------------------------------------------- consent and suppression
export type ConsentSource = 'api' | 'preference_centre' | 'keyword';

/** Opted in to SMS (unchanged when already). */
export function optInSms(doc: Preferences, source: ConsentSource, at: number): Preferences {
  return doc.sms_consent ? doc : { ...doc, sms_consent: { at, source } };
}

/** Consent to SMS withdrawn: no SMS at all, essential ones included. */
export function optOutSms(doc: Preferences): Preferences {
  return doc.sms_consent ? { ...doc, sms_consent: null } : doc;
}

export type SuppressionReason = 'hard_bounce' | 'invalid_address' | 'spam_report' | 'carrier_opt_out';

/** The address put on the suppression list (unchanged when it already is). */
export function suppress(doc: Preferences, channel: 'email' | 'sms', address: string, reason: SuppressionReason, at: number): Preferences {
  const list = doc.suppressions ?? [];
  if (list.some((x) => x.channel === channel && sameAddress(x.address, address))) return doc;
  return { ...doc, suppressions: [...list, { channel, address, reason, at }] };
}

const sameAddress = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** Why nothing may be sent to `address` on `channel`, or null: the suppression that covers it. */
export function suppressionOf(doc: Preferences, channel: 'email' | 'sms', address: string): string | null {
  const hit = (doc.suppressions ?? []).find((x) => x.channel === channel && sameAddress(x.address, address));
  return hit ? hit.reason : null;
}

/** The document with `field` confirmed at `at` (unchanged when it already is). */
export function confirmContact(doc: Preferences, field: ContactField, at: number): Preferences {
  if (confirmationOf(doc, field) !== null) return doc;
  return { ...doc, [confirmedAt[field]]: at };
}

/**
 * The preferences' own address for a message of `category`, or null to use the Stripe customer's:
 * essential messages (security, payment) go to an address of the preferences only once the user
 * confirmed it, since whoever may change preferences could otherwise redirect them.
 */
export function contactFor(doc: Preferences, field: ContactField, category: string | null): string | null {
  const address = doc[field] ?? null;
  if (address === null) return null;
  if (category !== null && isEssential(category) && confirmationOf(doc, field) === null) return null;
  return address;
}

/** Turns one non-essential category (or, with null, every non-essential one) off on every channel. */
export function unsubscribe(doc: Preferences, category: string | null): Preferences {
  if (category === null) return { ...doc, unsubscribed: true };
  const off = Object.fromEntries(channels.map((c) => [c, false]));
  return { ...doc, categories: { ...doc.categories, [category]: off } };
}

/** The inverse: category back on (or the global opt-out lifted). */
export function resubscribe(doc: Preferences, category: string | null): Preferences {
  if (category === null) return { ...doc, unsubscribed: false };
  const rest = { ...doc.categories };
  delete rest[category];
  return { ...doc, categories: rest };
}

/** Whether a message of `category` may go to a user on `channel` under these preferences. */
export function allows(doc: Preferences, category: string, channel: Channel): boolean {
  if (isEssential(category)) return true;
  if (doc.unsubscribed) return false;
  if (doc.channels[channel] === false) return false;
  return doc.categories[category]?.[channel] !== false;
}

/** A plain JSON copy of a document (decoded Avro values are class instances). */
export function plainPreferences(doc: Preferences): Preferences {
  return JSON.parse(JSON.stringify(doc)) as Preferences;
}
