/**
 * The hosted preference centre's form, pure: what the page shows (every category × channel, the
 * essential categories locked on) and what one POST of it changes.
 *
 * Fields (application/x-www-form-urlencoded, as the page's one form posts them):
 *   shown=<category>            once per category the page showed (so an unchecked box means off)
 *   channel.<channel>=on        a channel on for every category (absent: off)
 *   cat.<category>.<channel>=on a category on for a channel (absent: off); essential ones are not
 *                               fields at all (locked on: what is posted for them is refused)
 *   sms_consent=on              agree to receive text messages (absent: withdrawn)
 *   preferred_channel=<channel> HIGH-priority messages' first channel ("" for the default, email)
 *   unsubscribed=on             nothing but the essential messages
 *   reason=<text>               why, in the user's words (optional, at most 500 characters)
 * Anything else is a problem (422), and so is a category that was not shown.
 */
import { channels, essentialCategories, isEssential, optInSms, optOutSms, type Channel, type Preferences } from '../../projections/preferences/document.ts';
import { templateCategories } from '../../notify/index.ts';

export const CATEGORY_NAME = /^[a-z][a-z0-9_]{0,39}$/;
const MAX_REASON = 500;

/** The categories a user sees: every template's, and any their preferences already name; essential first. */
export function categoriesFor(prefs: Preferences): string[] {
  const all = new Set([...Object.values(templateCategories).flatMap((t) => t.categories), ...Object.keys(prefs.categories)]);
  const sorted = [...all].filter((c) => CATEGORY_NAME.test(c)).sort();
  return [...sorted.filter(isEssential), ...sorted.filter((c) => !isEssential(c))];
}

export interface CentreView {
  readonly categories: readonly { readonly category: string; readonly essential: boolean; readonly channels: Readonly<Record<Channel, boolean>> }[];
  readonly channels: Readonly<Record<Channel, boolean>>;
  readonly smsConsent: boolean;
  readonly preferredChannel: Channel | null;
  readonly unsubscribed: boolean;
}

/** The page's toggles from the stored document: a category's own switch per channel (essential: on). */
export function viewOf(prefs: Preferences): CentreView {
  const flags = (on: (c: Channel) => boolean) => Object.fromEntries(channels.map((c) => [c, on(c)])) as Record<Channel, boolean>;
  return {
    channels: flags((c) => prefs.channels[c] !== false),
    categories: categoriesFor(prefs).map((category) => ({
      category,
      essential: isEssential(category),
      channels: flags((c) => isEssential(category) || prefs.categories[category]?.[c] !== false),
    })),
    smsConsent: prefs.sms_consent !== null && prefs.sms_consent !== undefined,
    preferredChannel: (prefs.preferred_channel as Channel | null | undefined) ?? null,
    unsubscribed: prefs.unsubscribed,
  };
}

export interface CentreChange {
  readonly channels: Readonly<Record<Channel, boolean>>;
  /** Every non-essential category shown, with all four channels. */
  readonly categories: Readonly<Record<string, Readonly<Record<Channel, boolean>>>>;
  readonly smsConsent: boolean;
  readonly preferredChannel: Channel | null;
  readonly unsubscribed: boolean;
  readonly reason: string | null;
}

export type ParsedForm = { readonly ok: true; readonly change: CentreChange } | { readonly ok: false; readonly problems: readonly string[] };

const isChannel = (c: string): c is Channel => (channels as readonly string[]).includes(c);
const on = (v: string) => v === 'on';

/** The change one POST asks for, or each problem with it. */
export function parseCentreForm(body: URLSearchParams): ParsedForm {
  const problems: string[] = [];
  const shown = body.getAll('shown');
  for (const c of shown) if (!CATEGORY_NAME.test(c)) problems.push(`shown: "${c.slice(0, 40)}" is not a category name`);
  const shownSet = new Set(shown.filter((c) => CATEGORY_NAME.test(c)));
  const seen = new Set<string>();
  const channelFlags = Object.fromEntries(channels.map((c) => [c, false])) as Record<Channel, boolean>;
  const categoryFlags: Record<string, Record<Channel, boolean>> = {};
  for (const c of shownSet) if (!isEssential(c)) categoryFlags[c] = Object.fromEntries(channels.map((ch) => [ch, false])) as Record<Channel, boolean>;
  let smsConsent = false;
  let preferredChannel: Channel | null = null;
  let unsubscribed = false;
  let reason: string | null = null;

  for (const [name, value] of body) {
    if (name !== 'shown' && seen.has(name)) {
      problems.push(`${name}: given twice`);
      continue;
    }
    seen.add(name);
    const cat = /^cat\.([^.]+)\.([^.]+)$/.exec(name);
    const ch = /^channel\.([^.]+)$/.exec(name);
    if (name === 'shown') continue;
    else if (ch) {
      const channel = ch[1] ?? '';
      if (!isChannel(channel)) problems.push(`${name}: no such channel (${channels.join(', ')})`);
      else if (!on(value)) problems.push(`${name}: expected "on"`);
      else channelFlags[channel] = true;
    } else if (cat) {
      const category = cat[1] ?? '';
      const channel = cat[2] ?? '';
      if (isEssential(category)) problems.push(`${name}: ${category} notifications are always sent and cannot be changed`);
      else if (!shownSet.has(category)) problems.push(`${name}: ${category} was not on the page`);
      else if (!isChannel(channel)) problems.push(`${name}: no such channel (${channels.join(', ')})`);
      else if (!on(value)) problems.push(`${name}: expected "on"`);
      else (categoryFlags[category] as Record<Channel, boolean>)[channel] = true;
    } else if (name === 'sms_consent') {
      if (on(value)) smsConsent = true;
      else problems.push('sms_consent: expected "on"');
    } else if (name === 'unsubscribed') {
      if (on(value)) unsubscribed = true;
      else problems.push('unsubscribed: expected "on"');
    } else if (name === 'preferred_channel') {
      if (value === '') preferredChannel = null;
      else if (isChannel(value)) preferredChannel = value;
      else problems.push(`preferred_channel: expected one of ${channels.join(', ')}`);
    } else if (name === 'reason') {
      const text = value.trim();
      if (text.length > MAX_REASON) problems.push(`reason: at most ${MAX_REASON} characters`);
      else reason = text === '' ? null : text;
    } else problems.push(`${name.slice(0, 60)}: not a field of the preference centre`);
  }
  if (shownSet.size === 0 && problems.length === 0) problems.push('shown: the form names no category (post the page’s form)');
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, change: { channels: channelFlags, categories: categoryFlags, smsConsent, preferredChannel, unsubscribed, reason } };
}

/**
 * The document after a POST: the channels, the shown non-essential categories (all four channels
 * each; categories not shown kept), consent (opted in now with source preference_centre, or
 * withdrawn), the preferred channel and the global opt-out. Essential categories keep what they
 * had (they cannot be off anyway).
 */
export function applyCentreChange(current: Preferences, change: CentreChange, at: number): Preferences {
  const categories: Record<string, Partial<Record<Channel, boolean>>> = { ...current.categories };
  for (const [category, flags] of Object.entries(change.categories)) if (!essentialCategories.includes(category)) categories[category] = { ...flags };
  const next: Preferences = {
    ...current,
    channels: { ...change.channels },
    categories,
    preferred_channel: change.preferredChannel,
    unsubscribed: change.unsubscribed,
  };
  return change.smsConsent ? optInSms(next, 'preference_centre', at) : optOutSms(next);
}
