/**
 * The dispatch processor's adapter: notify.dispatch-requests.v1 (requests and its own timers) and
 * notify.delivery-events.v1 → messages through SendGrid, Twilio or the local outbox, and their
 * outcomes on notify.dispatches.v1. Consumer group processor.dispatch.
 *
 * For each input: load the state, decide (decide.ts), append the events, fold input and events into
 * the state (evolve.ts), execute the effects. A send's answer is the next input, decided the same way.
 */
import { commitDecision, decideBatch, EntityStore, factsOf, refId, StateWriter, stateKeys, type BatchDecider, type Fence, type Loaded, type FoldedTopic, type Output, type RebuildSpec } from '../../lib/decider/index.ts';
import { EventClock } from '../../lib/event-clock.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { Scheduler } from '../../lib/scheduler.ts';
import { topicSpecs, type DeliveryEventReceived, type NotificationSequence, type ProviderCircuitChanged, type StripeEventReceived, type TopicName } from '../../lib/topics.ts';
import {
  changePreferences,
  CONTACT_CONFIRMATION_TEMPLATE,
  contactConfirmationUrl,
  fitSms,
  PushSubscriptions,
  recordSmsRecipient,
  SendEvidence,
  Templates,
  TemplateVersions,
  TwilioMessageIndex,
  unsubscribeUrl,
  VonageMessageIndex,
  type VersionInfo,
} from '../../notify/index.ts';
import { contactFieldOf, contactFor, isEssential, optOutSms, resubscribe, suppress, unsubscribe, type Preferences } from '../../projections/preferences/document.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { CustomerDirectory } from '../customers/directory.ts';
import { openTemplateData } from '../../lib/privacy/records.ts';
import { blockedChannels, chooseTemplate, decide, engagedAt, eventTimeOf, localParts, needsContext, nextLocalTime, stepNotificationId, type SequenceFacts, type DispatchContext, type DispatchInput, type DispatchState, type Recipient, type SendCommand } from './decide.ts';
import { CircuitBreakers, DEFAULT_CIRCUIT_POLICY } from './circuit.ts';
import { RateLimiter, Sender, type ProviderRouting } from './effects.ts';
import { PriceBook, SuccessRates } from './routing.ts';
import { capKind, digestItems, digestKind, dispatchKinds, emptyNotification, invoiceKind, invoiceSettledTypes, isEngagement, seriesKind, type InvoiceState, type SeriesState, notificationKind, sentOn, type CapState, type DigestState, type DispatchFact, type NotificationState } from './evolve.ts';
import { providersFor, type EmailMessage, type Providers, type SmsMessage } from './providers.ts';
import { WebPushSender, type PushMessage } from './push.ts';

const MAX_SMS_SEGMENTS = 3;
const dispatchTopics = ['notify.dispatch-requests.v1', 'notify.delivery-events.v1', 'stripe.events.v1'] as const;
type Topic = (typeof dispatchTopics)[number];

export interface DispatchParts {
  readonly processor: ProcessorDefinition<Topic>;
  readonly scheduler: Scheduler;
  readonly clock: EventClock;
  readonly rebuild: RebuildSpec<DispatchFact>;
}

/** How long a settled invoice matters: as long as a drip sequence may still be waiting on one (its state's TTL). */
const INVOICE_HORIZON_MS = (invoiceKind.ttlSeconds ?? 0) * 1000;

/** What the dispatch state folds, and how far back a rebuild reads it. */
export function dispatchFolds(): readonly FoldedTopic[] {
  // As far back as a notification is kept (a provider's unsubscribe on a 3-week-old email still
  // finds its notification after a rebuild, as it would live).
  const horizonMs = (notificationKind.ttlSeconds ?? 0) * 1000;
  return [
    { topic: 'notify.dispatches.v1', horizonMs },
    { topic: 'notify.dispatch-requests.v1', horizonMs },
    { topic: 'notify.delivery-events.v1', horizonMs },
    // Paid and voided invoices, as far back as a sequence may still be waiting on one.
    { topic: 'stripe.events.v1', horizonMs: INVOICE_HORIZON_MS },
  ];
}

