/**
 * The export contract (ARCHITECTURE, ADR 0018): everything Eventline holds about one user, as one
 * machine-readable JSON document, built from the topics and the read models with every personal
 * field opened (a field whose subject was erased reads `erased`). GET /v1/users/:userId/export
 * (producers/privacy/routes.ts) and `eventline privacy export <userId>` give the same document.
 *
 * Format `eventline.user-export.v1`:
 *
 *   format, user_id, generated_at (ISO 8601)
 *   preferences           {changed_at, event_id, document}: the current document (defaults and
 *                         changed_at null when the user never set any)
 *   preference_history    every PreferencesChanged of the user, oldest first
 *   notifications         [{notification_id, request, timeline}]: request is the NotificationRequested
 *                         with `data` parsed (null when only dispatches of it remain); timeline the
 *                         NotificationDispatched and DeliveryEventReceived records about it, in time
 *                         order, as {at, record, event}
 *   delivery_events       every DeliveryEventReceived about the user (its user_id, one of the
 *                         user's notifications, or a provider message id of one of them)
 *   inbox                 the inbox read model's items (null when the projection never ran)
 *   push_subscriptions    [{endpoint, created_at}] (never the keys)
 *   stripe_customers      [{customer_id, linked_by, events, subscriptions, invoices, charges}]:
 *                         events are the customer's StripeEventReceived with `payload` parsed; the
 *                         three lists the latest state of each object of that type, by id
 *   dunning               DunningStepDecided of those customers (or naming the user)
 *   fraud_scores          FraudScored of those customers
 *
 * Record values keep their fields and types as docs/topics.md describes them (times in ms since
 * the epoch); read-model times are ISO 8601.
 *
 * Each topic is read once to its end as of the call, keeping only the user's records. The one
 * exception: a Stripe customer found to be the user's only by a customer object met part-way
 * through stripe.events.v1 (no privacy.subject_links row), whose earlier records were skipped,
 * has those read in a second pass over that topic.
 */
import type { Runtime } from '../../lib/runtime.ts';
import { ERASED } from '../../lib/privacy/crypto.ts';
import { openRecord, type ValueBox } from '../../lib/privacy/records.ts';
import { readCustomer, readStripeEvent } from '../../lib/stripe/index.ts';
import type {
  DeliveryEventReceived,
  DunningStepDecided,
  FraudScored,
  NotificationDispatched,
  NotificationRequested,
  PreferencesChanged,
  RecordName,
  StripeEventReceived,
} from '../../lib/topics.ts';
import { PushSubscriptions } from '../../notify/index.ts';
import { inboxSchema, readFeed, type InboxItemRow } from '../../projections/inbox/read.ts';
import type { Preferences } from '../../projections/preferences/document.ts';
import { readPreferences } from '../../projections/preferences/store.ts';

export const EXPORT_FORMAT = 'eventline.user-export.v1';

/** A JSON value parsed from opened text: the parsed value, `erased`, or the text itself when it is not JSON. */
export type Parsed = unknown;

export interface ExportedRequest extends Omit<NotificationRequested, 'data'> {
  readonly data: Parsed;
}

export type TimelineEntry =
  | { readonly at: number; readonly record: 'NotificationDispatched'; readonly event: NotificationDispatched }
  | { readonly at: number; readonly record: 'DeliveryEventReceived'; readonly event: DeliveryEventReceived };

export interface ExportedNotification {
  readonly notification_id: string;
  readonly request: ExportedRequest | null;
  readonly timeline: readonly TimelineEntry[];
}

export interface ExportedInboxItem {
  readonly notification_id: string;
  readonly template: string;
  readonly category: string;
  readonly locale: string | null;
  readonly created_at: string;
  readonly seen_at: string | null;
  readonly read_at: string | null;
  readonly archived_at: string | null;
  readonly data: Parsed;
}

export interface ExportedStripeEvent extends Omit<StripeEventReceived, 'payload'> {
  readonly payload: Parsed;
}

export interface ExportedCustomer {
  readonly customer_id: string;
  /** How the customer is known to be the user's: a privacy.subject_links row, and/or its metadata.user_id. */
  readonly linked_by: readonly ('subject_link' | 'metadata')[];
  readonly events: readonly ExportedStripeEvent[];
  readonly subscriptions: readonly Readonly<Record<string, unknown>>[];
  readonly invoices: readonly Readonly<Record<string, unknown>>[];
  readonly charges: readonly Readonly<Record<string, unknown>>[];
}

