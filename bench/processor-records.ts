/**
 * The records the processors would have written from a Stripe history (cli/demo/stripe-history.ts),
 * so that the projection benchmark replays the delivery, fraud and dunning projections at realistic
 * volumes: fraud scores, dunning decisions and fired timers, notification requests, dispatch
 * outcomes, and the SendGrid and Twilio events reporting on each message sent.
 *
 * Nothing Eventline decides is imitated here. Each processor's decisions are its pure decider's
 * (decide.ts) over its real state: the entity kinds of its evolve.ts, folded with lib/decider's
 * `foldInto` into a Map instead of Redis, inputs and outputs alike, as `commitDecision` folds them.
 * What stands in for each adapter is only its load step (`decideRecord` in processors/fraud/main.ts
 * and processors/dunning/main.ts, `loadDispatchState` in processors/dispatch/main.ts), restated here
 * synchronously over the Map — those are async because they read Redis:
 * - fraud scores every charge event it scores live (`paymentOf`, `decideFraud`);
 * - dunning opens a case per failed invoice, its timers fire on event time as its scheduler and
 *   event clock fire them (a timer due before the next Stripe event fires before it), and each fired
 *   step, recovery and end is decided by `decideDunning`; lifecycle messages by `lifecycleRequest`;
 * - dispatch decides each request (`decide`), its retry and quiet-hours timers fire as
 *   NotificationDue records, and provider answers and bounces come back as its inputs (a bounced
 *   HIGH email falls back to SMS);
 * - provider events are SendGrid event-webhook events and Twilio status callbacks as those providers
 *   send them, mapped by the webhook routes' own pure `toDeliveryEvent` and joined to the
 *   notification by `notification_id` (SendGrid custom args, Twilio's status-callback parameter).
 *
 * What lies outside Eventline is simulated: users' notification preferences, receipts a billing
 * service requests through the API for a share of paid invoices, provider answers and what happens
 * to each message (delivered, opened, clicked, bounced, ...). Every such choice is a hash of the seed
 * and an id, so the same history and seed give the same records.
 *
 * `receivedAt` is the wall clock the dataset is read at (the processors are caught up by then):
 * timers due before it have fired, as a caught-up scheduler fires them on the wall clock, and no
 * record happens after it. Processor outputs carry their event time as received_at, as the
 * processors write them; provider events carry the time their webhook would have reached Eventline.
 */
import { foldInto, timersOf, type AnyEntityKind, type Fact, type Output, type Timer } from '../lib/decider/index.ts';
import type { Outgoing } from '../lib/kafka/index.ts';
import { readDispute, readInvoice, readSubscription, viewStripeEvent } from '../lib/stripe/index.ts';
import type { DeliveryEventReceived, NotificationDispatched, NotificationRequested, StripeEventReceived } from '../lib/topics.ts';
import { notificationRequest, Templates } from '../notify/index.ts';
import { customerKind, userKind, type CustomerRecord } from '../processors/customers/directory.ts';
import { blockedChannels, decide, eventTimeOf, localParts, needsContext, nextLocalTime, type DispatchInput, type DispatchState, type Recipient, type SendCommand } from '../processors/dispatch/decide.ts';
import { capKind, digestKind, dispatchKinds, emptyNotification, notificationKind, sentOn, type CapState, type DigestState, type DispatchFact, type NotificationState } from '../processors/dispatch/evolve.ts';
import { decideDunning, lifecycleRequest, type DunningDecision, type DunningInput } from '../processors/dunning/decide.ts';
import { caseKind, caseOf, dunningKinds, failuresKind, priorFailures, subscriptionKind, type CaseState, type CustomerFailures, type DunningFact, type SubscriptionCases } from '../processors/dunning/evolve.ts';
import { decideFraud, defaultFraudPolicy, type FraudInput } from '../processors/fraud/decide.ts';
import { cardKind, chargeKind, emptyRisk, fraudKinds, paymentOf, riskKind, type CardRisk, type ChargeCard, type CustomerRisk, type FraudFact } from '../processors/fraud/evolve.ts';
import { toDeliveryEvent as sendgridDeliveryEvent } from '../producers/sendgrid/to-event.ts';
import { parseStripeEvent, toStripeEventReceived } from '../producers/stripe/to-event.ts';
import { toDeliveryEvent as twilioDeliveryEvent } from '../producers/twilio/to-event.ts';
import { suppress, contactFor, defaultPreferences, isEssential, resubscribe, unsubscribe, type Preferences } from '../projections/preferences/document.ts';

export interface ProcessorRecords {
  readonly 'risk.fraud-scores.v1': Outgoing<'risk.fraud-scores.v1'>[];
  readonly 'billing.dunning-steps.v1': Outgoing<'billing.dunning-steps.v1'>[];
  readonly 'notify.dispatch-requests.v1': Outgoing<'notify.dispatch-requests.v1'>[];
  readonly 'notify.dispatches.v1': Outgoing<'notify.dispatches.v1'>[];
  readonly 'notify.delivery-events.v1': Outgoing<'notify.delivery-events.v1'>[];
}

export interface ProcessorRecordsOptions {
  /** Seeds every simulated choice (preferences, receipts, provider outcomes). */
  readonly seed: number;
  /** The wall clock the dataset is read at (ms): nothing happens after it (see the module comment). */
  readonly receivedAt: number;
}

// ---------------------------------------------------------------- settings
/** The defaults of lib/config.ts the processors would run with. */
const RISK_TEAM_USER = 'risk-team';
const RETENTION_TEAM_USER = 'retention-team';
const TEAM_EMAILS: Readonly<Record<string, string>> = { [RISK_TEAM_USER]: 'risk@eventline.local', [RETENTION_TEAM_USER]: 'retention@eventline.local' };
const FRAUD_OPTIONS = { policy: defaultFraudPolicy, riskTeamUser: RISK_TEAM_USER };
const DUNNING_OPTIONS = { retentionTeamUser: RETENTION_TEAM_USER };
const DISPATCH_POLICY = { retryBackoffMs: [10_000, 30_000, 60_000], maxAgeMs: 168 * 3_600_000 };

