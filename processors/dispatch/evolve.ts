/**
 * The dispatch processor's state, pure: a fold of its inputs (requests, fired timers) and its own
 * outcomes. Three entity kinds:
 *
 *   dispatch:n:<notification id>     the request, the latest decision (by `seq`), each channel's progress,
 *                                    the fallback still planned, the timers already fired
 *   dispatch:cap:<user>:<local date> the messages counted towards the user's daily cap that day
 *   dispatch:digest:<user>:<date>    the LOW messages batched into that day's digest, and whether it went
 *   dispatch:series:<series id>      whether DELETE cancelled a recurring series or a drip sequence
 *   dispatch:invoice:<invoice id>    whether the Stripe invoice was paid or voided (a sequence's exit)
 *
 * Every fold is order-insensitive — "latest" means highest (seq, occurred_at, event id), sets are
 * unions — so reading the topics one after the other during a rebuild gives the live state.
 */
import { entityKind, type Fact, type Output, type Timer } from '../../lib/decider/index.ts';
import type { DispatchStatus, NotificationDispatched, NotificationDue, NotificationRequested } from '../../lib/topics.ts';
import type { Channel } from '../../projections/preferences/document.ts';

export type DispatchFact = Fact<'notify.dispatch-requests.v1' | 'notify.dispatches.v1' | 'notify.delivery-events.v1' | 'stripe.events.v1'>;

/** The delivery events the state keeps: a recipient engaging with a message (what escalation waits for). */
export const engagementKinds = ['opened', 'clicked', 'read'] as const;
export type EngagementKind = (typeof engagementKinds)[number];
export const isEngagement = (kind: string): kind is EngagementKind => (engagementKinds as readonly string[]).includes(kind);

export const channels = ['email', 'sms', 'push', 'in_app'] as const satisfies readonly Channel[];
const isChannel = (c: string | null): c is Channel => c !== null && (channels as readonly string[]).includes(c);

/** The statuses this version decides; `unknown` is what decoding makes of a newer version's status. */
export type OutcomeStatus = Exclude<DispatchStatus, 'unknown'>;
export type NotificationStatus = 'none' | 'requested' | OutcomeStatus;
export const isOutcomeStatus = (s: DispatchStatus): s is OutcomeStatus => s !== 'unknown';

/** The order of decisions: seq first (records from before seq existed carry 0), then time and id. */
export type Order = readonly [seq: number, at: number, eventId: string];
const orderOf = (o: NotificationDispatched): Order => [o.seq, o.occurred_at, o.event_id];
function later(a: Order, b: Order | null): boolean {
  if (b === null) return true;
  if (a[0] !== b[0]) return a[0] > b[0];
  if (a[1] !== b[1]) return a[1] > b[1];
  return a[2] > b[2];
}

export interface ChannelProgress {
  readonly status: 'sent' | 'retrying' | 'reconciling' | 'failed';
  readonly attempt: number;
  readonly dueAt: number | null;
  readonly order: Order;
}

export interface NotificationState {
  readonly request: NotificationRequested | null;
  readonly userId: string | null;
  /** The latest decision's order, null before any. */
  readonly top: Order | null;
  readonly status: NotificationStatus;
  readonly deferredUntil: number | null;
  /** The latest deferral's attempt (1, 2, …): its timer is `due:quiet_hours_end:<id>:any:<attempt − 1>`. */
  readonly deferredAttempt: number;
  /** How many deferrals were decided (the highest deferral attempt). */
  readonly deferrals: number;
  /** Channels planned as fallback (already filtered by preferences and reachability), as of the latest decision. */
  readonly fallback: readonly Channel[];
  readonly channels: Readonly<Partial<Record<Channel, ChannelProgress>>>;
  readonly locale: string | null;
  /** Event ids of this notification's timers already consumed. */
  readonly fired: readonly string[];
  /** When a scheduled notification (status `scheduled`) is due: the request's send_at. */
  readonly scheduledFor: number | null;
  /** The digest a batched notification joined (its user's local date), to take it out again when it is cancelled. */
  readonly digestDate: string | null;
  /** The first time (event time) the recipient opened, clicked or read it, per kind. */
  readonly engaged: Readonly<Partial<Record<EngagementKind, number>>>;
  /** The template version and variant the message was decided with (from its first outcome that records one): every later send of it uses them. */
  readonly template: { readonly version: number; readonly experiment: string | null; readonly variant: string | null } | null;
}

