/**
 * Dispatch, a decider, pure: decide(state, input, now) → the outcome events to append and the
 * effects to execute (send on a channel, dead-letter, change preferences). `now` is event time: the
 * request's occurred_at, a timer's due time, or — for a provider's answer, which comes back as an
 * input — the time of the input that asked for the send. Retries, backoff, dead-lettering, fallback,
 * caps and staleness are all decided here, so a replay of the inputs reproduces every decision.
 *
 * Planning a request: given the user's preferences, where they can be reached and how many messages
 * they had today, send (on which channels, with which fallbacks), defer (quiet hours), batch (LOW
 * priority into the daily digest) or suppress (and why). Local times use the user's IANA time zone.
 *
 *   CRITICAL  every allowed channel at once; ignores quiet hours and the daily cap
 *   HIGH      preferred channel, next channel (SMS) if it bounces or fails; quiet hours; no cap
 *   NORMAL    preferred channel the category allows; quiet hours; daily cap
 *   LOW       batched into the user's daily digest (or NORMAL when digests are off)
 *
 * Essential categories (security, payment) ignore opt-outs and the cap, never quiet hours unless CRITICAL.
 */
import type { Decision, Output } from '../../lib/decider/index.ts';
import type { DeliveryEventReceived, NotificationCancelled, NotificationDispatched, NotificationDue, NotificationRequested } from '../../lib/topics.ts';
import { assignVariant, notificationIdFor, notificationRequest, type Priority, type VersionInfo } from '../../notify/index.ts';
import { allows, isEssential, suppressionOf, type Channel, type Preferences, type SuppressionReason } from '../../projections/preferences/document.ts';
import { DISPATCHER, DIGEST_TEMPLATE, digestItems, nextSeq, type EngagementKind, type NotificationState, type DigestState, type OutcomeStatus } from './evolve.ts';

/** Channels Eventline can deliver on, in order of preference (NORMAL takes the first the category allows and reaches). */
export const deliverable: readonly Channel[] = ['email', 'sms', 'push', 'in_app'];

export interface Recipient {
  readonly email: string | null;
  readonly phone: string | null;
  readonly name: string | null;
  readonly locale: string | null;
  /**
   * Channels that must not be used whatever the preferences and the priority, and why: no consent
   * to SMS, an address on the suppression list (reachability, not preference: essential messages too).
   */
  readonly blocked?: Readonly<Partial<Record<Channel, string>>>;
  /** At least one browser registered for Web Push (and push configured). */
  readonly push?: boolean;
}

export interface PlanInput {
  readonly priority: Priority;
  readonly category: string;
  /** A channel the requester insists on, or null. */
  readonly channel: string | null;
  /** Channels to use last: an earlier message could not reach the user on them (a bounced dunning reminder). */
  readonly avoid?: readonly string[];
}

export interface PlanContext {
  readonly prefs: Preferences;
  readonly recipient: Recipient;
  /** Non-critical messages sent to the user on their local day so far. */
  readonly sentToday: number;
  readonly now: number;
  /** The digest a LOW message would join already went out (a late request): send it as NORMAL. */
  readonly digestFlushed?: boolean;
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
  if (r.blocked?.[channel]) return false;
  switch (channel) {
    case 'email':
      return r.email !== null;
    case 'sms':
      return r.phone !== null;
    case 'push':
      return r.push === true;
    case 'in_app':
      // The inbox always exists: an item waits there until the user opens the app.
      return true;
    default: {
      const _exhaustive: never = channel;
      return _exhaustive;
    }
  }
}

/**
 * The channels a recipient cannot be reached on whatever the preferences say (pure, shared by the
 * adapter and the replay model): SMS without the user's opt-in (TCPA), an address or number on the
 * suppression list.
 */
export function blockedChannels(prefs: Preferences, email: string | null, phone: string | null): Partial<Record<Channel, string>> {
  const blocked: Partial<Record<Channel, string>> = {};
  const emailSuppressed = email ? suppressionOf(prefs, 'email', email) : null;
  if (emailSuppressed) blocked.email = `address suppressed (${emailSuppressed})`;
  const phoneSuppressed = phone ? suppressionOf(prefs, 'sms', phone) : null;
  if (!prefs.sms_consent) blocked.sms = 'no SMS consent';
  else if (phoneSuppressed) blocked.sms = `number suppressed (${phoneSuppressed})`;
  return blocked;
}

/** HIGH's order: the preferred channel first (default email), then SMS, then the rest. */
function preferredOrder(usable: readonly Channel[], preferred: string | null): Channel[] {
  const first = (preferred ?? 'email') as Channel;
  const rank = (c: Channel) => (c === first ? 0 : c === 'sms' ? 1 : 2);
  return [...usable].sort((a, b) => rank(a) - rank(b));
}