/** The billing service's API key id (`evl_<id>_…`): it asks for receipts through POST /v1/notifications. */
const BILLING_KEY_ID = '5e1f0b7c2a9d';
/** Share of paid invoices (outside dunning, which sends its own) the billing service sends a receipt for. */
const RECEIPT_SHARE = 0.05;

/** Users with stored preferences, and what those say. */
const PREFERENCES = { stored: 0.2, quietHours: 0.35, dailyMax: 0.1, emailOff: 0.2, unsubscribed: 0.12, smsConsent: 0.6 };

/** What providers answer and what becomes of each message. */
const EMAIL = { retryable: 0.004, rejected: 0.003, dropped: 0.003, bounced: 0.02, blocked: 0.005, deferred: 0.015, opened: 0.45, reopened: 0.3, clicked: 0.25, unsubscribed: 0.004, spamReported: 0.0005 };
const SMS = { retryable: 0.006, rejected: 0.005, undelivered: 0.04, failed: 0.01 };

const places: Readonly<Record<string, { readonly locale: string; readonly timezones: readonly string[] }>> = {
  US: { locale: 'en-US', timezones: ['America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles'] },
  DE: { locale: 'de-DE', timezones: ['Europe/Berlin'] },
  GB: { locale: 'en-GB', timezones: ['Europe/London'] },
  FR: { locale: 'fr-FR', timezones: ['Europe/Paris'] },
};

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------- determinism
/** A number in [0, 1) fixed by the seed and a key (cyrb53: fast, well mixed, not cryptographic). */
function chance(seed: number, key: string): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)) / 2 ** 53;
}

/** An integer in [min, max] fixed by the seed and a key. */
function between(seed: number, key: string, min: number, max: number): number {
  return min + Math.floor(chance(seed, key) * (max - min + 1));
}

/** The draws for one message: a small PRNG (mulberry32) seeded from the seed and the message. */
class Draws {
  private state: number;

  constructor(seed: number, key: string) {
    this.state = Math.floor(chance(seed, key) * 2 ** 32) >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Log-uniform between `min` and `max`: most opens come soon, some days later. */
  logBetween(min: number, max: number): number {
    return Math.round(min * (max / min) ** this.next());
  }
}

const HEX = '0123456789abcdef';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An id like a provider's (hex, or base62 like SendGrid's), fixed by the seed and a key. */
function providerId(seed: number, key: string, length: number, alphabet: 'hex' | 'base62'): string {
  const chars = alphabet === 'hex' ? HEX : BASE62;
  let out = '';
  for (let block = 0; out.length < length; block++) {
    // 53 random bits per block, 6 characters from each.
    let x = chance(seed, `${key}#${block}`) * 2 ** 53;
    for (let i = 0; i < 6 && out.length < length; i++) {
      out += chars[x % chars.length];
      x = Math.floor(x / chars.length);
    }
  }
  return out;
}

// ---------------------------------------------------------------- small machinery
/** A processor's state on a Map (kind:key → entity), folded by lib/decider's foldInto. */
class Memory<F> {
  readonly states = new Map<string, unknown>();
  private readonly kinds: readonly AnyEntityKind<F>[];

  constructor(kinds: readonly AnyEntityKind<F>[]) {
    this.kinds = kinds;
  }

  get<S>(kind: string, key: string): S | null {
    return (this.states.get(`${kind}:${key}`) as S | undefined) ?? null;
  }

  state(kind: AnyEntityKind<F>, key: string): unknown {
    return this.states.has(`${kind.name}:${key}`) ? this.states.get(`${kind.name}:${key}`) : kind.initial;
  }

  fold(facts: readonly F[]): void {
    foldInto(this.kinds, this.states, facts);
  }
}

/** A min-queue by time; equal times come out in insertion order. */
class Queue<T> {
  private readonly heap: { at: number; seq: number; item: T }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  nextAt(): number {
    return this.heap[0]?.at ?? Number.POSITIVE_INFINITY;
  }

  push(at: number, item: T): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, item });
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): T | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined) return undefined;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(l, m)) m = l;
        if (r < h.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top.item;
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a] as { at: number; seq: number };
    const y = this.heap[b] as { at: number; seq: number };
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  private swap(a: number, b: number): void {
    const h = this.heap;
    [h[a], h[b]] = [h[b] as (typeof h)[number], h[a] as (typeof h)[number]];
  }
}

/** The records produced, by topic, as the appender takes them. */
class Sink {
  readonly fraud: Outgoing<'risk.fraud-scores.v1'>[] = [];
  readonly steps: Outgoing<'billing.dunning-steps.v1'>[] = [];
  readonly requests: Outgoing<'notify.dispatch-requests.v1'>[] = [];
  readonly dispatches: Outgoing<'notify.dispatches.v1'>[] = [];
  readonly deliveries: Outgoing<'notify.delivery-events.v1'>[] = [];

  add(o: Output): void {
    switch (o.topic) {
      // An Output of a topic is that topic's record with its key (the headers are left to the appender).
      case 'risk.fraud-scores.v1':
        this.fraud.push({ key: o.key, record: o.record, value: o.value } as Outgoing<'risk.fraud-scores.v1'>);
        return;
      case 'billing.dunning-steps.v1':
        this.steps.push({ key: o.key, record: o.record, value: o.value } as Outgoing<'billing.dunning-steps.v1'>);
        return;
      case 'notify.dispatch-requests.v1':
        if (o.record === 'NotificationRequested') this.requests.push({ key: o.key, record: o.record, value: o.value });
        else if (o.record === 'NotificationDue') this.requests.push({ key: o.key, record: o.record, value: o.value });
        else this.requests.push({ key: o.key, record: o.record, value: o.value });
        return;
      case 'notify.dispatches.v1':
        this.dispatches.push({ key: o.key, record: o.record, value: o.value });
        return;
      case 'notify.delivery-events.v1':
        this.deliveries.push({ key: o.key, record: o.record, value: o.value });
        return;
      default:
        // Not a topic of this dataset (the processors here write none of the others as events).
        return;
    }
  }