export const emptyNotification: NotificationState = { request: null, userId: null, top: null, status: 'none', deferredUntil: null, deferredAttempt: 0, deferrals: 0, fallback: [], channels: {}, locale: null, fired: [], scheduledFor: null, digestDate: null, engaged: {}, template: null };

/** The next decision's sequence number. */
export const nextSeq = (s: NotificationState): number => (s.top?.[0] ?? 0) + 1;

function addSorted(list: readonly string[], item: string): readonly string[] {
  return list.includes(item) ? list : [...list, item].sort();
}

function evolveNotification(s: NotificationState, f: DispatchFact): NotificationState {
  switch (f.record) {
    case 'NotificationRequested':
      return s.request ? s : { ...s, request: f.value, userId: f.value.user_id, status: s.status === 'none' ? 'requested' : s.status };
    case 'NotificationDue':
      return { ...s, fired: addSorted(s.fired, f.value.event_id) };
    case 'NotificationCancelled':
    case 'StripeEventReceived':
      // Asking is not deciding: the decision (a `cancelled` outcome, or none once sent) is what changes the state.
      return s;
    case 'DeliveryEventReceived': {
      const e = f.value;
      if (!isEngagement(e.kind)) return s;
      const first = s.engaged[e.kind];
      return first !== undefined && first <= e.occurred_at ? s : { ...s, engaged: { ...s.engaged, [e.kind]: e.occurred_at } };
    }
    case 'NotificationDispatched': {
      const o = f.value;
      if (!isOutcomeStatus(o.status)) return s;
      const order = orderOf(o);
      let next: NotificationState = {
        ...s,
        userId: s.userId ?? o.user_id,
        deferrals: o.status === 'deferred' ? Math.max(s.deferrals, o.attempt) : s.deferrals,
        digestDate: o.status === 'batched' ? (digestDateOf(o) ?? s.digestDate) : s.digestDate,
        template: s.template ?? (o.template_version !== null ? { version: o.template_version, experiment: o.experiment, variant: o.variant } : null),
      };
      if (isChannel(o.channel) && (o.status === 'sent' || o.status === 'retrying' || o.status === 'reconciling' || o.status === 'failed')) {
        const current = s.channels[o.channel];
        // A channel once sent stays sent, whatever order its outcomes are folded in.
        const replaces = current === undefined || (o.status === 'sent' ? current.status !== 'sent' || later(order, current.order) : current.status !== 'sent' && later(order, current.order));
        if (replaces) next = { ...next, channels: { ...next.channels, [o.channel]: { status: o.status, attempt: o.attempt, dueAt: o.due_at, order } } };
        if (o.status === 'sent' && o.locale && (replaces || next.locale === null)) next = { ...next, locale: o.locale };
      }
      if (later(order, s.top)) {
        next = {
          ...next,
          top: order,
          status: o.status,
          deferredUntil: o.status === 'deferred' ? (o.due_at ?? o.deferred_until) : null,
          deferredAttempt: o.status === 'deferred' ? o.attempt : 0,
          scheduledFor: o.status === 'scheduled' ? o.due_at : null,
          fallback: o.fallback.filter(isChannel),
        };
      }
      return next;
    }
    default: {
      const _exhaustive: never = f;
      return _exhaustive;
    }
  }
}

/** When the first channel other than `except` was sent (event time), or null. */
export function firstSentAt(s: NotificationState, except: string): number | null {
  let first: number | null = null;
  for (const c of channels) {
    const p = s.channels[c];
    if (c !== except && p?.status === 'sent' && (first === null || p.order[1] < first)) first = p.order[1];
  }
  return first;
}

export function dueEventId(reason: string, notificationId: string, channel: string | null, attempt: number): string {
  return `due:${reason}:${notificationId}:${channel ?? 'any'}:${attempt}`;
}

function dueOutput(userId: string, due: NotificationDue): Output {
  return { topic: 'notify.dispatch-requests.v1', key: userId, record: 'NotificationDue', value: due };
}