export function planDispatch(input: PlanInput, ctx: PlanContext): Plan {
  const { prefs, recipient, now } = ctx;
  const tz = prefs.timezone;
  const essential = isEssential(input.category);
  const forced = input.channel && deliverable.includes(input.channel as Channel) ? (input.channel as Channel) : null;
  if (input.channel && !forced) return { kind: 'suppress', reason: `channel ${input.channel} is not available` };

  const candidates = (forced ? [forced] : deliverable).filter((c) => allows(prefs, input.category, c));
  if (candidates.length === 0) return { kind: 'suppress', reason: prefs.unsubscribed ? 'unsubscribed' : `${input.category} turned off by the user` };
  // Reachable, the channels to avoid last (used when nothing else reaches the user).
  const avoided = (c: Channel) => (input.avoid ?? []).includes(c);
  const usable = candidates.filter((c) => reachable(c, recipient)).sort((a, b) => Number(avoided(a)) - Number(avoided(b)));
  if (usable.length === 0) {
    const why = candidates.flatMap((c) => (recipient.blocked?.[c] ? [`${c}: ${recipient.blocked[c]}`] : []));
    return { kind: 'suppress', reason: why.length > 0 ? `no reachable channel (${why.join('; ')})` : 'no address for any allowed channel' };
  }

  if (input.priority === 'CRITICAL') return { kind: 'send', channels: usable, fallback: [] };

  // Essential messages are never batched: a digest is a `product` message that follows opt-outs.
  if (input.priority === 'LOW' && prefs.digest.enabled && !forced && !ctx.digestFlushed && !essential) {
    const sendAt = nextLocalTime(now, prefs.digest.hour * 60, tz);
    return { kind: 'batch', sendAt, digestDate: localParts(sendAt, tz).date };
  }

  const quietEnd = quietHoursEnd(now, prefs.quiet_hours, tz);
  if (quietEnd !== null) return { kind: 'defer', until: quietEnd, reason: 'quiet_hours' };

  const [primary] = usable as [Channel, ...Channel[]];
  // HIGH: the user's preferred channel (default email), and SMS where consented (then the next
  // allowed channel) if it bounces or fails; not counted against the daily cap.
  if (input.priority === 'HIGH') {
    const [first, ...others] = preferredOrder(usable, prefs.preferred_channel ?? null).sort((a, b) => Number(avoided(a)) - Number(avoided(b))) as [Channel, ...Channel[]];
    return { kind: 'send', channels: [first], fallback: others };
  }

  // NORMAL: the preferred channel the category allows, within the daily cap.
  if (!essential && prefs.daily_max !== null && ctx.sentToday >= prefs.daily_max) return { kind: 'suppress', reason: `daily cap of ${prefs.daily_max} reached` };
  return { kind: 'send', channels: [primary], fallback: [] };
}

// ---------------------------------------------------------------- the decider
/** Ask a provider to send on one channel; the answer comes back as a send_* input. */
export interface SendCommand {
  readonly kind: 'send';
  readonly notificationId: string;
  readonly channel: Channel;
  readonly attempt: number;
  readonly reason: string | null;
  /** Channels still planned as fallback after this one. */
  readonly fallback: readonly Channel[];
  /** The user's local date this message counts towards the daily cap, or null. */
  readonly capDate: string | null;
  /** Event time of the input that asked for the send: the time of its outcome. */
  readonly at: number;
  /** The version (and variant) decided for this message; absent: the adapter chooses with chooseTemplate. */
  readonly template?: TemplateChoice;
}

export type DispatchEffect =
  | SendCommand
  | { readonly kind: 'dead_letter'; readonly code: 'provider_retries_exhausted' | 'provider_rejected'; readonly message: string }
  | { readonly kind: 'change_preferences'; readonly userId: string; readonly change: 'unsubscribed' | 'resubscribed'; readonly category: string | null; readonly actor: string; readonly reason: string }
  /** Put an address on the user's suppression list (a hard bounce, an invalid address, a spam complaint). */
  | { readonly kind: 'suppress_address'; readonly userId: string; readonly channel: 'email' | 'sms'; readonly address: string; readonly reason: SuppressionReason; readonly at: number; readonly actor: string; readonly detail: string };

