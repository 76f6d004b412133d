/**
 * Dispatch decisions, pure: given a request, the user's preferences, where they can be reached and
 * how many messages they had today, decide to send (on which channels, with which fallbacks),
 * defer (quiet hours), batch (LOW priority into the daily digest) or suppress (and why).
 * Time is the request's event time; local times use the user's IANA time zone.
 *
 *   CRITICAL  every allowed channel at once; ignores quiet hours and the daily cap
 *   HIGH      preferred channel, next channel (SMS) if it bounces or fails; quiet hours; no cap
 *   NORMAL    preferred channel the category allows; quiet hours; daily cap
 *   LOW       batched into the user's daily digest (or NORMAL when digests are off)
 *
 * Essential categories (security, payment) ignore opt-outs and the cap, never quiet hours unless CRITICAL.
 */
import { allows, isEssential, type Channel, type Preferences } from '../../projections/preferences/document.ts';
import type { Priority } from './request.ts';

/** Channels Eventline can deliver on, in order of preference. */
export const deliverable: readonly Channel[] = ['email', 'sms'];

export interface Recipient {
  readonly email: string | null;
  readonly phone: string | null;
  readonly name: string | null;
  readonly locale: string | null;
}

export interface DispatchInput {
  readonly priority: Priority;
  readonly category: string;
  /** A channel the requester insists on, or null. */
  readonly channel: string | null;
}

export interface DispatchContext {
  readonly prefs: Preferences;
  readonly recipient: Recipient;
  /** Non-critical messages sent to the user on their local day so far. */
  readonly sentToday: number;
  readonly now: number;
}

export type Plan =
  | { readonly kind: 'send'; readonly channels: readonly Channel[]; readonly fallback: readonly Channel[] }
  | { readonly kind: 'defer'; readonly until: number; readonly reason: 'quiet_hours' }
  | { readonly kind: 'batch'; readonly sendAt: number; readonly digestDate: string }
  | { readonly kind: 'suppress'; readonly reason: string };

// ---------------------------------------------------------------- local time
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local date (YYYY-MM-DD) and minute of the day at `at` in `timeZone`. */
export function localParts(at: number, timeZone: string): { date: string; minutes: number } {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

function hhmm(text: string): number {
  const [h, m] = text.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** The next instant after `at` when the local clock in `timeZone` shows `minuteOfDay` (DST-aware). */
export function nextLocalTime(at: number, minuteOfDay: number, timeZone: string): number {
  const now = localParts(at, timeZone);
  let delta = minuteOfDay - now.minutes;
  if (delta <= 0) delta += 24 * 60;
  let guess = Math.floor(at / 60_000) * 60_000 + delta * 60_000;
  // A DST change between now and then moves the local clock: correct once.
  const got = localParts(guess, timeZone).minutes;
  if (got !== minuteOfDay) guess += (((minuteOfDay - got + 36 * 60) % (24 * 60)) - 12 * 60) * 60_000;
  return guess;
}

/** When the user's quiet hours end, if `at` falls inside them; else null. */
export function quietHoursEnd(at: number, quiet: { start: string; end: string } | null, timeZone: string): number | null {
  if (!quiet) return null;
  const start = hhmm(quiet.start);
  const end = hhmm(quiet.end);
  if (start === end) return null;
  const m = localParts(at, timeZone).minutes;
  const inside = start < end ? m >= start && m < end : m >= start || m < end;
  return inside ? nextLocalTime(at, end, timeZone) : null;
}

// ---------------------------------------------------------------- decision
function reachable(channel: Channel, r: Recipient): boolean {
  return (channel === 'email' && r.email !== null) || (channel === 'sms' && r.phone !== null);
}

export function planDispatch(input: DispatchInput, ctx: DispatchContext): Plan {
  const { prefs, recipient, now } = ctx;
  const tz = prefs.timezone;
  const essential = isEssential(input.category);
  const forced = input.channel && deliverable.includes(input.channel as Channel) ? (input.channel as Channel) : null;
  if (input.channel && !forced) return { kind: 'suppress', reason: `channel ${input.channel} is not available` };

  const candidates = (forced ? [forced] : deliverable).filter((c) => allows(prefs, input.category, c));
  if (candidates.length === 0) return { kind: 'suppress', reason: prefs.unsubscribed ? 'unsubscribed' : `${input.category} turned off by the user` };
  const usable = candidates.filter((c) => reachable(c, recipient));
  if (usable.length === 0) return { kind: 'suppress', reason: 'no address for any allowed channel' };

  if (input.priority === 'CRITICAL') return { kind: 'send', channels: usable, fallback: [] };

  if (input.priority === 'LOW' && prefs.digest.enabled && !forced) {
    const sendAt = nextLocalTime(now, prefs.digest.hour * 60, tz);
    return { kind: 'batch', sendAt, digestDate: localParts(sendAt, tz).date };
  }

  const quietEnd = quietHoursEnd(now, prefs.quiet_hours, tz);
  if (quietEnd !== null) return { kind: 'defer', until: quietEnd, reason: 'quiet_hours' };

  const [primary, ...rest] = usable as [Channel, ...Channel[]];
  // HIGH: the preferred channel, and SMS (or the next allowed channel) if it bounces or fails;
  // not counted against the daily cap.
  if (input.priority === 'HIGH') return { kind: 'send', channels: [primary], fallback: rest };

  // NORMAL: the preferred channel the category allows, within the daily cap.
  if (!essential && prefs.daily_max !== null && ctx.sentToday >= prefs.daily_max) return { kind: 'suppress', reason: `daily cap of ${prefs.daily_max} reached` };
  return { kind: 'send', channels: [primary], fallback: [] };
}