export interface UserExport {
  readonly format: typeof EXPORT_FORMAT;
  readonly user_id: string;
  readonly generated_at: string;
  readonly preferences: { readonly changed_at: string | null; readonly event_id: string | null; readonly document: Preferences };
  readonly preference_history: readonly PreferencesChanged[];
  readonly notifications: readonly ExportedNotification[];
  readonly delivery_events: readonly DeliveryEventReceived[];
  readonly inbox: readonly ExportedInboxItem[] | null;
  readonly push_subscriptions: readonly { readonly endpoint: string; readonly created_at: string }[];
  readonly stripe_customers: readonly ExportedCustomer[];
  readonly dunning: readonly DunningStepDecided[];
  readonly fraud_scores: readonly FraudScored[];
}

// ---------------------------------------------------------------- pure parts

/** Opened text as JSON: `erased` stays `erased`; text that is not JSON is kept as it is. */
export function parseOpened(text: string): Parsed {
  if (text === ERASED) return ERASED;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The Stripe customer a stored event belongs to: its customer_id, else the customer object's own id. */
export function stripeCustomerOf(e: Pick<StripeEventReceived, 'customer_id' | 'object_type' | 'object_id'>): string | null {
  return e.customer_id ?? (e.object_type === 'customer' ? e.object_id : null);
}

/** The user a customer event names in its customer object's metadata.user_id; null for other events. */
export function metadataUserOf(e: Pick<StripeEventReceived, 'object_type' | 'payload'>): string | null {
  if (e.object_type !== null && e.object_type !== 'customer') return null;
  // metadata is never sealed (lib/privacy/records.ts), so the stored payload is read as it is.
  return readCustomer(readStripeEvent(e.payload).object)?.userId ?? null;
}

const objectOf = (payload: Parsed): Readonly<Record<string, unknown>> | null => {
  const data = payload !== null && typeof payload === 'object' ? (payload as { data?: unknown }).data : undefined;
  const object = data !== null && typeof data === 'object' ? (data as { object?: unknown }).object : undefined;
  return object !== null && typeof object === 'object' && !Array.isArray(object) ? (object as Readonly<Record<string, unknown>>) : null;
};

/**
 * The latest state of each Stripe object of a type (its data.object's `object`), by id, from a
 * customer's events: the one of the latest event (occurred_at; among equal times the later one in
 * the list, i.e. in the log). In the order each id first appears.
 */
export function latestObjects(events: readonly Pick<ExportedStripeEvent, 'occurred_at' | 'payload'>[], type: string): Readonly<Record<string, unknown>>[] {
  const latest = new Map<string, { at: number; object: Readonly<Record<string, unknown>> }>();
  for (const e of events) {
    const object = objectOf(e.payload);
    if (object === null || object.object !== type || typeof object.id !== 'string' || object.id === '') continue;
    const seen = latest.get(object.id);
    if (seen === undefined || e.occurred_at >= seen.at) latest.set(object.id, { at: e.occurred_at, object });
  }
  return [...latest.values()].map((v) => v.object);
}

const byTime = <T extends { readonly occurred_at: number; readonly received_at: number }>(items: readonly T[]): T[] =>
  items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => a.item.occurred_at - b.item.occurred_at || a.item.received_at - b.item.received_at || a.i - b.i)
    .map((x) => x.item);

/**
 * Each notification with its timeline: the dispatcher's outcomes for it and the delivery events
 * that name it (or, without a notification id, carry the provider message id of one of its
 * dispatches), in time order (occurred_at, then received_at; a dispatch before a delivery event
 * at the same time). Notifications are in request order; one with dispatches but no request left
 * (retention) follows with request null.
 */