export type DispatchInput =
  | { readonly kind: 'requested'; readonly request: NotificationRequested; /** When the request was appended to its topic (its log time). */ readonly loggedAt: number }
  | { readonly kind: 'due'; readonly due: NotificationDue }
  | { readonly kind: 'cancelled'; readonly cancel: NotificationCancelled }
  | { readonly kind: 'delivery'; readonly event: DeliveryEventReceived }
  | {
      readonly kind: 'send_succeeded';
      readonly send: SendCommand;
      readonly provider: string;
      readonly providerMessageId: string | null;
      readonly locale: string | null;
      /** How an SMS was routed (effects.ts SendRoute); absent for a single-provider channel. */
      readonly route?: { readonly country: string | null; readonly priceMicros: number | null; readonly currency: string | null; readonly reason: string } | null;
      /** The version and variant rendered. */
      readonly template?: TemplateChoice | null;
    }
  | { readonly kind: 'send_failed'; readonly send: SendCommand; readonly provider: string | null; readonly retryable: boolean; readonly message: string; /** No address for the channel: nothing to retry or dead-letter. */ readonly unreachable: boolean }
  | { readonly kind: 'send_unknown'; readonly send: SendCommand; readonly until: number };

/** What a decision reads besides the notification: the user as known now, and the digest when one is due. */
export interface DispatchContext {
  readonly prefs: Preferences;
  readonly recipient: Recipient;
  /** Non-critical messages counted towards the cap on the user's local day of `now`. */
  readonly sentToday: number;
  readonly templateKnown: boolean;
  /** The digest a LOW request would join (the user's next digest hour after `now`) already went out. */
  readonly digestFlushed: boolean;
  /** The template version a new message renders with, and its experiment (absent or null: the shipped file). */
  readonly template?: VersionInfo | null;
}

/** Which version and variant a message renders with: recorded on its `sent` outcome. */
export interface TemplateChoice {
  readonly version: number;
  readonly experiment: string | null;
  readonly variant: string | null;
}

/** The version to render and, when it runs an experiment, the user's variant (a stable hash of experiment and user). Pure. */
export function chooseTemplate(info: VersionInfo | null | undefined, userId: string): TemplateChoice {
  if (!info || info.version === 0) return { version: 0, experiment: null, variant: null };
  if (!info.experiment || info.variants.length === 0) return { version: info.version, experiment: null, variant: null };
  return { version: info.version, experiment: info.experiment, variant: assignVariant(info.experiment, userId, info.variants) };
}

export interface DispatchState {
  readonly notification: NotificationState;
  /** The notification is an occurrence of a series that was cancelled (DELETE on the series id). */
  readonly seriesCancelled?: boolean;
  /** A drip sequence's step: what may end the sequence, as known when the step is decided. */
  readonly sequence?: SequenceFacts | null;
  /** A batched notification's digest already went out (a cancel comes too late). */
  readonly digestSent?: boolean;
  readonly context: DispatchContext | null;
  readonly digest: { readonly state: DigestState; readonly summaries: readonly { template: string; subject: string }[] } | null;
}

export interface DispatchPolicy {
  readonly retryBackoffMs: readonly number[];
  readonly maxAgeMs: number;
}

type Dec = Decision<DispatchEffect>;
const none: Dec = { events: [], effects: [] };

/** The event time of an input: what `now` is for its decision. */
export function eventTimeOf(input: DispatchInput): number {
  switch (input.kind) {
    case 'requested':
      return input.request.occurred_at;
    case 'due':
      return input.due.occurred_at;
    case 'cancelled':
      return input.cancel.occurred_at;
    case 'delivery':
      return input.event.occurred_at;
    case 'send_succeeded':
    case 'send_failed':
    case 'send_unknown':
      return input.send.at;
    default: {
      const _exhaustive: never = input;
      return _exhaustive;
    }
  }
}

function outcome(s: NotificationState, status: OutcomeStatus, at: number, extra: Partial<NotificationDispatched> = {}): Output {
  const r = s.request as NotificationRequested;
  const channel = extra.channel ?? null;
  const attempt = extra.attempt ?? 1;
  const value: NotificationDispatched = {
    event_id: `${r.notification_id}:${status}:${channel ?? 'none'}:${attempt}`,
    occurred_at: at,
    received_at: at,
    notification_id: r.notification_id,
    user_id: r.user_id,
    template: r.template,
    category: r.category,
    priority: r.priority,
    channel,
    status,
    reason: null,
    provider: null,
    provider_message_id: null,
    attempt,
    deferred_until: null,
    locale: null,
    digest_id: null,
    request_event_id: r.event_id,
    seq: nextSeq(s),
    fallback: [],
    due_at: null,
    digest_date: null,
    cap_date: null,
    destination_country: null,
    price_micros: null,
    price_currency: null,
    route_reason: null, template_version: null, experiment: null, variant: null,
    ...extra,
  };
  return { topic: 'notify.dispatches.v1', key: value.notification_id, record: 'NotificationDispatched', value };
}