/**
 * What the dispatch state folds of a record, live and in a rebuild alike (null: nothing). An invoice
 * settled longer ago than a sequence runs is nothing at `now`: no sequence still waiting began before
 * it. Judged by when it was settled, not appended, so a backfill of old invoices is skipped by both.
 */
export function dispatchFact(record: { topic: TopicName; record: string; value: unknown }, now: number = Date.now()): DispatchFact | null {
  if (record.topic === 'notify.dispatch-requests.v1' || record.topic === 'notify.dispatches.v1') return { topic: record.topic, record: record.record, value: record.value } as DispatchFact;
  // Of the delivery events, only a recipient's engagement with a message is state (escalation reads it).
  if (record.topic === 'notify.delivery-events.v1' && record.record === 'DeliveryEventReceived') {
    const e = record.value as DeliveryEventReceived;
    if (e.notification_id && isEngagement(e.kind)) return { topic: record.topic, record: 'DeliveryEventReceived', value: e };
  }
  // Of the Stripe events, only an invoice paid or voided (what a drip sequence may exit on).
  if (record.topic === 'stripe.events.v1' && record.record === 'StripeEventReceived') {
    const e = record.value as StripeEventReceived;
    if (e.object_id && invoiceSettledTypes.has(e.type) && e.occurred_at >= now - INVOICE_HORIZON_MS) return { topic: record.topic, record: 'StripeEventReceived', value: e };
  }
  return null;
}

/** What a dispatch decision reads: the state (the fold), the user as known now, the templates. */
export interface DispatchReader {
  notification(id: string): Promise<NotificationState>;
  /** The user's preferences and where a message of `category` reaches them (null: not about one message). */
  user(userId: string, category: string | null): Promise<{ prefs: Preferences; recipient: Recipient }>;
  cap(key: string): Promise<CapState | null>;
  digest(key: string): Promise<DigestState | null>;
  /** A recurring series' or a drip sequence's state, by its first notification's id (absent: none are read). */
  series?(seriesId: string): Promise<SeriesState | null>;
  /** Whether a Stripe invoice was paid or voided (absent: sequences never exit on an invoice). */
  invoice?(invoiceId: string): Promise<InvoiceState | null>;
  templateKnown(template: string): boolean;
  /** The template version a new message of `template` renders with for a user of `locale` (absent: the shipped file). */
  templateVersion?(template: string, locale: string | null): VersionInfo;
  subject(template: string, data: Record<string, unknown>, recipient: Recipient, prefs: Preferences): string;
  /** A request's template data, opened (it is sealed for the user: ADR 0018); absent: parsed as it is. */
  data?(text: string): Promise<Record<string, unknown>>;
}

function notificationIdOf(input: DispatchInput): string | null {
  switch (input.kind) {
    case 'requested':
      return input.request.notification_id;
    case 'due':
      return input.due.notification_id;
    case 'delivery':
      return input.event.notification_id;
    case 'cancelled':
      return input.cancel.notification_id;
    default:
      return input.send.notificationId;
  }
}