  /** Each topic in the order its records would have been appended: by when they were written. */
  records(): ProcessorRecords {
    return {
      'risk.fraud-scores.v1': inTimeOrder(this.fraud),
      'billing.dunning-steps.v1': inTimeOrder(this.steps),
      'notify.dispatch-requests.v1': inTimeOrder(this.requests),
      'notify.dispatches.v1': inTimeOrder(this.dispatches),
      'notify.delivery-events.v1': inTimeOrder(this.deliveries),
    };
  }
}

function inTimeOrder<R extends { readonly value: { readonly received_at: number; readonly occurred_at: number } }>(records: R[]): R[] {
  // Array.prototype.sort is stable: records written at the same time keep the order they were decided in.
  return records.sort((a, b) => a.value.received_at - b.value.received_at || a.value.occurred_at - b.value.occurred_at);
}

// ---------------------------------------------------------------- fraud and dunning over the history
/*
 * Which Stripe events each processor reads: those its decideRecord decides on or its entity kinds
 * fold. Any other decides nothing there and folds into no entity, so it is not played through it.
 */
/** customer.created|updated|deleted: the customer directory both processors keep. */
const isCustomerEvent = (type: string): boolean => type.startsWith('customer.') && type.indexOf('.', 'customer.'.length) === -1;
/** Fraud: charges (scored, or disputed), early fraud warnings, the directory. */
const fraudReads = (type: string): boolean => type.startsWith('charge.') || type === 'radar.early_fraud_warning.created' || isCustomerEvent(type);
const dunningInvoiceTypes: ReadonlySet<string> = new Set(['invoice.payment_failed', 'invoice.paid', 'invoice.payment_succeeded']);
/** Dunning: failed and paid invoices, subscriptions (lifecycle messages, ended cases), the directory. */
const dunningReads = (type: string): boolean => dunningInvoiceTypes.has(type) || type.startsWith('customer.subscription.') || isCustomerEvent(type);

function isOnTopic<T extends Output['topic']>(o: Output, topics: readonly T[]): o is Extract<Output, { topic: T }> {
  return (topics as readonly string[]).includes(o.topic);
}

/** The input and the outputs that fold into the processor's own state, as its `*Fact` mapping keeps them. */
function withOwnFacts<F, T extends Output['topic']>(input: F | null, outputs: readonly Output[], topics: readonly T[]): (F | Extract<Output, { topic: T }>)[] {
  const facts: (F | Extract<Output, { topic: T }>)[] = input === null ? [] : [input];
  for (const o of outputs) if (isOnTopic(o, topics)) facts.push(o);
  return facts;
}

/** The topics each processor folds its own outputs from (its `*Fact` mapping in main.ts). */
const FRAUD_TOPICS = ['risk.fraud-scores.v1'] as const;
const DUNNING_TOPICS = ['billing.dunning-steps.v1'] as const;
const DISPATCH_TOPICS = ['notify.dispatch-requests.v1', 'notify.dispatches.v1'] as const;

/** The fraud processor's load-and-decide step (decideRecord in processors/fraud/main.ts), over the Map. */
function decideFraudRecord(fact: Fact<'stripe.events.v1'>, event: Readonly<Record<string, unknown>> | null, fraud: Memory<FraudFact>): readonly Output[] {
  const payment = paymentOf(fact);
  if (payment) {
    const input: FraudInput = { kind: 'payment', facts: payment };
    const card = payment.fingerprint ? fraud.get<CardRisk>(cardKind.name, payment.fingerprint) : null;
    const view = { risk: fraud.get<CustomerRisk>(riskKind.name, payment.customerId) ?? emptyRisk, customer: fraud.get<CustomerRecord>(customerKind.name, payment.customerId), cardFlaggedAt: card?.flaggedAt ?? null, chargeFingerprint: null };
    return decideFraud(view, input, payment.at, FRAUD_OPTIONS).events;
  }
  const e = fact.value;
  if (e.type !== 'charge.dispute.created' && e.type !== 'radar.early_fraud_warning.created') return [];
  const dispute = readDispute(event);
  const reason = e.type === 'radar.early_fraud_warning.created' ? 'early_fraud_warning' : dispute?.reason === 'fraudulent' ? 'dispute_fraudulent' : null;
  const input: FraudInput = { kind: 'dispute', eventId: e.event_id, at: e.occurred_at, customerId: e.customer_id ?? 'unknown', chargeId: dispute?.chargeId ?? null, reason };
  const charge = input.chargeId ? fraud.get<ChargeCard>(chargeKind.name, input.chargeId) : null;
  return decideFraud({ risk: emptyRisk, customer: null, cardFlaggedAt: null, chargeFingerprint: charge?.fingerprint ?? null }, input, input.at, FRAUD_OPTIONS).events;
}

const dunningOutputs = (d: DunningDecision): Output[] => [
  ...(d.entitlements ?? []).map((v): Output => ({ topic: 'billing.dunning-steps.v1', key: v.customer_id, record: 'EntitlementChanged', value: v })),
  ...d.decided.map((v): Output => ({ topic: 'billing.dunning-steps.v1', key: v.customer_id, record: 'DunningStepDecided', value: v })),
  ...d.requests.map((v): Output => ({ topic: 'notify.dispatch-requests.v1', key: v.user_id, record: 'NotificationRequested', value: v })),
];

/**
 * The dunning processor's load-and-decide step (decideRecord in processors/dunning/main.ts), over
 * the Map. `view` is the Stripe event's envelope (the parsed payload), null for a timer.
 */