export function assembleNotifications(
  requests: readonly ExportedRequest[],
  dispatches: readonly NotificationDispatched[],
  deliveries: readonly DeliveryEventReceived[],
): ExportedNotification[] {
  const ids: string[] = [];
  const requestOf = new Map<string, ExportedRequest>();
  for (const r of requests) {
    if (!requestOf.has(r.notification_id)) ids.push(r.notification_id);
    requestOf.set(r.notification_id, r);
  }
  const timeline = new Map<string, { at: number; received: number; order: number; entry: TimelineEntry }[]>();
  const add = (id: string, received: number, entry: TimelineEntry): void => {
    let list = timeline.get(id);
    if (!list) timeline.set(id, (list = []));
    list.push({ at: entry.at, received, order: list.length, entry });
  };
  const byMessage = new Map<string, string>();
  for (const d of dispatches) {
    if (!requestOf.has(d.notification_id) && !timeline.has(d.notification_id)) ids.push(d.notification_id);
    add(d.notification_id, d.received_at, { at: d.occurred_at, record: 'NotificationDispatched', event: d });
    if (d.provider_message_id) byMessage.set(d.provider_message_id, d.notification_id);
  }
  const known = new Set(ids);
  for (const e of deliveries) {
    const id = e.notification_id ?? (e.provider_message_id ? byMessage.get(e.provider_message_id) : undefined);
    if (id === undefined || !known.has(id)) continue;
    add(id, e.received_at, { at: e.occurred_at, record: 'DeliveryEventReceived', event: e });
  }
  const kindRank = (t: TimelineEntry) => (t.record === 'NotificationDispatched' ? 0 : 1);
  return ids.map((id) => ({
    notification_id: id,
    request: requestOf.get(id) ?? null,
    timeline: (timeline.get(id) ?? [])
      .sort((a, b) => a.at - b.at || a.received - b.received || kindRank(a.entry) - kindRank(b.entry) || a.order - b.order)
      .map((x) => x.entry),
  }));
}

// ---------------------------------------------------------------- scanning

/** What a scan needs of a consumed record (lib/kafka Incoming). */
export interface ScannedRecord {
  readonly record: string;
  readonly value: unknown;
  readonly key: string | null;
  readonly partition: number;
  readonly offset: string;
}

interface Position {
  readonly partition: number;
  readonly offset: bigint;
}

/**
 * Keeps the user's records from each topic as it is read, and nothing else (the ids of Stripe
 * customers met before they were known to be the user's aside). Feed the first-phase topics
 * (preference changes, requests, dispatches, Stripe events) before the second-phase ones
 * (delivery events, dunning, fraud scores): these match on what the first found.
 */
export class UserScan {
  readonly preferenceChanges: PreferencesChanged[] = [];
  readonly requests: NotificationRequested[] = [];
  readonly dispatches: NotificationDispatched[] = [];
  readonly deliveryEvents: DeliveryEventReceived[] = [];
  readonly dunning: DunningStepDecided[] = [];
  readonly fraud: FraudScored[] = [];
  /** Stripe events per customer, in log order. */
  readonly stripe = new Map<string, StripeEventReceived[]>();
  /** Customers linked in privacy.subject_links, and those whose customer object names the user. */
  readonly linked = new Set<string>();
  readonly byMetadata = new Set<string>();
  private readonly skipped = new Set<string>();
  /** Customers found part-way, after some of their records were skipped: where they were found. */
  private readonly late = new Map<string, Position>();
  private readonly earlier = new Map<string, StripeEventReceived[]>();

  constructor(
    readonly userId: string,
    links: readonly string[] = [],
  ) {
    for (const c of links) {
      this.linked.add(c);
      this.stripe.set(c, []);
    }
  }

  preferenceChange(r: ScannedRecord): void {
    if (r.record !== 'PreferencesChanged') return;
    const v = r.value as PreferencesChanged;
    if (v.user_id === this.userId) this.preferenceChanges.push(v);
  }

  request(r: ScannedRecord): void {
    if (r.record !== 'NotificationRequested') return;
    const v = r.value as NotificationRequested;
    if (v.user_id === this.userId) this.requests.push(v);
  }

  dispatch(r: ScannedRecord): void {
    if (r.record !== 'NotificationDispatched') return;
    const v = r.value as NotificationDispatched;
    if (v.user_id === this.userId) this.dispatches.push(v);
  }

  stripeEvent(r: ScannedRecord): void {
    if (r.record !== 'StripeEventReceived') return;
    const v = r.value as StripeEventReceived;
    const customer = stripeCustomerOf(v);
    if (customer === null) return;
    if (metadataUserOf(v) === this.userId) {
      this.byMetadata.add(customer);
      if (!this.stripe.has(customer)) {
        this.stripe.set(customer, []);
        if (this.skipped.delete(customer)) this.late.set(customer, { partition: r.partition, offset: BigInt(r.offset) });
      }
    }
    const events = this.stripe.get(customer);
    if (events) events.push(v);
    else this.skipped.add(customer);
  }

  /** Whether a second pass over stripe.events.v1 is needed (see `earlierStripeEvent`). */
  get needsStripeCatchUp(): boolean {
    return this.late.size > 0;
  }

  /** Second pass: the records of late-found customers before the one they were found by. */
  earlierStripeEvent(r: ScannedRecord): void {
    if (r.record !== 'StripeEventReceived') return;
    const v = r.value as StripeEventReceived;
    const customer = stripeCustomerOf(v);
    const found = customer === null ? undefined : this.late.get(customer);
    if (customer === null || found === undefined || r.partition !== found.partition || BigInt(r.offset) >= found.offset) return;
    let list = this.earlier.get(customer);
    if (!list) this.earlier.set(customer, (list = []));
    list.push(v);
  }