function notificationTimers(s: NotificationState, id: string): Timer[] {
  const user = s.userId;
  // A cancelled notification waits for nothing (a retry it had planned included).
  if (!user || s.status === 'cancelled') return [];
  const out: Timer[] = [];
  const add = (reason: string, channel: Channel | null, attempt: number, at: number) => {
    const eventId = dueEventId(reason, id, channel, attempt);
    if (s.fired.includes(eventId)) return;
    out.push({ id: eventId, dueAt: at, output: dueOutput(user, { event_id: eventId, occurred_at: at, received_at: at, notification_id: id, user_id: user, reason, attempt, channel }) });
  };
  if (s.status === 'deferred' && s.deferredUntil !== null) add('quiet_hours_end', null, Math.max(0, s.deferredAttempt - 1), s.deferredUntil);
  if (s.status === 'scheduled' && s.scheduledFor !== null) add('scheduled', null, 0, s.scheduledFor);
  // Escalation: once the first channel went out, a timer at that time plus the delay (the decision checks engagement).
  const escalation = s.request?.escalation ?? null;
  const firstSent = escalation ? firstSentAt(s, escalation.channel) : null;
  if (escalation && firstSent !== null && s.channels[escalation.channel as Channel] === undefined) add('escalation', escalation.channel as Channel, 0, firstSent + escalation.after_seconds * 1000);
  for (const c of channels) {
    const p = s.channels[c];
    if (!p || p.dueAt === null) continue;
    if (p.status === 'retrying') add('retry', c, p.attempt + 1, p.dueAt);
    // The next attempt's timer (a second lost outcome gets its own, not the one already fired).
    if (p.status === 'reconciling') add('reconcile', c, p.attempt + 1, p.dueAt);
  }
  return out;
}

export const notificationKind = entityKind<DispatchFact, NotificationState>({
  name: 'dispatch:n',
  initial: emptyNotification,
  ttlSeconds: 60 * 86_400,
  keys: (f) => (f.record === 'StripeEventReceived' ? [] : f.record === 'DeliveryEventReceived' ? (f.value.notification_id && isEngagement(f.value.kind) ? [f.value.notification_id] : []) : [f.value.notification_id]),
  evolve: evolveNotification,
  timers: notificationTimers,
});

// ---------------------------------------------------------------- daily cap
export interface CapState {
  readonly counted: readonly string[];
}

export const capKind = entityKind<DispatchFact, CapState>({
  name: 'dispatch:cap',
  initial: { counted: [] },
  ttlSeconds: 3 * 86_400,
  keys: (f) => (f.record === 'NotificationDispatched' && f.value.status === 'sent' && f.value.cap_date ? [`${f.value.user_id}:${f.value.cap_date}`] : []),
  evolve: (s, f) => (f.record === 'NotificationDispatched' ? { counted: addSorted(s.counted, f.value.notification_id) } : s),
});

/** Messages counted towards the cap that day, not counting `except`. */
export const sentOn = (cap: CapState | null, except: string): number => (cap?.counted ?? []).filter((id) => id !== except).length;

// ---------------------------------------------------------------- digests
export interface DigestState {
  readonly userId: string | null;
  readonly digestId: string | null;
  readonly sendAt: number | null;
  /** Notification ids batched into the digest (with the cancelled ones: see digestItems). */
  readonly items: readonly string[];
  /** Batched notifications cancelled before the digest went out. */
  readonly cancelled: readonly string[];
  /** The digest request went out (its NotificationRequested is on the topic). */
  readonly flushed: boolean;
}

const emptyDigest: DigestState = { userId: null, digestId: null, sendAt: null, items: [], cancelled: [], flushed: false };

/** The notifications a digest carries: those batched into it and not cancelled. */
export const digestItems = (s: DigestState): readonly string[] => s.items.filter((id) => !s.cancelled.includes(id));

/** The local date of a digest a batched outcome names (digest_date; older records only say it in the reason). */
function digestDateOf(o: NotificationDispatched): string | null {
  return o.digest_date ?? /(\d{4}-\d{2}-\d{2})$/.exec(o.reason ?? '')?.[1] ?? null;
}

export const DIGEST_TEMPLATE = 'digest';
export const DISPATCHER = 'processor.dispatch';

/** The (user, date) a digest request or a digest timer is for. */
function digestKeyOfRequest(r: NotificationRequested): string | null {
  if (r.requested_by !== DISPATCHER || r.template !== DIGEST_TEMPLATE) return null;
  const m = /^req:digest:(.+):(\d{4}-\d{2}-\d{2})$/.exec(r.event_id);
  return m ? `${m[1]}:${m[2]}` : null;
}

function digestKeys(f: DispatchFact): readonly string[] {
  switch (f.record) {
    case 'NotificationDispatched': {
      const date = f.value.status === 'batched' || f.value.status === 'cancelled' ? digestDateOf(f.value) : null;
      return date ? [`${f.value.user_id}:${date}`] : [];
    }
    case 'NotificationRequested': {
      const key = digestKeyOfRequest(f.value);
      return key ? [key] : [];
    }
    case 'NotificationDue':
      return f.value.reason.startsWith('digest:') ? [`${f.value.user_id}:${f.value.reason.slice('digest:'.length)}`] : [];
    case 'NotificationCancelled':
    case 'DeliveryEventReceived':
    case 'StripeEventReceived':
      return [];
    default: {
      const _exhaustive: never = f;
      return _exhaustive;
    }
  }
}