/** The adapter's "load" step: what decide() reads for this input (null: not about a notification). */
export async function loadDispatchState(input: DispatchInput, read: DispatchReader): Promise<DispatchState | null> {
  const id = notificationIdOf(input);
  if (!id) return null;
  const notification = await read.notification(id);
  const userId = notification.request?.user_id ?? (input.kind === 'requested' ? input.request.user_id : input.kind === 'due' ? input.due.user_id : null);
  let context: DispatchContext | null = null;
  if (userId && needsContext(input)) {
    const request = notification.request ?? (input.kind === 'requested' ? input.request : null);
    const { prefs, recipient } = await read.user(userId, request?.category ?? null);
    const at = eventTimeOf(input);
    const today = localParts(at, prefs.timezone).date;
    // A LOW request joins the user's next digest, unless that one already went out.
    const digestDate = request?.priority === 'LOW' && prefs.digest.enabled ? localParts(nextLocalTime(at, prefs.digest.hour * 60, prefs.timezone), prefs.timezone).date : null;
    const digestFlushed = digestDate ? ((await read.digest(`${userId}:${digestDate}`))?.flushed ?? false) : false;
    const template = request && read.templateVersion ? read.templateVersion(request.template, recipient.locale) : null;
    context = { prefs, recipient, sentToday: sentOn(await read.cap(`${userId}:${today}`), id), templateKnown: read.templateKnown(request?.template ?? ''), digestFlushed, template };
  }
  let digest: DispatchState['digest'] = null;
  if (input.kind === 'due' && input.due.reason.startsWith('digest:')) {
    const state = await read.digest(`${input.due.user_id}:${input.due.reason.slice('digest:'.length)}`);
    if (state && !state.flushed && digestItems(state).length > 0) {
      const { recipient, prefs } = await read.user(input.due.user_id, null);
      const items = (await Promise.all(digestItems(state).map((i) => read.notification(i)))).flatMap((n) => (n.request ? [n.request] : []));
      const dataOf = (text: string) => (read.data ? read.data(text) : Promise.resolve(JSON.parse(text) as Record<string, unknown>));
      const sorted = items.sort((a, b) => a.notification_id.localeCompare(b.notification_id));
      const summaries = await Promise.all(sorted.map(async (r) => ({ template: r.template, subject: read.subject(r.template, await dataOf(r.data), recipient, prefs) })));
      digest = { state, summaries };
    }
  }
  const request = notification.request ?? (input.kind === 'requested' ? input.request : null);
  const seriesId = request?.recurrence?.series_id ?? request?.sequence?.series_id ?? null;
  const seriesCancelled = seriesId !== null && read.series ? ((await read.series(seriesId))?.cancelledAt ?? null) !== null : false;
  const sequence = request?.sequence && decidesStep(input) ? await sequenceFacts(request.sequence, read) : null;
  // A cancel of a batched notification is too late once its digest went out.
  const digestSent = input.kind === 'cancelled' && notification.status === 'batched' && notification.digestDate !== null && userId ? ((await read.digest(`${userId}:${notification.digestDate}`))?.flushed ?? false) : false;
  return { notification, context, digest, seriesCancelled, sequence, digestSent };
}

/** The inputs that decide whether a step goes out: its request, its schedule coming due, the end of quiet hours or a retry it waited for. */
const decidesStep = (input: DispatchInput): boolean => input.kind === 'requested' || (input.kind === 'due' && ['scheduled', 'quiet_hours_end', 'retry'].includes(input.due.reason));

/** What may end a sequence: its invoice settled, an engagement with one of the steps before this one. */
async function sequenceFacts(seq: NotificationSequence, read: DispatchReader): Promise<SequenceFacts> {
  const invoice = seq.exit_invoice_paid && read.invoice ? await read.invoice(seq.exit_invoice_paid) : null;
  let engaged: number | null = null;
  if (seq.exit_engaged) {
    for (let j = 0; j < seq.step; j++) {
      const at = engagedAt(await read.notification(stepNotificationId(seq.series_id, j)), seq.exit_engaged);
      if (at !== null && (engaged === null || at < engaged)) engaged = at;
    }
  }
  return { invoice: invoice?.settledAt != null && invoice.how ? { at: invoice.settledAt, how: invoice.how } : null, engagedAt: engaged };
}

/** Where a push notification opens: the data's action_url, else hosted_invoice_url, when https. */
function actionUrlOf(data: Record<string, unknown>): string | null {
  for (const key of ['action_url', 'hosted_invoice_url']) {
    const v = data[key];
    if (typeof v === 'string' && v.startsWith('https://')) return v;
  }
  return null;
}

/** Twilio's error for a number that replied STOP to the sender: "Attempt to send to unsubscribed recipient". */
const TWILIO_UNSUBSCRIBED_RECIPIENT = '21610';