  /** After the second pass: the earlier records put before the rest. */
  finishStripeCatchUp(): void {
    for (const [customer, earlier] of this.earlier) this.stripe.set(customer, [...earlier, ...(this.stripe.get(customer) ?? [])]);
    this.earlier.clear();
    this.late.clear();
  }

  get customers(): ReadonlySet<string> {
    return new Set(this.stripe.keys());
  }

  deliveryEvent(r: ScannedRecord): void {
    if (r.record !== 'DeliveryEventReceived') return;
    const v = r.value as DeliveryEventReceived;
    if (v.user_id === this.userId || (v.notification_id !== null && this.notificationIds().has(v.notification_id)) || (v.provider_message_id !== null && this.messageIds().has(v.provider_message_id))) {
      this.deliveryEvents.push(v);
    }
  }

  dunningStep(r: ScannedRecord): void {
    if (r.record !== 'DunningStepDecided') return;
    const v = r.value as DunningStepDecided;
    if (this.stripe.has(v.customer_id) || v.user_id === this.userId) this.dunning.push(v);
  }

  fraudScore(r: ScannedRecord): void {
    if (r.record !== 'FraudScored') return;
    const v = r.value as FraudScored;
    if (this.stripe.has(v.customer_id)) this.fraud.push(v);
  }

  private ids: { notifications: Set<string>; messages: Set<string>; at: number } | null = null;

  private notificationIds(): Set<string> {
    return this.idSets().notifications;
  }

  private messageIds(): Set<string> {
    return this.idSets().messages;
  }

  /** The user's notification and provider message ids (recomputed when requests or dispatches grew). */
  private idSets(): { notifications: Set<string>; messages: Set<string> } {
    const size = this.requests.length + this.dispatches.length;
    if (this.ids === null || this.ids.at !== size) {
      const notifications = new Set([...this.requests.map((r) => r.notification_id), ...this.dispatches.map((d) => d.notification_id)]);
      const messages = new Set(this.dispatches.flatMap((d) => (d.provider_message_id ? [d.provider_message_id] : [])));
      this.ids = { notifications, messages, at: size };
    }
    return this.ids;
  }
}

// ---------------------------------------------------------------- assembly