const one = (event: Output, effects: readonly DispatchEffect[] = []): Dec => ({ events: [event], effects });

/** Plans a request (new, or whose quiet hours just ended) and turns the plan into events and sends. */
/** The user's local day a message sent now counts towards (null: CRITICAL and essential messages do not count). */
function capDateOf(r: NotificationRequested, ctx: DispatchContext | null, now: number): string | null {
  return ctx && r.priority !== 'CRITICAL' && !isEssential(r.category) ? localParts(now, ctx.prefs.timezone).date : null;
}

function plan(s: NotificationState, ctx: DispatchContext, now: number): Dec {
  const r = s.request as NotificationRequested;
  const priority = r.priority;
  const p = planDispatch({ priority, category: r.category, channel: r.channel, avoid: r.avoid_channels ?? [] }, { prefs: ctx.prefs, recipient: ctx.recipient, sentToday: ctx.sentToday, now, digestFlushed: ctx.digestFlushed });
  switch (p.kind) {
    case 'suppress':
      return one(outcome(s, 'suppressed', now, { reason: p.reason }));
    case 'defer':
      // Each deferral has its own id (and timer): quiet hours may be extended while one waits.
      return one(outcome(s, 'deferred', now, { reason: p.reason, deferred_until: p.until, due_at: p.until, attempt: s.deferrals + 1 }));
    case 'batch':
      return one(outcome(s, 'batched', now, { digest_id: notificationIdFor(`digest:${r.user_id}:${p.digestDate}`), digest_date: p.digestDate, due_at: p.sendAt, reason: `daily digest of ${p.digestDate}` }));
    case 'send': {
      const capDate = capDateOf(r, ctx, now);
      // Channels already under way (a redelivered CRITICAL request) are not asked again.
      const channels = p.channels.filter((c) => s.channels[c] === undefined);
      // The version and the user's variant are decided here, once for every channel of the message.
      const template = s.template ?? chooseTemplate(ctx.template, r.user_id);
      return { events: [], effects: channels.map((channel) => ({ kind: 'send', notificationId: r.notification_id, channel, attempt: 1, reason: null, fallback: p.fallback, capDate, at: now, template })) };
    }
    default: {
      const _exhaustive: never = p;
      return _exhaustive;
    }
  }
}

/** The next planned fallback channel not tried yet. */
function nextFallback(s: NotificationState, fallback: readonly Channel[], after: Channel): Channel | null {
  return fallback.find((c) => c !== after && s.channels[c] === undefined) ?? null;
}

function fallbackSend(s: NotificationState, fallback: readonly Channel[], after: Channel, reason: string, capDate: string | null, at: number, template: TemplateChoice | null = s.template): SendCommand | null {
  const next = nextFallback(s, fallback, after);
  if (!next || !s.request) return null;
  return { kind: 'send', notificationId: s.request.notification_id, channel: next, attempt: 1, reason, fallback: fallback.filter((c) => c !== next && c !== after), capDate, at, ...(template ? { template } : {}) };
}

/** The version and variant a send used, as an outcome records them (kept in the state: later sends of the message use them). */
function pinned(send: SendCommand): Partial<NotificationDispatched> {
  return send.template ? { template_version: send.template.version, experiment: send.template.experiment, variant: send.template.variant } : {};
}

/**
 * Work an earlier decision left to its effects, redone when its input comes again after a crash
 * lost them: the planned fallback after a final failure, and the channels of a CRITICAL message
 * not yet under way. (Every send is guarded by its idempotency key, so asking again is safe.)
 */
function resume(s: NotificationState, ctx: DispatchContext | null, now: number): Dec {
  const r = s.request;
  if (!r || s.status === 'cancelled') return none;
  if (s.status === 'failed' && s.top) {
    const failedOn = (Object.keys(s.channels) as Channel[]).find((c) => s.channels[c]?.status === 'failed' && s.channels[c]?.order[0] === s.top?.[0]);
    const next = failedOn ? fallbackSend(s, s.fallback, failedOn, `fallback after ${failedOn} failed`, capDateOf(r, ctx, now), now) : null;
    if (next) return { events: [], effects: [next] };
  }
  // Not a CRITICAL that waits for its time (scheduled): a redelivered request must not send it early.
  if (r.priority === 'CRITICAL' && ctx && s.status !== 'suppressed' && s.status !== 'scheduled') return plan(s, ctx, now);
  return none;
}

/**
 * Whether a delivery event puts its email address on the suppression list: a hard bounce (SendGrid
 * `bounce` with type `bounce`; `blocked` is a soft one), a drop for an invalid or bounced address,
 * a spam complaint.
 */