/** The delivery events that end an SMS's journey: delivered, or not (undelivered, failed). */
const finalSmsKinds: ReadonlySet<string> = new Set(['delivered', 'undelivered', 'failed']);

export interface DispatchOptions {
  readonly providers?: Providers;
}

export function dispatchProcessor(rt: Runtime, options: DispatchOptions = {}): DispatchParts {
  const log = rt.log.child({ processor: 'dispatch' });
  const policy = { retryBackoffMs: rt.config.dispatch.retryBackoffMs, maxAgeMs: rt.config.dispatch.maxAgeMs };
  const store = new EntityStore(rt.redis);
  const scheduler = new Scheduler(rt.redis, 'dispatch', log);
  const writer = new StateWriter<DispatchFact>(store, dispatchKinds, scheduler);
  const fence: Fence = { kind: 'live', sentinel: stateKeys('dispatch').sentinel };
  const directory = new CustomerDirectory(store);
  const templates = new Templates();
  // Published versions, read from Postgres every few seconds: a new version is used without a restart.
  const versions = new TemplateVersions(rt.db, templates, { refreshMs: rt.config.dispatch.templateRefreshMs, onBroken: (version, problem) => log.error({ version, problem }, 'a published template version does not compile: skipped') });
  const pushSubscriptions = new PushSubscriptions(rt.db);
  const vapid = rt.config.push.vapid;
  const providers: Providers = options.providers ?? { ...providersFor(rt.config, rt.db), ...(vapid ? { push: new WebPushSender(pushSubscriptions, vapid, log) } : {}) };
  const evidence = new SendEvidence(rt.redis);
  const rates = new SuccessRates(rt.redis);
  const routing: ProviderRouting | null = providers.smsSecondary || providers.emailSecondary
    ? {
        breakers: new CircuitBreakers(rt.redis, { ...DEFAULT_CIRCUIT_POLICY, openMs: rt.config.routing.circuitOpenMs }),
        rates,
        prices: (() => {
          const book = new PriceBook(rt.db);
          return () => book.current();
        })(),
        policy: { minSuccessRate: rt.config.routing.minSuccessRate },
        // One instance sees each change (circuit.ts): it logs and appends it.
        async onTransition(t, channel) {
          log.warn({ provider: t.provider, from: t.from, to: t.to, calls: t.calls, failures: t.failures }, 'provider circuit changed');
          const value: ProviderCircuitChanged = { event_id: `${t.provider}:${t.from}:${t.to}:${t.at}`, occurred_at: t.at, received_at: Date.now(), provider: t.provider, channel, from_state: t.from, to_state: t.to, calls: t.calls, failures: t.failures };
          await (await rt.kafka.appender()).append('notify.provider-health.v1', [{ key: t.provider, record: 'ProviderCircuitChanged', value }]);
        },
      }
    : null;
  const sender = new Sender(rt.redis, providers, new RateLimiter(rt.redis, { email: rt.config.dispatch.emailPerSecond, sms: rt.config.dispatch.smsPerSecond, push: rt.config.dispatch.pushPerSecond, in_app: 0 }), evidence, rt.config.dispatch.reconcileMs, routing);
  const twilioIndex = new TwilioMessageIndex(rt.redis);
  const vonageIndex = new VonageMessageIndex(rt.redis);
  // Stripe's events too: a sequence's step is not due before the invoice.paid that may end it was read.
  const clock = new EventClock(rt.redis, 'dispatch', ['notify.dispatch-requests.v1', 'stripe.events.v1']);
  log.info({ email: providers.email.name, emailSecondary: providers.emailSecondary?.name ?? null, sms: providers.sms.name, smsSecondary: providers.smsSecondary?.name ?? null, push: providers.push?.name ?? null }, 'dispatch providers');

  /**
   * Where a message of `category` reaches the user: the preferences' own email and phone when
   * they give them — for essential categories (security, payment) only once the user confirmed
   * them — else the Stripe customer's (the address Stripe has for the paying customer).
   */
  async function recipientOf(userId: string, category: string | null): Promise<{ recipient: Recipient; prefs: Awaited<ReturnType<typeof readPreferences>>['preferences'] }> {
    const privacy = await rt.privacy();
    const stored = await readPreferences(rt.db, userId, { box: privacy });
    const found = await directory.byUser(userId);
    // The directory keeps the Stripe customer's contact sealed, as the Stripe event had it.
    const customer = found && { ...found, email: found.email && (await privacy.open(found.email)), phone: found.phone && (await privacy.open(found.phone)), name: found.name && (await privacy.open(found.name)) };
    const prefs = stored.preferences;
    // An erased user is never messaged again, on any channel (ADR 0018).
    if (await privacy.isErased(`user:${userId}`)) {
      return { prefs, recipient: { blocked: { email: 'user erased', sms: 'user erased', push: 'user erased', in_app: 'user erased' }, push: false, email: null, phone: null, name: null, locale: prefs.locale } };
    }
    const email = contactFor(prefs, 'email', category) ?? customer?.email ?? rt.config.teamEmails[userId] ?? null;
    const phone = contactFor(prefs, 'phone', category) ?? customer?.phone ?? null;
    // SMS only with the user's opt-in (TCPA), nothing to a suppressed address: whatever the priority.
    const blocked = blockedChannels(prefs, email, phone);
    // Push reaches a user with at least one registered browser (and a configured VAPID identity).
    const push = providers.push !== undefined && (await pushSubscriptions.forUser(userId)).length > 0;
    return {
      prefs,
      recipient: {
        blocked,
        push,
        email,
        phone,
        name: customer?.name ?? null,
        locale: stored.changedAt ? prefs.locale : (customer?.locale ?? prefs.locale),
      },
    };
  }

  // Every read is fenced: no decision is made on a state being rebuilt.
  const notificationOf = async (id: string): Promise<NotificationState> => (await store.get<NotificationState>({ kind: notificationKind.name, key: id }, fence)) ?? emptyNotification;

  /**
   * What one decision reads: each entity once, fenced, with the version read kept in `seen` for the
   * compare-and-set that commits the decision (another writer's change in between is a conflict:
   * reloaded and folded again), so the commit does not read them a second time.
   */
  function readerOf(seen: Map<string, Loaded | null>, user: UserLookup): DispatchReader {
    async function entity<S>(kind: string, key: string): Promise<S | null> {
      const ref = { kind, key };
      const id = refId(ref);
      if (!seen.has(id)) seen.set(id, (await store.load([ref], fence)).get(id) ?? null);
      return (seen.get(id)?.state as S | undefined) ?? null;
    }
    return {
      notification: async (id) => (await entity<NotificationState>(notificationKind.name, id)) ?? emptyNotification,
      user,
      cap: (key) => entity<CapState>(capKind.name, key),
      digest: (key) => entity<DigestState>(digestKind.name, key),
      series: (key) => entity<SeriesState>(seriesKind.name, key),
      invoice: (key) => entity<InvoiceState>(invoiceKind.name, key),
      templateKnown: (template) => templates.has(template),
      templateVersion: (template, locale) => versions.current(template, locale),
      subject: (template, data, recipient, prefs) => templates.render(template, recipient.locale, data, { timezone: prefs.timezone, unsubscribeUrl: null }).subject,
      data: async (text) => openTemplateData(await rt.privacy(), text),
    };
  }
  type UserLookup = DispatchReader['user'];

  /**
   * Renders and sends; the provider's answer, as the next input. `committed`: the entities as the
   * decision that asked for the send wrote them (its notification holds the request); `user`: the
   * lookup that decision read its recipient through, so the message goes where the decision meant.
   */
  async function send(cmd: SendCommand, committed: ReadonlyMap<string, unknown>, user: UserLookup): Promise<DispatchInput> {
    const written = committed.get(refId({ kind: notificationKind.name, key: cmd.notificationId })) as NotificationState | undefined;
    const r = (written ?? (await notificationOf(cmd.notificationId))).request;
    if (!r) return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: 'request unknown', unreachable: true };
    const { recipient, prefs } = await user(r.user_id, r.category);
    const data = { ...(await openTemplateData(await rt.privacy(), r.data)), user_id: r.user_id, first_name: recipient.name?.split(' ')[0] ?? '' };
    const unsubscribeLink = !isEssential(r.category) && rt.config.unsubscribeSecret ? unsubscribeUrl(rt.config.http.publicUrl, rt.config.unsubscribeSecret, r.user_id, r.category, Date.now()) : null;
    const links: Record<string, string> = {};
    if (r.template === CONTACT_CONFIRMATION_TEMPLATE) {
      // The link confirms the preferences' address on this channel, and goes only to that address.
      const channel = cmd.channel === 'email' || cmd.channel === 'sms' ? cmd.channel : null;
      const address = channel ? prefs[contactFieldOf[channel]] : null;
      const to = channel === 'email' ? recipient.email : recipient.phone;
      if (!channel || !address || address !== to) return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: `no ${cmd.channel} address to confirm`, unreachable: true };
      if (!rt.config.unsubscribeSecret) return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: 'UNSUBSCRIBE_SECRET is not set: no confirmation link can be signed', unreachable: true };
      links.confirm_url = contactConfirmationUrl(rt.config.http.publicUrl, rt.config.unsubscribeSecret, r.user_id, channel, address, Date.now());
    }
    // The version and variant the decision chose (or, for a send decided without one, the same pure choice now).
    const choice = cmd.template ?? chooseTemplate(versions.current(r.template, recipient.locale), r.user_id);
    // Decided by another instance with a version this one has not read yet: read it now.
    if (!versions.installed(r.template, recipient.locale, choice.version)) await versions.refresh();
    const rendered = templates.render(r.template, recipient.locale, data, { timezone: prefs.timezone, unsubscribeUrl: unsubscribeLink, links, version: choice.version, variant: choice.variant });
    const template = { version: rendered.version, experiment: choice.experiment, variant: rendered.variant };
    const idempotencyKey = `${r.event_id}:${cmd.channel}`;
    // In-app: the item is the dispatch outcome itself (the inbox projection builds the feed from
    // it); there is nothing to call, so it is sent at once, whatever the providers do.
    if (cmd.channel === 'in_app') return { kind: 'send_succeeded', send: cmd, provider: 'eventline', providerMessageId: r.notification_id, locale: rendered.locale, route: null, template };
    let message: EmailMessage | SmsMessage | PushMessage;
    if (cmd.channel === 'email') {
      if (!recipient.email) return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: 'no email address', unreachable: true };
      message = {
        to: recipient.email,
        from: rt.config.sendgrid.from,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        headers: unsubscribeLink ? { 'List-Unsubscribe': `<${unsubscribeLink}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {},
        customArgs: { notification_id: r.notification_id, user_id: r.user_id, category: r.category, template: r.template },
        notificationId: r.notification_id,
        idempotencyKey,
      };
    } else if (cmd.channel === 'sms') {
      if (!recipient.phone) return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: 'no phone number', unreachable: true };
      message = {
        to: recipient.phone,
        body: fitSms(rendered.sms, MAX_SMS_SEGMENTS, rendered.smsFooter),
        statusCallback: `${rt.config.http.publicUrl}/webhooks/twilio/status?notification_id=${encodeURIComponent(r.notification_id)}&user_id=${encodeURIComponent(r.user_id)}`,
        notificationId: r.notification_id,
        idempotencyKey,
      };
    } else if (cmd.channel === 'push' && providers.push) {
      message = {
        userId: r.user_id,
        notificationId: r.notification_id,
        idempotencyKey,
        title: rendered.subject,
        body: rendered.sms,
        url: actionUrlOf(data),
        urgency: r.priority === 'CRITICAL' || r.priority === 'HIGH' ? 'high' : 'normal',
      };
    } else {
      return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: `no ${cmd.channel} provider`, unreachable: true };
    }
    const providerName = cmd.channel === 'email' ? providers.email.name : cmd.channel === 'push' ? (providers.push?.name ?? null) : providers.sms.name;
    const result = await sender.send(cmd.channel, message);
    switch (result.kind) {
      case 'sent':
        // Delivery receipts find their notification through the message id (Vonage's do not sign the callback URL).
        if (cmd.channel === 'sms' && result.result.providerMessageId) await (result.result.provider === 'vonage' ? vonageIndex : twilioIndex).record(result.result.providerMessageId, r.notification_id);
        // Who a STOP reply from this number is about (notify/sms-numbers.ts).
        if (cmd.channel === 'sms') await recordSmsRecipient(rt.db, (message as SmsMessage).to, r.user_id);
        return { kind: 'send_succeeded', send: cmd, provider: result.result.provider, providerMessageId: result.result.providerMessageId, locale: rendered.locale, route: result.route, template };
      case 'reconciling':
        return { kind: 'send_unknown', send: cmd, until: result.until };
      case 'failed':
        if (cmd.channel === 'sms' && result.error.providerCode === TWILIO_UNSUBSCRIBED_RECIPIENT) {
          // The number replied STOP to our sender at the carrier: its consent is withdrawn here too,
          // and this message goes no further on SMS.
          await changePreferences(rt, {
            userId: r.user_id,
            change: 'sms_opted_out',
            actor: 'twilio',
            reason: `Twilio ${TWILIO_UNSUBSCRIBED_RECIPIENT}: the number unsubscribed (notification ${r.notification_id})`,
            source: 'provider',
            category: null,
            next: optOutSms,
          });
          return { kind: 'send_failed', send: cmd, provider: providerName, retryable: false, message: `the number unsubscribed at the carrier (Twilio ${TWILIO_UNSUBSCRIBED_RECIPIENT})`, unreachable: true };
        }
        // No browser left to push to (none registered, or every one expired): like no address.
        if (cmd.channel === 'push' && (result.error.providerCode === 'no_subscription' || result.error.providerCode === 'subscriptions_expired')) {
          return { kind: 'send_failed', send: cmd, provider: providerName, retryable: false, message: result.error.message, unreachable: true };
        }
        return { kind: 'send_failed', send: cmd, provider: providerName, retryable: result.error.retryable, message: result.error.message, unreachable: false };
      default: {
        const _exhaustive: never = result;
        return _exhaustive;
      }
    }
  }

  async function handle(record: Incoming<Topic>, first: DispatchInput): Promise<void> {
    const queue: DispatchInput[] = [first];
    let inputFacts: DispatchFact[] = [dispatchFact(record)].filter((f): f is DispatchFact => f !== null);
    while (queue.length > 0) {
      const input = queue.shift() as DispatchInput;
      // A user's preferences and addresses, read once for a decision and the sends it asks for
      // (milliseconds apart); the next input (a send's outcome, after a provider call that may take
      // seconds) reads them again, so a consent withdrawn or an erasure meanwhile is seen.
      const recipients = new Map<string, ReturnType<UserLookup>>();
      const user: UserLookup = (userId, category) => {
        const key = `${userId}\u0000${category ?? ''}`;
        const known = recipients.get(key) ?? recipientOf(userId, category);
        recipients.set(key, known);
        return known;
      };
      const seen = new Map<string, Loaded | null>();
      const state = await loadDispatchState(input, readerOf(seen, user));
      if (!state) continue;
      const decision = decide(state, input, eventTimeOf(input), policy);
      const committed = await commitDecision(rt.kafka, writer, fence, inputFacts, decision.events, (o: Output) => dispatchFact(o), seen);
      inputFacts = [];
      for (const effect of decision.effects) {
        switch (effect.kind) {
          case 'send':
            queue.push(await send(effect, committed, user));
            break;
          case 'dead_letter':
            await rt.kafka.deadLetter('processor.dispatch', record, { code: effect.code, message: effect.message }, 'send');
            break;
          case 'suppress_address': {
            const { channel, address, reason, at } = effect;
            const result = await changePreferences(rt, {
              userId: effect.userId,
              change: 'suppressed',
              actor: effect.actor,
              reason: effect.detail,
              source: 'provider',
              category: null,
              next: (current) => suppress(current, channel, address, reason, at),
            });
            log.info({ userId: effect.userId, channel, reason, changed: result.changed }, 'address suppressed');
            break;
          }
          case 'change_preferences': {
            const category = effect.category;
            const result = await changePreferences(rt, {
              userId: effect.userId,
              change: effect.change,
              actor: effect.actor,
              reason: effect.reason,
              source: 'provider',
              category,
              next: (current) => (effect.change === 'resubscribed' ? resubscribe(current, category) : unsubscribe(current, category)),
            });
            log.info({ userId: effect.userId, change: effect.change, changed: result.changed }, 'provider preference change');
            break;
          }
          default: {
            const _exhaustive: never = effect;
            return _exhaustive;
          }
        }
      }
    }
  }

  /**
   * Stripe's events: nothing to decide, an invoice paid or voided is folded for the sequences that
   * wait on it, a batch's at once (one read, one compare-and-set, as a batch decision). None waits
   * on one settled longer ago than a sequence runs: dispatchFact skips those, here as in a rebuild.
   */
  const invoiceDecider: BatchDecider<DispatchFact> = { kafka: rt.kafka, store, writer, kinds: dispatchKinds, fence, asFact: () => null };
  async function foldInvoices(records: readonly Incoming<Topic>[]): Promise<void> {
    const now = Date.now();
    const { facts, origins } = factsOf(records, (r) => dispatchFact(r, now));
    await decideBatch(invoiceDecider, facts, () => null, async () => [], { processor: 'dispatch', origins });
  }

  return {
    scheduler,
    clock,
    rebuild: { processor: 'dispatch', topics: dispatchFolds(), fact: dispatchFact, writer },
    processor: {
      name: 'dispatch',
      topics: dispatchTopics,
      clock,
      // Every partition of a fetch at once: a notification's records go one by one (a decision, a
      // provider call, its outcome), so a fetch whose batches waited their turn three at a time
      // was as slow as its slowest three partitions in a row, and Stripe's invoice events queued
      // behind the notifications (docs/performance.md, tenth look). Each partition stays in order.
      partitionsConsumedConcurrently: dispatchTopics.reduce((n, t) => n + topicSpecs[t].partitions, 0),
      batchTopics: ['stripe.events.v1'],
      handleBatch: foldInvoices,
      async handle(record) {
        switch (record.record) {
          case 'NotificationRequested':
            return handle(record, { kind: 'requested', request: record.value, loggedAt: record.timestamp });
          case 'NotificationDue':
            return handle(record, { kind: 'due', due: record.value });
          case 'NotificationCancelled':
            return handle(record, { kind: 'cancelled', cancel: record.value });
          case 'DeliveryEventReceived':
            if (record.value.notification_id) await evidence.record(record.value.notification_id, record.value.channel, record.value.provider_message_id);
            // A final outcome teaches the router how well the provider delivers (routing.ts).
            if (record.value.channel === 'sms' && finalSmsKinds.has(record.value.kind)) await rates.observe(record.value.provider, record.value.kind === 'delivered', record.value.occurred_at);
            return handle(record, { kind: 'delivery', event: record.value });
          case 'StripeEventReceived':
            // Not reached: the runner hands Stripe's records to handleBatch (batchTopics), also one at
            // a time when it retries a unit record by record. Folded the same way if it ever were.
            return foldInvoices([record]);
          default: {
            const _exhaustive: never = record;
            return _exhaustive;
          }
        }
      },
    },
  };
}