export interface ReadModels {
  readonly preferences: { readonly preferences: Preferences; readonly changedAt: Date | null; readonly eventId: string | null };
  readonly inbox: readonly InboxItemRow[] | null;
  readonly pushSubscriptions: readonly { readonly endpoint: string; readonly createdAt: Date }[];
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

async function openAll<V extends object>(box: ValueBox, record: RecordName, values: readonly V[]): Promise<V[]> {
  const out: V[] = [];
  for (const v of values) out.push(await openRecord(box, record, v));
  return out;
}

/** The document from a finished scan and the read models (already opened where their readers open). */
export async function assembleExport(box: ValueBox, scan: UserScan, models: ReadModels, now: Date = new Date()): Promise<UserExport> {
  const requests: ExportedRequest[] = [];
  for (const r of await openAll(box, 'NotificationRequested', scan.requests)) requests.push({ ...r, data: parseOpened(r.data) });
  const dispatches = await openAll(box, 'NotificationDispatched', scan.dispatches);
  const deliveryEvents = byTime(await openAll(box, 'DeliveryEventReceived', scan.deliveryEvents));

  const stripeCustomers: ExportedCustomer[] = [];
  for (const [customerId, stored] of [...scan.stripe].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const events: ExportedStripeEvent[] = [];
    for (const e of await openAll(box, 'StripeEventReceived', stored)) events.push({ ...e, payload: parseOpened(e.payload) });
    stripeCustomers.push({
      customer_id: customerId,
      linked_by: [...(scan.linked.has(customerId) ? ['subject_link' as const] : []), ...(scan.byMetadata.has(customerId) ? ['metadata' as const] : [])],
      events,
      subscriptions: latestObjects(events, 'subscription'),
      invoices: latestObjects(events, 'invoice'),
      charges: latestObjects(events, 'charge'),
    });
  }

  const inbox: ExportedInboxItem[] | null = models.inbox === null ? null : [];
  for (const row of models.inbox ?? []) {
    inbox?.push({
      notification_id: row.notification_id,
      template: row.template,
      category: row.category,
      locale: row.locale,
      created_at: row.created_at.toISOString(),
      seen_at: iso(row.seen_at),
      read_at: iso(row.read_at),
      archived_at: iso(row.archived_at),
      data: row.data === null ? null : parseOpened(await box.open(row.data)),
    });
  }

  return {
    format: EXPORT_FORMAT,
    user_id: scan.userId,
    generated_at: now.toISOString(),
    preferences: { changed_at: iso(models.preferences.changedAt), event_id: models.preferences.eventId, document: models.preferences.preferences },
    preference_history: byTime(await openAll(box, 'PreferencesChanged', scan.preferenceChanges)),
    notifications: assembleNotifications(byTime(requests), dispatches, deliveryEvents),
    delivery_events: deliveryEvents,
    inbox,
    push_subscriptions: models.pushSubscriptions.map((s) => ({ endpoint: s.endpoint, created_at: s.createdAt.toISOString() })),
    stripe_customers: stripeCustomers,
    dunning: byTime(await openAll(box, 'DunningStepDecided', scan.dunning)),
    fraud_scores: byTime(await openAll(box, 'FraudScored', scan.fraud)),
  };
}

// ---------------------------------------------------------------- reading

const INBOX_PAGE = 500;

async function readInbox(rt: Runtime, userId: string): Promise<InboxItemRow[] | null> {
  const schema = await inboxSchema(rt.db);
  if (schema === null) return null;
  const items: InboxItemRow[] = [];
  for (let after: { createdAt: number; notificationId: string } | null = null; ; ) {
    const page = await readFeed(rt.db, schema, userId, { filter: 'all', limit: INBOX_PAGE, after });
    items.push(...page.items);
    const last = page.items.at(-1);
    if (!page.more || !last) break;
    after = { createdAt: last.created_at.getTime(), notificationId: last.notification_id };
  }
  return items.reverse(); // oldest first
}

async function linkedCustomers(rt: Runtime, userId: string): Promise<string[]> {
  const { rows } = await rt.db.query<{ subject: string }>(`SELECT subject FROM privacy.subject_links WHERE user_id = $1 AND subject LIKE 'customer:%' ORDER BY subject`, [userId]);
  return rows.map((r) => r.subject.slice('customer:'.length));
}

/** The first phase of a scan: what names the user itself (and finds the user's notifications and customers). */
async function scanUser(rt: Runtime, userId: string): Promise<UserScan> {
  const scan = new UserScan(userId, await linkedCustomers(rt, userId));
  const kafka = rt.kafka;
  await Promise.all([
    kafka.readToEnd('notify.preference-changes.v1', (r) => scan.preferenceChange(r)),
    kafka.readToEnd('notify.dispatch-requests.v1', (r) => scan.request(r)),
    kafka.readToEnd('notify.dispatches.v1', (r) => scan.dispatch(r)),
    kafka.readToEnd('stripe.events.v1', (r) => scan.stripeEvent(r)),
  ]);
  return scan;
}

/** Everything Eventline holds about the user (see the top of this file). */
export async function exportUser(rt: Runtime, userId: string): Promise<UserExport> {
  const box = await rt.privacy();
  const scan = await scanUser(rt, userId);
  const kafka = rt.kafka;
  // Second phase: what names the user's notifications and customers (and the rare catch-up).
  await Promise.all([
    kafka.readToEnd('notify.delivery-events.v1', (r) => scan.deliveryEvent(r)),
    kafka.readToEnd('billing.dunning-steps.v1', (r) => scan.dunningStep(r)),
    kafka.readToEnd('risk.fraud-scores.v1', (r) => scan.fraudScore(r)),
    scan.needsStripeCatchUp ? kafka.readToEnd('stripe.events.v1', (r) => scan.earlierStripeEvent(r)).then(() => scan.finishStripeCatchUp()) : Promise.resolve(),
  ]);

  const [preferences, inbox, push] = await Promise.all([
    readPreferences(rt.db, userId, { box }),
    readInbox(rt, userId),
    new PushSubscriptions(rt.db).forUser(userId),
  ]);
  return assembleExport(box, scan, { preferences, inbox, pushSubscriptions: push });
}

/** The Stripe customers and notifications an erasure must shred: the export's first scan, nothing opened. */
export async function findSubjects(rt: Runtime, userId: string): Promise<{ customers: string[]; notifications: string[] }> {
  const scan = await scanUser(rt, userId);
  const notifications = new Set([...scan.requests.map((r) => r.notification_id), ...scan.dispatches.map((d) => d.notification_id)]);
  return { customers: [...scan.customers].sort(), notifications: [...notifications].sort() };
}