function decideDunningRecord(fact: DunningFact, view: ReturnType<typeof viewStripeEvent> | null, dunning: Memory<DunningFact>): Output[] {
  const decideCase = (input: DunningInput, caseId: string): Output[] => dunningOutputs(decideDunning(input, caseOf(dunning.get<CaseState>(caseKind.name, caseId)), DUNNING_OPTIONS));
  if (fact.topic === 'billing.dunning-steps.v1') {
    if (fact.record !== 'DunningStepDue') return [];
    const v = fact.value;
    return decideCase({ kind: 'step_due', eventId: v.event_id, at: v.occurred_at, caseId: v.case_id, step: v.step }, v.case_id);
  }
  // The bench's histories carry no delivery events (a reminder's bounce or open).
  if (fact.topic === 'notify.delivery-events.v1') return [];
  const e = fact.value;
  if ((!e.type.startsWith('invoice.') && !e.type.startsWith('customer.subscription.')) || view === null) return [];
  if (e.type === 'invoice.payment_failed') {
    const invoice = readInvoice(view.object);
    if (!invoice?.customerId) return [];
    const customer = dunning.get<CustomerRecord>(customerKind.name, invoice.customerId);
    return decideCase(
      {
        kind: 'payment_failed',
        eventId: e.event_id,
        at: e.occurred_at,
        invoiceId: invoice.id,
        customerId: invoice.customerId,
        userId: customer?.userId ?? invoice.customerId,
        subscriptionId: invoice.subscriptionId,
        amountDue: invoice.amountDue ?? 0,
        currency: invoice.currency ?? 'usd',
        hostedInvoiceUrl: invoice.hostedInvoiceUrl,
        attemptCount: invoice.attemptCount ?? 1,
        priorFailures90d: priorFailures(dunning.get<CustomerFailures>(failuresKind.name, invoice.customerId), e.occurred_at, invoice.id),
        customerSince: customer?.createdAt ?? null,
      },
      invoice.id,
    );
  }
  if (e.type === 'invoice.paid' || e.type === 'invoice.payment_succeeded') {
    const invoice = readInvoice(view.object);
    return invoice ? decideCase({ kind: 'invoice_paid', eventId: e.event_id, at: e.occurred_at, invoiceId: invoice.id }, invoice.id) : [];
  }
  const sub = readSubscription(view.object);
  if (!sub) return [];
  const outputs: Output[] = [];
  const status = sub.status ?? '';
  if (e.type === 'customer.subscription.deleted' || status === 'unpaid' || status === 'canceled') {
    for (const caseId of dunning.get<SubscriptionCases>(subscriptionKind.name, sub.id)?.opened ?? []) outputs.push(...decideCase({ kind: 'subscription_ended', eventId: e.event_id, at: e.occurred_at, subscriptionId: sub.id, status }, caseId));
  }
  if (sub.customerId && view.object) {
    const userId = dunning.get<CustomerRecord>(customerKind.name, sub.customerId)?.userId ?? sub.customerId;
    const request = lifecycleRequest({ eventId: e.event_id, type: e.type, at: e.occurred_at, userId, subscription: view.object, previous: view.previousAttributes });
    if (request) outputs.push({ topic: 'notify.dispatch-requests.v1', key: request.user_id, record: 'NotificationRequested', value: request });
  }
  return outputs;
}

/**
 * The record the Stripe webhook appends for an event (toStripeEventReceived), whose payload — the
 * event's JSON — is made when first read: only the folds of charge, customer and failed-invoice
 * events read it, and most of a history is neither.
 */
class ReceivedStripeEvent implements StripeEventReceived {
  readonly event_id: string;
  readonly occurred_at: number;
  readonly received_at: number;
  readonly type: string;
  readonly api_version: string | null;
  readonly account: string | null;
  readonly livemode: boolean;
  readonly customer_id: string | null;
  readonly object_id: string | null;
  readonly object_type: string | null;
  readonly source: string;
  private readonly event: Readonly<Record<string, unknown>>;
  private json: string | null = null;

  constructor(event: Readonly<Record<string, unknown>>, receivedAt: number) {
    const v = toStripeEventReceived('', parseStripeEvent(event), receivedAt, 'webhook').value;
    this.event_id = v.event_id;
    this.occurred_at = v.occurred_at;
    this.received_at = v.received_at;
    this.type = v.type;
    this.api_version = v.api_version;
    this.account = v.account;
    this.livemode = v.livemode;
    this.customer_id = v.customer_id;
    this.object_id = v.object_id;
    this.object_type = v.object_type;
    this.source = v.source;
    this.event = event;
  }

  get payload(): string {
    this.json ??= JSON.stringify(this.event);
    return this.json;
  }
}

interface PaidInvoice {
  readonly at: number;
  readonly invoiceId: string;
  readonly customerId: string;
  readonly amount: number;
  readonly currency: string;
  readonly hostedInvoiceUrl: string | null;
}

interface StripePass {
  /** Dunning's state after the history: its cases, and the customer directory. */
  readonly dunning: Memory<DunningFact>;
  readonly paid: readonly PaidInvoice[];
}