function evolveDigest(s: DigestState, f: DispatchFact): DigestState {
  switch (f.record) {
    case 'NotificationDispatched':
      if (f.value.status === 'cancelled') return { ...s, userId: f.value.user_id, cancelled: addSorted(s.cancelled, f.value.notification_id) };
      return {
        ...s,
        userId: f.value.user_id,
        digestId: f.value.digest_id ?? s.digestId,
        sendAt: f.value.due_at ?? s.sendAt,
        items: addSorted(s.items, f.value.notification_id),
      };
    case 'NotificationRequested':
      return { ...s, userId: f.value.user_id, flushed: true };
    case 'NotificationDue':
    case 'NotificationCancelled':
    case 'DeliveryEventReceived':
    case 'StripeEventReceived':
      return s;
    default: {
      const _exhaustive: never = f;
      return _exhaustive;
    }
  }
}

export function digestTimerId(userId: string, date: string): string {
  return `digest:${userId}:${date}`;
}

export const digestKind = entityKind<DispatchFact, DigestState>({
  name: 'dispatch:digest',
  initial: emptyDigest,
  ttlSeconds: 60 * 86_400,
  keys: digestKeys,
  evolve: evolveDigest,
  timers: (s, key) => {
    if (s.flushed || digestItems(s).length === 0 || s.sendAt === null || !s.userId || !s.digestId) return [];
    const date = key.slice(key.lastIndexOf(':') + 1);
    const eventId = `due:digest:${s.userId}:${date}`;
    return [
      {
        id: digestTimerId(s.userId, date),
        dueAt: s.sendAt,
        output: dueOutput(s.userId, { event_id: eventId, occurred_at: s.sendAt, received_at: s.sendAt, notification_id: s.digestId, user_id: s.userId, reason: `digest:${date}`, attempt: 0, channel: null }),
      },
    ];
  },
});

// ---------------------------------------------------------------- series
/** A recurring series (keyed by its first occurrence's id): whether DELETE cancelled it. */
export interface SeriesState {
  readonly cancelledAt: number | null;
}

export const seriesKind = entityKind<DispatchFact, SeriesState>({
  name: 'dispatch:series',
  initial: { cancelledAt: null },
  ttlSeconds: 800 * 86_400,
  // Every cancel is kept: whether its id is a series' is known when an occurrence reads it.
  keys: (f) => (f.record === 'NotificationCancelled' ? [f.value.notification_id] : []),
  evolve: (s, f) => (f.record === 'NotificationCancelled' && (s.cancelledAt === null || f.value.occurred_at < s.cancelledAt) ? { cancelledAt: f.value.occurred_at } : s),
});

// ---------------------------------------------------------------- invoices
/** The Stripe event types after which an invoice needs no more paying: what ends a sequence with exit_invoice_paid. */
export const invoiceSettledTypes: ReadonlySet<string> = new Set(['invoice.paid', 'invoice.payment_succeeded', 'invoice.voided']);

/** A Stripe invoice a drip sequence may exit on: when it was first paid or voided (event time), and how. */
export interface InvoiceState {
  readonly settledAt: number | null;
  readonly how: string | null;
  /** The event that settled it (ties in time go to the smaller event id). */
  readonly eventId?: string;
}

export const invoiceKind = entityKind<DispatchFact, InvoiceState>({
  name: 'dispatch:invoice',
  initial: { settledAt: null, how: null },
  // Longer than a sequence may run (producers/notifications/route.ts: 90 days in all).
  ttlSeconds: 120 * 86_400,
  keys: (f) => (f.record === 'StripeEventReceived' && f.value.object_id && invoiceSettledTypes.has(f.value.type) ? [f.value.object_id] : []),
  evolve: (s, f) =>
    f.record === 'StripeEventReceived' && (s.settledAt === null || f.value.occurred_at < s.settledAt || (f.value.occurred_at === s.settledAt && f.value.event_id < (s.eventId ?? '')))
      ? { settledAt: f.value.occurred_at, how: f.value.type, eventId: f.value.event_id }
      : s,
});

export const dispatchKinds = [notificationKind, capKind, digestKind, seriesKind, invoiceKind];