export function suppressionFrom(e: DeliveryEventReceived): SuppressionReason | null {
  if (e.channel !== 'email') return null;
  if (e.kind === 'bounced' && (e.bounce_type === null || e.bounce_type === 'bounce')) return 'hard_bounce';
  if (e.kind === 'dropped' && /invalid|bounced address/i.test(e.reason ?? '')) return 'invalid_address';
  if (e.kind === 'spam_reported') return 'spam_report';
  return null;
}

/** Occurrence `k` of a series starting at `startsAt`: k days or weeks later, or k calendar months (UTC; the 31st in a 30-day month is its 30th). */
export function occurrenceAt(startsAt: number, every: string, k: number): number {
  if (every === 'day') return startsAt + k * 86_400_000;
  if (every === 'week') return startsAt + k * 7 * 86_400_000;
  const d = new Date(startsAt);
  const month = d.getUTCMonth() + k;
  const last = new Date(Date.UTC(d.getUTCFullYear(), month + 1, 0)).getUTCDate();
  return Date.UTC(d.getUTCFullYear(), month, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/** The request of the occurrence after `r`, or null when the series ends with `r` (its count or its until). Pure. */
export function nextOccurrence(r: NotificationRequested, now: number): NotificationRequested | null {
  const rec = r.recurrence ?? null;
  if (!rec) return null;
  const k = rec.occurrence + 1;
  if (rec.count !== null && k >= rec.count) return null;
  const at = occurrenceAt(rec.starts_at, rec.every, k);
  if (rec.until !== null && at > rec.until) return null;
  return chained(r, now, `${rec.series_id}:occurrence:${k}`, at, r, { escalation: r.escalation, recurrence: { ...rec, occurrence: k } });
}

/**
 * The next notification of a chain (an occurrence of a series, a step of a sequence): requested by
 * whoever requested `r`, caused by it, scheduled for `sendAt`, with `what` it sends.
 */
function chained(
  r: NotificationRequested,
  now: number,
  source: string,
  sendAt: number,
  what: { readonly template: string; readonly category: string; readonly priority: string; readonly channel: string | null; readonly data: string },
  chain: Pick<Parameters<typeof notificationRequest>[0], 'escalation' | 'recurrence' | 'sequence'>,
): NotificationRequested {
  return notificationRequest({
    source,
    userId: r.user_id,
    template: what.template,
    category: what.category,
    priority: what.priority as Priority,
    channel: what.channel,
    dataText: what.data,
    requestedBy: r.requested_by,
    sourceEventId: r.event_id,
    at: now,
    sendAt,
    ...chain,
  });
}

/** The notification id of step `j` of a drip sequence: the first step's is the sequence's id. */
export function stepNotificationId(seriesId: string, j: number): string {
  return j === 0 ? seriesId : notificationIdFor(stepSource(seriesId, j));
}
const stepSource = (seriesId: string, j: number) => `${seriesId}:step:${j}`;

/**
 * The request of the drip sequence's step after `r`, or null when `r` is its last step. Step k+1 is
 * due its delay after step k's time (its send_at, else its request time), whatever delayed step k
 * itself (quiet hours, retries). The escalation, when given, is the first step's only. Pure.
 */
export function nextStep(r: NotificationRequested, now: number): NotificationRequested | null {
  const seq = r.sequence ?? null;
  if (!seq) return null;
  const k = seq.step + 1;
  const step = seq.steps[k - 1];
  if (!step) return null;
  return chained(r, now, stepSource(seq.series_id, k), (r.send_at ?? r.occurred_at) + step.delay_seconds * 1000, step, { sequence: { ...seq, step: k } });
}

/**
 * An occurrence of a series or a step of a sequence came due: with its plan, the request of the
 * next one (scheduled), so one is always pending until the series or the sequence ends.
 */
function withNext(d: Dec, r: NotificationRequested, now: number): Dec {
  const next = nextOccurrence(r, now) ?? nextStep(r, now);
  return next ? { events: [...d.events, { topic: 'notify.dispatch-requests.v1', key: next.user_id, record: 'NotificationRequested', value: next }], effects: d.effects } : d;
}

/** What may end a drip sequence before one of its steps goes out. */
export interface SequenceFacts {
  /** The sequence's exit invoice was paid or voided: when (event time) and by which Stripe event type. */
  readonly invoice: { readonly at: number; readonly how: string } | null;
  /** The earliest engagement of the kind exit_engaged names with an earlier step (event time). */
  readonly engagedAt: number | null;
}

/**
 * Why a step of a drip sequence is not sent, or null when it goes: the exit invoice is paid or
 * voided — known at all when the step is decided, even if paid after the step's time (a reminder
 * to pay a paid invoice is the worse mistake) — or the user engaged with an earlier step by now. Pure.
 */
export function sequenceExit(r: NotificationRequested, facts: SequenceFacts | null | undefined, now: number): string | null {
  const seq = r.sequence ?? null;
  if (!seq || !facts) return null;
  if (seq.exit_invoice_paid && facts.invoice) return `the sequence ended: invoice ${seq.exit_invoice_paid} was ${facts.invoice.how === 'invoice.voided' ? 'voided' : 'paid'} (${facts.invoice.how})`;
  if (seq.exit_engaged && facts.engagedAt !== null && facts.engagedAt <= now) return `the sequence ended: the user ${seq.exit_engaged} an earlier step`;
  return null;
}

/** Why a series' occurrence or a sequence's step must not go out (the chain was cancelled, or the sequence's exit holds), or null. Pure. */
function chainEnded(state: DispatchState, r: NotificationRequested, now: number): string | null {
  return state.seriesCancelled ? 'the series was cancelled' : sequenceExit(r, state.sequence, now);
}

/**
 * When the recipient first engaged with the notification in the way `unless` names: opened (an
 * open, a read or a click), clicked, or read (a read or a click); null: not yet.
 */
export function engagedAt(s: NotificationState, unless: string): number | null {
  const kinds: readonly EngagementKind[] = unless === 'clicked' ? ['clicked'] : unless === 'read' ? ['read', 'clicked'] : ['opened', 'read', 'clicked'];
  const times = kinds.flatMap((k) => (s.engaged[k] !== undefined ? [s.engaged[k] as number] : []));
  return times.length > 0 ? Math.min(...times) : null;
}

/** Whether the recipient engaged with the notification by `at` (event time) in the way its escalation's `unless` names. */
export function engagedBy(s: NotificationState, unless: string, at: number): boolean {
  const first = engagedAt(s, unless);
  return first !== null && first <= at;
}

/** An escalation timer fired: send on the escalation channel unless the recipient engaged in time, or it cannot reach them. */
function escalate(s: NotificationState, ctx: DispatchContext | null, d: NotificationDue, now: number): Dec {
  const r = s.request;
  const esc = r?.escalation ?? null;
  if (!r || !esc || !ctx || s.status === 'cancelled') return none;
  const channel = esc.channel as Channel;
  if (s.channels[channel] !== undefined || engagedBy(s, esc.unless, d.occurred_at)) return none;
  if (!deliverable.includes(channel) || !allows(ctx.prefs, r.category, channel) || !reachable(channel, ctx.recipient)) return none;
  return { events: [], effects: [{ kind: 'send', notificationId: r.notification_id, channel, attempt: 1, reason: `escalation: not ${esc.unless} within ${esc.after_seconds} s`, fallback: [], capDate: capDateOf(r, ctx, now), at: now, ...(s.template ? { template: s.template } : {}) }] };
}

/**
 * Whether a notification can still be cancelled: decided to wait (scheduled, deferred, batched) or
 * retrying, with no channel sent and no send whose outcome is unknown (it may have gone out).
 */
export function cancellable(s: NotificationState): boolean {
  // `requested` is not: its sends may be with a provider right now.
  const waiting = s.status === 'scheduled' || s.status === 'deferred' || s.status === 'batched' || s.status === 'retrying';
  return waiting && !Object.values(s.channels).some((p) => p.status === 'sent' || p.status === 'reconciling');
}

const hardFailure = (e: DeliveryEventReceived): boolean => (e.channel === 'email' && (e.kind === 'bounced' || e.kind === 'dropped')) || (e.channel === 'sms' && (e.kind === 'failed' || e.kind === 'undelivered'));

export function decide(state: DispatchState, input: DispatchInput, eventTime: number, policy: DispatchPolicy): Dec {
  const s = state.notification;
  // A notification's history never goes back in time: a provider's callback stamped to the second
  // (SendGrid) can carry a time before the send it reports on, but what it causes comes after.
  const now = Math.max(eventTime, s.top?.[1] ?? eventTime);
  switch (input.kind) {
    case 'requested': {
      // Decided before (its outcome is on the topic): only what a crash may have left undone.
      if (s.status !== 'none' && s.status !== 'requested') return resume(s, state.context, now);
      const st: NotificationState = s.request ? s : { ...s, request: input.request };
      const ctx = state.context;
      if (ctx && !ctx.templateKnown) return one(outcome(st, 'failed', now, { reason: `unknown template ${input.request.template}` }));
      // Appended long after it happened (a backfill, a replay of old events): never message people about the past.
      const age = input.loggedAt - input.request.occurred_at;
      if (age > policy.maxAgeMs) return one(outcome(st, 'suppressed', now, { reason: `stale: requested ${Math.round(age / 3_600_000)} h ago` }));
      const ended = chainEnded(state, input.request, now);
      if (ended) return one(outcome(st, 'cancelled', now, { reason: ended }));
      // Scheduled: nothing is planned before its time (preferences and quiet hours are those of then).
      const sendAt = input.request.send_at ?? null;
      if (sendAt !== null && sendAt > now) return one(outcome(st, 'scheduled', now, { due_at: sendAt, reason: `scheduled for ${new Date(sendAt).toISOString()}` }));
      return ctx ? withNext(plan(st, ctx, now), input.request, now) : none;
    }
    case 'due': {
      // A timer may come again (a crash after it was folded, before its effect): each case below
      // checks the state it applies to, so a second firing decides nothing new.
      const d = input.due;
      if (d.reason.startsWith('digest:')) {
        const digest = state.digest;
        if (!digest || digest.state.flushed || digestItems(digest.state).length === 0) return none;
        const date = d.reason.slice('digest:'.length);
        const request = notificationRequest({
          source: `digest:${d.user_id}:${date}`,
          userId: d.user_id,
          template: DIGEST_TEMPLATE,
          category: 'product',
          priority: 'NORMAL',
          data: { items: digest.summaries, date },
          requestedBy: DISPATCHER,
          sourceEventId: d.event_id,
          at: d.occurred_at,
        });
        return { events: [{ topic: 'notify.dispatch-requests.v1', key: request.user_id, record: 'NotificationRequested', value: request }], effects: [] };
      }
      if (!s.request || s.status === 'cancelled') return none;
      if (d.reason === 'escalation') return escalate(s, state.context, d, now);
      if (d.reason === 'scheduled') {
        if (s.status !== 'scheduled' || !state.context) return resume(s, state.context, now);
        const ended = chainEnded(state, s.request, now);
        if (ended) return one(outcome(s, 'cancelled', now, { reason: ended }));
        return withNext(plan(s, state.context, now), s.request, now);
      }
      // A sequence's step deferred by quiet hours or waiting for a retry still ends with the sequence.
      if (d.reason === 'quiet_hours_end' || d.reason === 'retry') {
        const ended = chainEnded(state, s.request, now);
        if (ended && cancellable(s)) return one(outcome(s, 'cancelled', now, { reason: ended }));
      }
      if (d.reason === 'quiet_hours_end') return s.status === 'deferred' && d.attempt === s.deferredAttempt - 1 && state.context ? plan(s, state.context, now) : resume(s, state.context, now);
      const channel = d.channel as Channel | null;
      const progress = channel ? s.channels[channel] : undefined;
      if (!channel || !progress) return none;
      const capDate = capDateOf(s.request, state.context, now);
      const send = (reason: string | null): Dec => ({ events: [], effects: [{ kind: 'send', notificationId: s.request!.notification_id, channel, attempt: d.attempt, reason, fallback: s.fallback, capDate, at: now, ...(s.template ? { template: s.template } : {}) }] });
      if (d.reason === 'retry' && progress.status === 'retrying' && progress.attempt === d.attempt - 1) return send(`retry ${d.attempt}`);
      if (d.reason === 'reconcile' && progress.status === 'reconciling' && progress.attempt === d.attempt - 1) return send(null);
      return resume(s, state.context, now);
    }
    case 'cancelled': {
      // Only what has not gone out: once a channel was sent (or the notification settled), a cancel changes nothing.
      if (!s.request || !cancellable(s) || (s.status === 'batched' && state.digestSent)) return none;
      const c = input.cancel;
      return one(outcome(s, 'cancelled', now, { reason: c.reason ? `cancelled by ${c.requested_by}: ${c.reason}` : `cancelled by ${c.requested_by}`, digest_date: s.status === 'batched' ? s.digestDate : null }));
    }
    case 'send_succeeded': {
      const c = input.send.channel;
      if (!s.request || s.channels[c]?.status === 'sent') return none;
      return one(
        outcome(s, 'sent', now, {
          channel: c,
          attempt: input.send.attempt,
          reason: input.send.reason,
          provider: input.provider,
          provider_message_id: input.providerMessageId,
          locale: input.locale,
          fallback: [...input.send.fallback],
          cap_date: input.send.capDate,
          ...(input.route
            ? { destination_country: input.route.country, price_micros: input.route.priceMicros, price_currency: input.route.currency, route_reason: input.route.reason }
            : {}),
          ...(input.template ? { template_version: input.template.version, experiment: input.template.experiment, variant: input.template.variant } : {}),
        }),
      );
    }
    case 'send_failed': {
      const { send } = input;
      if (!s.request || s.channels[send.channel]?.status === 'sent') return none;
      if (input.unreachable) {
        // Nothing to retry or dead-letter on this channel, but the planned fallback still goes.
        const next = fallbackSend(s, send.fallback, send.channel, `fallback after ${send.channel}: ${input.message}`, send.capDate, now, send.template ?? s.template);
        return one(outcome(s, 'failed', now, { channel: send.channel, attempt: send.attempt, reason: input.message, fallback: [...send.fallback], ...pinned(send) }), next ? [next] : []);
      }
      if (input.retryable && send.attempt <= policy.retryBackoffMs.length) {
        const dueAt = now + (policy.retryBackoffMs[send.attempt - 1] ?? 60_000);
        return one(outcome(s, 'retrying', now, { channel: send.channel, attempt: send.attempt, reason: input.message, provider: input.provider, fallback: [...send.fallback], due_at: dueAt, ...pinned(send) }));
      }
      // Out of retries, or refused for good: failed, dead-lettered, and the next planned channel if any.
      const effects: DispatchEffect[] = [{ kind: 'dead_letter', code: input.retryable ? 'provider_retries_exhausted' : 'provider_rejected', message: input.message }];
      const next = fallbackSend(s, send.fallback, send.channel, `fallback after ${send.channel} failed`, send.capDate, now, send.template ?? s.template);
      if (next) effects.push(next);
      return one(outcome(s, 'failed', now, { channel: send.channel, attempt: send.attempt, reason: input.message, provider: input.provider, fallback: [...send.fallback], ...pinned(send) }), effects);
    }
    case 'send_unknown': {
      const { send } = input;
      if (!s.request || s.channels[send.channel]?.status === 'sent') return none;
      return one(outcome(s, 'reconciling', now, { channel: send.channel, attempt: send.attempt, reason: 'outcome lost in a crash: waiting for the provider events', fallback: [...send.fallback], due_at: input.until, ...pinned(send) }));
    }
    case 'delivery': {
      const e = input.event;
      const r = s.request;
      if (!r) return none;
      // An address that cannot or must not receive mail goes on the suppression list, whatever the
      // category: the next message to it is not sent (and this one falls back below).
      const why = suppressionFrom(e);
      const suppressing: DispatchEffect[] =
        why && e.recipient ? [{ kind: 'suppress_address', userId: r.user_id, channel: 'email', address: e.recipient, reason: why, at: e.occurred_at, actor: e.provider, detail: `${e.provider} ${e.provider_event} on notification ${r.notification_id}` }] : [];
      if (hardFailure(e)) {
        const next = fallbackSend(s, s.fallback, e.channel as Channel, `fallback after ${e.channel} ${e.kind}`, capDateOf(r, state.context, now), now);
        const effects = [...suppressing, ...(next ? [next] : [])];
        return effects.length > 0 ? { events: [], effects } : none;
      }
      // Unsubscribes and spam reports at the provider become preference changes (the audit trail).
      if ((e.kind === 'unsubscribed' || e.kind === 'spam_reported' || e.kind === 'resubscribed') && !isEssential(r.category)) {
        return {
          events: [],
          effects: [
            ...suppressing,
            {
              kind: 'change_preferences',
              userId: r.user_id,
              change: e.kind === 'resubscribed' ? 'resubscribed' : 'unsubscribed',
              category: e.kind === 'spam_reported' ? null : r.category,
              actor: e.provider,
              reason: `${e.provider} ${e.provider_event} on notification ${r.notification_id}`,
            },
          ],
        };
      }
      return suppressing.length > 0 ? { events: [], effects: suppressing } : none;
    }
    default: {
      const _exhaustive: never = input;
      return _exhaustive;
    }
  }
}

/** Whether the decision for this input reads the user's preferences and recipient. */
export function needsContext(input: DispatchInput): boolean {
  switch (input.kind) {
    case 'requested':
      return true;
    case 'due':
      return input.due.reason === 'quiet_hours_end' || input.due.reason === 'retry' || input.due.reason === 'reconcile' || input.due.reason === 'scheduled' || input.due.reason === 'escalation';
    case 'cancelled':
      return false;
    case 'delivery':
      return hardFailure(input.event);
    case 'send_succeeded':
    case 'send_failed':
    case 'send_unknown':
      return false;
    default: {
      const _exhaustive: never = input;
      return _exhaustive;
    }
  }
}