/** Plays the history through the fraud and dunning processors, dunning's timers firing on event time, then up to `wall`. */
function playStripeHistory(history: readonly Record<string, unknown>[], receivedAt: number, wall: number, sink: Sink): StripePass {
  const fraud = new Memory<FraudFact>(fraudKinds);
  const dunning = new Memory<DunningFact>(dunningKinds);

  // The scheduler: timers the open cases want, by due time; a timer no longer wanted when due is dropped.
  const timers = new Queue<{ readonly caseId: string; readonly timer: Timer }>();
  const queued = new Set<string>();
  const commitDunning = (input: DunningFact, outputs: readonly Output[]): void => {
    const facts: DunningFact[] = withOwnFacts(input, outputs, DUNNING_TOPICS);
    dunning.fold(facts);
    for (const o of outputs) sink.add(o);
    // The timers the touched cases want now (cases are the only entities of dunning with timers).
    for (const f of facts) {
      for (const caseId of caseKind.keys(f)) {
        for (const timer of timersOf(caseKind, dunning.state(caseKind, caseId), caseId)) {
          if (queued.has(timer.id)) continue;
          queued.add(timer.id);
          timers.push(timer.dueAt, { caseId, timer });
        }
      }
    }
  };
  const fireUpTo = (clock: number): void => {
    while (timers.nextAt() <= clock) {
      const { caseId, timer } = timers.pop() as { caseId: string; timer: Timer };
      queued.delete(timer.id);
      if (!timersOf(caseKind, dunning.state(caseKind, caseId), caseId).some((t) => t.id === timer.id)) continue;
      const o = timer.output;
      if (o.topic !== 'billing.dunning-steps.v1' || o.record !== 'DunningStepDue') continue;
      sink.add(o); // the scheduler appends the timer's record; the processor then consumes it
      const fact: DunningFact = { topic: o.topic, record: o.record, value: o.value };
      commitDunning(fact, decideDunningRecord(fact, null, dunning));
    }
  };

  const paid: PaidInvoice[] = [];
  for (const e of history) {
    const type = typeof e.type === 'string' ? e.type : '';
    const forFraud = fraudReads(type);
    const forDunning = dunningReads(type);
    if (!forFraud && !forDunning) continue;
    const value = new ReceivedStripeEvent(e, receivedAt);
    // Timers due by this event's time fire before it: the event clock has passed them.
    fireUpTo(value.occurred_at);
    const fact: Fact<'stripe.events.v1'> = { topic: 'stripe.events.v1', record: 'StripeEventReceived', value };
    // The event as its payload parses (the same JSON, so the same view as readStripeEvent(payload)).
    const view = viewStripeEvent(e);

    if (forFraud) {
      const scored = decideFraudRecord(fact, view.object, fraud);
      fraud.fold(withOwnFacts(fact, scored, FRAUD_TOPICS));
      for (const o of scored) sink.add(o);
    }
    if (forDunning) commitDunning(fact, decideDunningRecord(fact, view, dunning));

    if (type === 'invoice.paid') {
      const invoice = readInvoice(view.object);
      if (invoice?.customerId && invoice.amountDue !== null) {
        paid.push({ at: value.occurred_at, invoiceId: invoice.id, customerId: invoice.customerId, amount: invoice.amountPaid ?? invoice.amountDue, currency: invoice.currency ?? 'usd', hostedInvoiceUrl: invoice.hostedInvoiceUrl });
      }
    }
  }
  // Caught up: the wall clock rules, and every timer due by then has fired.
  fireUpTo(wall);
  return { dunning, paid };
}

/** Receipts the billing service asks for through the API, for a share of the invoices paid without dunning. */
function receiptRequests(pass: StripePass, seed: number, wall: number): NotificationRequested[] {
  const out: NotificationRequested[] = [];
  for (const p of pass.paid) {
    if (pass.dunning.get<CaseState>(caseKind.name, p.invoiceId)?.opened) continue; // dunning sent its own receipt
    if (chance(seed, `receipt:${p.invoiceId}`) >= RECEIPT_SHARE) continue;
    const at = p.at + between(seed, `receipt-delay:${p.invoiceId}`, 5, 180) * SECOND;
    if (at > wall) continue;
    const userId = pass.dunning.get<CustomerRecord>(customerKind.name, p.customerId)?.userId ?? p.customerId;
    const idempotencyKey = `receipt:${p.invoiceId}`;
    out.push(
      notificationRequest({
        source: `api:${BILLING_KEY_ID}:${idempotencyKey}`,
        userId,
        template: 'receipt',
        category: 'billing',
        priority: 'NORMAL',
        data: { amount_due: p.amount, currency: p.currency, invoice_id: p.invoiceId, hosted_invoice_url: p.hostedInvoiceUrl },
        requestedBy: `key:${BILLING_KEY_ID}`,
        idempotencyKey,
        at,
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------- dispatch
interface UserPreferences {
  readonly prefs: Preferences;
  /** Whether the user ever stored preferences (the recipient's locale then comes from them). */
  readonly stored: boolean;
}

type Pending = { readonly input: DispatchInput; readonly fact: DispatchFact | null } | { readonly timer: Timer };


/** The notification an input is about (every input here is about one). */
function notificationIdOf(input: DispatchInput): string {
  switch (input.kind) {
    case 'requested':
      return input.request.notification_id;
    case 'due':
      return input.due.notification_id;
    case 'delivery':
      return input.event.notification_id ?? '';
    case 'cancelled':
      return input.cancel.notification_id;
    default:
      return input.send.notificationId;
  }
}

/** The dispatch processor over the requests, on a Map, with simulated users and providers. */
class Dispatch {
  private readonly memory = new Memory<DispatchFact>(dispatchKinds);
  private readonly preferences = new Map<string, UserPreferences>();
  private readonly customers = new Map<string, CustomerRecord | null>();
  private readonly templates = new Templates();
  private readonly seed: number;
  private readonly wall: number;
  private readonly directory: Memory<DunningFact>;
  private readonly sink: Sink;
  private readonly accountSid: string;

  constructor(seed: number, wall: number, directory: Memory<DunningFact>, sink: Sink) {
    this.seed = seed;
    this.wall = wall;
    this.directory = directory;
    this.sink = sink;
    this.accountSid = `AC${providerId(seed, 'twilio-account', 32, 'hex')}`;
  }

  private notification(id: string): NotificationState {
    return this.memory.get<NotificationState>(notificationKind.name, id) ?? emptyNotification;
  }

  /** The Stripe customer behind a user (the directory as CustomerDirectory.byUser reads it; it no longer changes here). */
  private customerOfUser(userId: string): CustomerRecord | null {
    let customer = this.customers.get(userId);
    if (customer === undefined) {
      const user = this.directory.get<{ customerId: string }>(userKind.name, userId);
      customer = this.directory.get<CustomerRecord>(customerKind.name, user?.customerId ?? userId);
      this.customers.set(userId, customer);
    }
    return customer;
  }

  private preferencesOf(userId: string, customer: CustomerRecord | null): UserPreferences {
    let p = this.preferences.get(userId);
    if (!p) {
      p = initialPreferences(this.seed, userId, customer);
      this.preferences.set(userId, p);
    }
    return p;
  }

  /** As the adapter's recipientOf: the preferences' confirmed addresses, else the Stripe customer's (or the team's). */
  private user(userId: string, category: string | null): { prefs: Preferences; recipient: Recipient } {
    const customer = this.customerOfUser(userId);
    const { prefs, stored } = this.preferencesOf(userId, customer);
    const email = contactFor(prefs, 'email', category) ?? customer?.email ?? TEAM_EMAILS[userId] ?? null;
    const phone = contactFor(prefs, 'phone', category) ?? customer?.phone ?? null;
    return {
      prefs,
      recipient: {
        email,
        phone,
        blocked: blockedChannels(prefs, email, phone),
        name: customer?.name ?? null,
        locale: stored ? prefs.locale : (customer?.locale ?? prefs.locale),
      },
    };
  }

  /**
   * The adapter's load step (loadDispatchState in processors/dispatch/main.ts), over the Map. No
   * request here is LOW, so nothing is batched and no digest comes due.
   */
  private load(input: DispatchInput, id: string): DispatchState {
    const notification = this.notification(id);
    const userId = notification.request?.user_id ?? (input.kind === 'requested' ? input.request.user_id : input.kind === 'due' ? input.due.user_id : null);
    if (!userId || !needsContext(input)) return { notification, context: null, digest: null };
    const request = notification.request ?? (input.kind === 'requested' ? input.request : null);
    const { prefs, recipient } = this.user(userId, request?.category ?? null);
    const at = eventTimeOf(input);
    // localParts(at, 'UTC').date, without Intl for the many users on the default time zone.
    const today = prefs.timezone === 'UTC' ? new Date(at).toISOString().slice(0, 10) : localParts(at, prefs.timezone).date;
    const digestDate = request?.priority === 'LOW' && prefs.digest.enabled ? localParts(nextLocalTime(at, prefs.digest.hour * 60, prefs.timezone), prefs.timezone).date : null;
    const digestFlushed = digestDate ? (this.memory.get<DigestState>(digestKind.name, `${userId}:${digestDate}`)?.flushed ?? false) : false;
    const context = { prefs, recipient, sentToday: sentOn(this.memory.get<CapState>(capKind.name, `${userId}:${today}`), id), templateKnown: this.templates.has(request?.template ?? ''), digestFlushed };
    return { notification, context, digest: null };
  }

  /** A provider's unsubscribe or spam report, applied as changePreferences would. */
  private changePreferences(userId: string, change: 'unsubscribed' | 'resubscribed', category: string | null): void {
    const current = this.preferencesOf(userId, this.customerOfUser(userId));
    this.preferences.set(userId, { stored: true, prefs: change === 'resubscribed' ? resubscribe(current.prefs, category) : unsubscribe(current.prefs, category) });
  }

  /**
   * Decides every request and what follows from it — provider answers, timers, bounces and
   * unsubscribes coming back — in event-time order across all notifications, as the live processor
   * meets them, up to the wall clock.
   */
  run(requests: readonly NotificationRequested[]): void {
    const queue = new Queue<Pending>();
    const queuedTimers = new Set<string>();
    for (const request of requests) {
      const fact: DispatchFact = { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: request };
      queue.push(request.occurred_at, { input: { kind: 'requested', request, loggedAt: request.received_at }, fact });
    }
    while (queue.nextAt() <= this.wall) {
      const next = queue.pop() as Pending;
      let input: DispatchInput;
      let inputFact: DispatchFact | null;
      let id: string;
      if ('timer' in next) {
        const o = next.timer.output;
        queuedTimers.delete(next.timer.id);
        if (o.topic !== 'notify.dispatch-requests.v1' || o.record !== 'NotificationDue') continue;
        id = o.value.notification_id;
        if (!timersOf(notificationKind, this.memory.state(notificationKind, id), id).some((t) => t.id === next.timer.id)) continue;
        this.sink.add(o); // the scheduler appends the timer's record; the processor then consumes it
        input = { kind: 'due', due: o.value };
        inputFact = { topic: o.topic, record: o.record, value: o.value };
      } else {
        input = next.input;
        inputFact = next.fact;
        id = notificationIdOf(input);
      }

      const state = this.load(input, id);
      const request = state.notification.request ?? (input.kind === 'requested' ? input.request : null);
      const decision = decide(state, input, eventTimeOf(input), DISPATCH_POLICY);
      this.memory.fold(withOwnFacts(inputFact, decision.events, DISPATCH_TOPICS));
      for (const o of decision.events) {
        this.sink.add(o);
        if (o.topic === 'notify.dispatches.v1' && o.value.status === 'sent' && request) this.providerEvents(o.value, request, queue);
      }
      for (const effect of decision.effects) {
        switch (effect.kind) {
          case 'send':
            queue.push(effect.at, { input: this.answer(effect, request), fact: null });
            break;
          case 'dead_letter':
            // To dlq.processor.dispatch.v1, which no projection reads.
            break;
          case 'change_preferences':
            this.changePreferences(effect.userId, effect.change, effect.category);
            break;
          case 'suppress_address': {
            const current = this.preferencesOf(effect.userId, this.customerOfUser(effect.userId));
            this.preferences.set(effect.userId, { stored: true, prefs: suppress(current.prefs, effect.channel, effect.address, effect.reason, effect.at) });
            break;
          }
          default: {
            const _exhaustive: never = effect;
            return _exhaustive;
          }
        }
      }
      // The timers the notification wants now (retries, quiet hours' end, reconciles).
      for (const timer of timersOf(notificationKind, this.memory.state(notificationKind, id), id)) {
        if (queuedTimers.has(timer.id)) continue;
        queuedTimers.add(timer.id);
        queue.push(timer.dueAt, { timer });
      }
    }
  }

  /** The provider's answer to a send, as the adapter turns it into the next input. */
  private answer(send: SendCommand, request: NotificationRequested | null): DispatchInput {
    if (!request) return { kind: 'send_failed', send, provider: null, retryable: false, message: 'request unknown', unreachable: true };
    const { recipient } = this.user(request.user_id, request.category);
    const key = `${send.notificationId}:${send.channel}:${send.attempt}`;
    const roll = chance(this.seed, `answer:${key}`);
    if (send.channel === 'email') {
      if (!recipient.email) return { kind: 'send_failed', send, provider: null, retryable: false, message: 'no email address', unreachable: true };
      if (roll < EMAIL.retryable) return { kind: 'send_failed', send, provider: 'sendgrid', retryable: true, message: 'sendgrid 503: "Service Unavailable"', unreachable: false };
      if (roll < EMAIL.retryable + EMAIL.rejected) {
        return { kind: 'send_failed', send, provider: 'sendgrid', retryable: false, message: 'sendgrid 400: {"errors":[{"message":"Does not contain a valid address.","field":"personalizations.0.to.0.email"}]}', unreachable: false };
      }
      return { kind: 'send_succeeded', send, provider: 'sendgrid', providerMessageId: providerId(this.seed, `x-message-id:${key}`, 22, 'base62'), locale: this.templates.resolveLocale(request.template, recipient.locale) };
    }
    if (send.channel === 'sms') {
      if (!recipient.phone) return { kind: 'send_failed', send, provider: null, retryable: false, message: 'no phone number', unreachable: true };
      if (roll < SMS.retryable) return { kind: 'send_failed', send, provider: 'twilio', retryable: true, message: 'twilio 503: Service Unavailable', unreachable: false };
      if (roll < SMS.retryable + SMS.rejected) return { kind: 'send_failed', send, provider: 'twilio', retryable: false, message: `twilio 400: The 'To' number ${recipient.phone} is not a valid phone number.`, unreachable: false };
      return { kind: 'send_succeeded', send, provider: 'twilio', providerMessageId: `SM${providerId(this.seed, `message-sid:${key}`, 32, 'hex')}`, locale: this.templates.resolveLocale(request.template, recipient.locale) };
    }
    return { kind: 'send_failed', send, provider: null, retryable: false, message: `no ${send.channel} provider`, unreachable: true };
  }

  /** What the provider reports on a message sent: appended by the webhook routes; bounces and unsubscribes also go back to dispatch. */
  private providerEvents(sent: NotificationDispatched, request: NotificationRequested, queue: Queue<Pending>): void {
    if (!sent.provider_message_id) return;
    const { recipient } = this.user(request.user_id, request.category);
    const events = sent.channel === 'sms' ? this.twilioEvents(sent, recipient.phone ?? '') : this.sendgridEvents(sent, request, recipient.email ?? '');
    for (const { key, value } of events) {
      if (value.received_at > this.wall) continue;
      this.sink.add({ topic: 'notify.delivery-events.v1', key, record: 'DeliveryEventReceived', value });
      const hardFailure = value.kind === 'bounced' || value.kind === 'dropped' || value.kind === 'undelivered' || value.kind === 'failed';
      if (hardFailure || value.kind === 'unsubscribed' || value.kind === 'spam_reported') queue.push(value.occurred_at, { input: { kind: 'delivery', event: value }, fact: null });
    }
  }

  /** SendGrid event-webhook events for one email: processed, then delivered (maybe deferred first), opened and clicked; or bounced or dropped. */
  private sendgridEvents(sent: NotificationDispatched, request: NotificationRequested, email: string): { key: string; value: DeliveryEventReceived }[] {
    const id = `${sent.notification_id}:${sent.attempt}`;
    const d = new Draws(this.seed, `email:${id}`);
    const xMessageId = sent.provider_message_id as string;
    const ip = '149.72.123.24';
    const smtpId = `<${xMessageId}@geopod-ismtpd-${d.between(1, 40)}>`;
    const sgMessageId = `${xMessageId}.filterdrecv-${providerId(this.seed, `filter:${id}`, 10, 'hex')}-1-${providerId(this.seed, `recv:${id}`, 8, 'hex').toUpperCase()}-${d.between(1, 60)}.0`;
    const raw: Record<string, unknown>[] = [];
    const event = (name: string, ms: number, extra: Readonly<Record<string, unknown>> = {}) =>
      raw.push({
        email,
        'smtp-id': smtpId,
        sg_message_id: sgMessageId,
        // Custom args come back flattened into every event.
        notification_id: sent.notification_id,
        category: request.category,
        template: request.template,
        event: name,
        timestamp: Math.floor(ms / 1000),
        sg_event_id: providerId(this.seed, `sg-event:${id}:${raw.length}`, 22, 'base62'),
        ...extra,
      });

    const processed = sent.occurred_at + d.between(1, 4) * SECOND;
    event('processed', processed);
    const fate = d.next();
    let delivered = processed + d.between(1, 20) * SECOND;
    if (fate < EMAIL.dropped) {
      event('dropped', processed, { reason: 'Bounced Address', status: '5.0.0' });
    } else if (fate < EMAIL.dropped + EMAIL.bounced) {
      event('bounce', delivered, { type: 'bounce', bounce_classification: 'Invalid Address', status: '5.1.1', reason: "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos.", tls: 1, ip });
    } else if (fate < EMAIL.dropped + EMAIL.bounced + EMAIL.blocked) {
      event('bounce', delivered, { type: 'blocked', bounce_classification: 'Reputation', status: '5.7.1', reason: '550 5.7.1 Message rejected due to local policy', tls: 1, ip });
    } else {
      if (fate < EMAIL.dropped + EMAIL.bounced + EMAIL.blocked + EMAIL.deferred) {
        event('deferred', delivered, { response: '451 4.7.1 Temporarily deferred, try again later', attempt: '1', tls: 1, ip });
        delivered += d.logBetween(5 * MINUTE, 4 * HOUR);
      }
      event('delivered', delivered, { response: '250 2.0.0 OK', tls: 1, ip });
      if (d.next() < EMAIL.opened) {
        const reader = { useragent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148', ip: '66.249.84.12' };
        let opened = delivered + d.logBetween(30 * SECOND, 3 * DAY);
        event('open', opened, { ...reader, sg_machine_open: false });
        if (d.next() < EMAIL.clicked) event('click', opened + d.logBetween(5 * SECOND, 10 * MINUTE), { ...reader, url: 'https://app.example.com/billing', url_offset: { index: 0, type: 'html' } });
        for (let n = 0; n < 2 && d.next() < EMAIL.reopened; n++) {
          opened += d.logBetween(MINUTE, 2 * DAY);
          event('open', opened, { ...reader, sg_machine_open: false });
        }
        // Unsubscribing through the link only exists for messages a user may opt out of.
        if (!isEssential(request.category)) {
          const r = d.next();
          if (r < EMAIL.unsubscribed) event('unsubscribe', opened + d.logBetween(10 * SECOND, HOUR));
          else if (r < EMAIL.unsubscribed + EMAIL.spamReported) event('spamreport', opened + d.logBetween(10 * SECOND, HOUR));
        }
      }
    }
    // SendGrid posts events in batches, a few seconds to a minute after they happened.
    return raw.map((e) => sendgridDeliveryEvent(e, (e.timestamp as number) * 1000 + d.between(2, 60) * SECOND));
  }

  /** Twilio status callbacks for one SMS: sent, then delivered, undelivered or failed. */
  private twilioEvents(sent: NotificationDispatched, phone: string): { key: string; value: DeliveryEventReceived }[] {
    const sid = sent.provider_message_id as string;
    const d = new Draws(this.seed, `sms:${sent.notification_id}:${sent.attempt}`);
    const callback = (status: string, receivedAt: number, extra: Record<string, string> = {}) =>
      twilioDeliveryEvent(
        { ApiVersion: '2010-04-01', AccountSid: this.accountSid, From: '+15005550006', To: phone, MessageSid: sid, SmsSid: sid, MessageStatus: status, SmsStatus: status, ...extra },
        sent.notification_id,
        receivedAt,
      );
    const sentAt = sent.occurred_at + d.between(1, 3) * SECOND;
    const doneAt = sentAt + d.between(2, 20) * SECOND;
    const fate = d.next();
    const last =
      fate < SMS.undelivered
        ? callback('undelivered', doneAt, { ErrorCode: d.next() < 0.7 ? '30003' : '30005' })
        : fate < SMS.undelivered + SMS.failed
          ? callback('failed', doneAt, { ErrorCode: '30008' })
          : callback('delivered', doneAt);
    return [callback('sent', sentAt), last];
  }
}

function initialPreferences(seed: number, userId: string, customer: CustomerRecord | null): UserPreferences {
  const roll = (purpose: string) => chance(seed, `prefs:${purpose}:${userId}`);
  const base = defaultPreferences();
  if (!customer || roll('stored') >= PREFERENCES.stored) return { prefs: base, stored: false };
  const place = places[customer.country ?? 'US'] ?? (places.US as (typeof places)[string]);
  return {
    stored: true,
    prefs: {
      ...base,
      locale: place.locale,
      timezone: place.timezones[Math.floor(roll('tz') * place.timezones.length)] ?? base.timezone,
      channels: { ...base.channels, email: roll('email-off') >= PREFERENCES.emailOff },
      quiet_hours: roll('quiet') < PREFERENCES.quietHours ? { start: '22:00', end: '07:00' } : null,
      daily_max: roll('cap') < PREFERENCES.dailyMax ? 2 : null,
      unsubscribed: roll('unsubscribed') < PREFERENCES.unsubscribed,
      // SMS only with consent (TCPA): most users who keep preferences opted in through the API.
      sms_consent: roll('sms-consent') < PREFERENCES.smsConsent ? { at: customer.createdAt ?? 0, source: 'api' as const } : null,
    },
  };
}

// ---------------------------------------------------------------- the dataset
/**
 * The records the fraud, dunning and dispatch processors (and the SendGrid and Twilio webhooks)
 * would have written from `history`: Stripe events as webhooks deliver them, sorted by `created`.
 * Deterministic for a history and a seed.
 */
export function processorRecords(history: readonly Record<string, unknown>[], options: ProcessorRecordsOptions): ProcessorRecords {
  const lastCreated = history.reduce((max, e) => (typeof e.created === 'number' && e.created > max ? e.created : max), 0);
  const wall = Math.max(options.receivedAt, lastCreated * 1000);
  const sink = new Sink();
  const pass = playStripeHistory(history, options.receivedAt, wall, sink);
  for (const r of receiptRequests(pass, options.seed, wall)) sink.add({ topic: 'notify.dispatch-requests.v1', key: r.user_id, record: 'NotificationRequested', value: r });

  const requests = sink.requests.flatMap((r) => (r.record === 'NotificationRequested' ? [r.value] : []));
  requests.sort((a, b) => a.occurred_at - b.occurred_at || (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0));
  new Dispatch(options.seed, wall, pass.dunning, sink).run(requests);
  return sink.records();
}
