/**
 * The dispatch processor's adapter: notify.dispatch-requests.v1 (requests and its own timers) and
 * notify.delivery-events.v1 → messages through SendGrid, Twilio or the local outbox, and their
 * outcomes on notify.dispatches.v1. Consumer group processor.dispatch.
 *
 * For each input: load the state, decide (decide.ts), append the events, fold input and events into
 * the state (evolve.ts), execute the effects. A send's answer is the next input, decided the same way.
 */
import { commitDecision, EntityStore, StateWriter, stateKeys, type Fence, type FoldedTopic, type Output, type RebuildSpec } from '../../lib/decider/index.ts';
import { EventClock } from '../../lib/event-clock.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { Scheduler } from '../../lib/scheduler.ts';
import type { TopicName } from '../../lib/topics.ts';
import { changePreferences, fitSms, SendEvidence, Templates, TwilioMessageIndex, unsubscribeUrl } from '../../notify/index.ts';
import { isEssential, resubscribe, unsubscribe, type Preferences } from '../../projections/preferences/document.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { CustomerDirectory } from '../customers/directory.ts';
import { decide, eventTimeOf, localParts, needsContext, type DispatchContext, type DispatchInput, type DispatchState, type Recipient, type SendCommand } from './decide.ts';
import { RateLimiter, Sender } from './effects.ts';
import { capKind, digestKind, dispatchKinds, emptyNotification, notificationKind, sentOn, type CapState, type DigestState, type DispatchFact, type NotificationState } from './evolve.ts';
import { providersFor, type EmailMessage, type Providers, type SmsMessage } from './providers.ts';

const MAX_SMS_SEGMENTS = 3;
type Topic = 'notify.dispatch-requests.v1' | 'notify.delivery-events.v1';

export interface DispatchParts {
  readonly processor: ProcessorDefinition<Topic>;
  readonly scheduler: Scheduler;
  readonly clock: EventClock;
  readonly rebuild: RebuildSpec<DispatchFact>;
}

/** What the dispatch state folds, and how far back a rebuild reads it. */
export function dispatchFolds(maxAgeMs: number): readonly FoldedTopic[] {
  // Notifications older than twice the stale limit can neither be sent nor change any more.
  return [
    { topic: 'notify.dispatches.v1', horizonMs: 2 * maxAgeMs },
    { topic: 'notify.dispatch-requests.v1', horizonMs: 2 * maxAgeMs },
  ];
}

export function dispatchFact(record: { topic: TopicName; record: string; value: unknown }): DispatchFact | null {
  return record.topic === 'notify.dispatch-requests.v1' || record.topic === 'notify.dispatches.v1' ? ({ topic: record.topic, record: record.record, value: record.value } as DispatchFact) : null;
}

/** What a dispatch decision reads: the state (the fold), the user as known now, the templates. */
export interface DispatchReader {
  notification(id: string): Promise<NotificationState>;
  user(userId: string): Promise<{ prefs: Preferences; recipient: Recipient }>;
  cap(key: string): Promise<CapState | null>;
  digest(key: string): Promise<DigestState | null>;
  templateKnown(template: string): boolean;
  subject(template: string, data: Record<string, unknown>, recipient: Recipient, prefs: Preferences): string;
}

function notificationIdOf(input: DispatchInput): string | null {
  switch (input.kind) {
    case 'requested':
      return input.request.notification_id;
    case 'due':
      return input.due.notification_id;
    case 'delivery':
      return input.event.notification_id;
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
  if (userId && needsContext(input, notification)) {
    const { prefs, recipient } = await read.user(userId);
    const today = localParts(eventTimeOf(input), prefs.timezone).date;
    const template = notification.request?.template ?? (input.kind === 'requested' ? input.request.template : '');
    context = { prefs, recipient, sentToday: sentOn(await read.cap(`${userId}:${today}`), id), templateKnown: read.templateKnown(template) };
  }
  let digest: DispatchState['digest'] = null;
  if (input.kind === 'due' && input.due.reason.startsWith('digest:')) {
    const state = await read.digest(`${input.due.user_id}:${input.due.reason.slice('digest:'.length)}`);
    if (state && !state.flushed && state.items.length > 0) {
      const { recipient, prefs } = await read.user(input.due.user_id);
      const items = (await Promise.all(state.items.map((i) => read.notification(i)))).flatMap((n) => (n.request ? [n.request] : []));
      const summaries = items.sort((a, b) => a.notification_id.localeCompare(b.notification_id)).map((r) => ({ template: r.template, subject: read.subject(r.template, JSON.parse(r.data) as Record<string, unknown>, recipient, prefs) }));
      digest = { state, summaries };
    }
  }
  return { notification, context, digest };
}

export function dispatchProcessor(rt: Runtime, options: { providers?: Providers } = {}): DispatchParts {
  const log = rt.log.child({ processor: 'dispatch' });
  const policy = { retryBackoffMs: rt.config.dispatch.retryBackoffMs, maxAgeMs: rt.config.dispatch.maxAgeMs };
  const store = new EntityStore(rt.redis);
  const scheduler = new Scheduler(rt.redis, 'dispatch', log);
  const writer = new StateWriter<DispatchFact>(store, dispatchKinds, scheduler);
  const fence: Fence = { kind: 'live', sentinel: stateKeys('dispatch').sentinel };
  const directory = new CustomerDirectory(store);
  const templates = new Templates();
  const providers = options.providers ?? providersFor(rt.config, rt.db);
  const evidence = new SendEvidence(rt.redis);
  const sender = new Sender(rt.redis, providers, new RateLimiter(rt.redis, { email: rt.config.dispatch.emailPerSecond, sms: rt.config.dispatch.smsPerSecond, push: 0, in_app: 0 }), evidence, rt.config.dispatch.reconcileMs);
  const twilioIndex = new TwilioMessageIndex(rt.redis);
  const clock = new EventClock(rt.redis, 'dispatch', ['notify.dispatch-requests.v1']);
  log.info({ email: providers.email.name, sms: providers.sms.name }, 'dispatch providers');

  async function recipientOf(userId: string): Promise<{ recipient: Recipient; prefs: Awaited<ReturnType<typeof readPreferences>>['preferences'] }> {
    const stored = await readPreferences(rt.db, userId);
    const customer = await directory.byUser(userId);
    const prefs = stored.preferences;
    return {
      prefs,
      recipient: {
        email: prefs.email ?? customer?.email ?? rt.config.teamEmails[userId] ?? null,
        phone: prefs.phone ?? customer?.phone ?? null,
        name: customer?.name ?? null,
        locale: stored.changedAt ? prefs.locale : (customer?.locale ?? prefs.locale),
      },
    };
  }

  const notificationOf = async (id: string): Promise<NotificationState> => (await store.get<NotificationState>({ kind: notificationKind.name, key: id })) ?? emptyNotification;
  const reader: DispatchReader = {
    notification: notificationOf,
    user: recipientOf,
    cap: (key) => store.get<CapState>({ kind: capKind.name, key }),
    digest: (key) => store.get<DigestState>({ kind: digestKind.name, key }),
    templateKnown: (template) => templates.has(template),
    subject: (template, data, recipient, prefs) => templates.render(template, recipient.locale, data, { timezone: prefs.timezone, unsubscribeUrl: null }).subject,
  };
  const load = (input: DispatchInput) => loadDispatchState(input, reader);

  /** Renders and sends; the provider's answer, as the next input. */
  async function send(cmd: SendCommand): Promise<DispatchInput> {
    const r = (await notificationOf(cmd.notificationId)).request;
    if (!r) return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: 'request unknown', unreachable: true };
    const { recipient, prefs } = await recipientOf(r.user_id);
    const data = { ...(JSON.parse(r.data) as Record<string, unknown>), user_id: r.user_id, first_name: recipient.name?.split(' ')[0] ?? '' };
    const unsubscribeLink = !isEssential(r.category) && rt.config.unsubscribeSecret ? unsubscribeUrl(rt.config.http.publicUrl, rt.config.unsubscribeSecret, r.user_id, r.category, Date.now()) : null;
    const rendered = templates.render(r.template, recipient.locale, data, { timezone: prefs.timezone, unsubscribeUrl: unsubscribeLink });
    const idempotencyKey = `${r.event_id}:${cmd.channel}`;
    let message: EmailMessage | SmsMessage;
    if (cmd.channel === 'email') {
      if (!recipient.email) return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: 'no email address', unreachable: true };
      message = {
        to: recipient.email,
        from: rt.config.sendgrid.from,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        headers: unsubscribeLink ? { 'List-Unsubscribe': `<${unsubscribeLink}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {},
        customArgs: { notification_id: r.notification_id, category: r.category, template: r.template },
        notificationId: r.notification_id,
        idempotencyKey,
      };
    } else if (cmd.channel === 'sms') {
      if (!recipient.phone) return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: 'no phone number', unreachable: true };
      message = {
        to: recipient.phone,
        body: fitSms(rendered.sms, MAX_SMS_SEGMENTS),
        statusCallback: `${rt.config.http.publicUrl}/webhooks/twilio/status?notification_id=${encodeURIComponent(r.notification_id)}`,
        notificationId: r.notification_id,
        idempotencyKey,
      };
    } else {
      return { kind: 'send_failed', send: cmd, provider: null, retryable: false, message: `no ${cmd.channel} provider`, unreachable: true };
    }
    const providerName = cmd.channel === 'email' ? providers.email.name : providers.sms.name;
    const result = await sender.send(cmd.channel, message);
    switch (result.kind) {
      case 'sent':
        if (cmd.channel === 'sms' && result.result.providerMessageId) await twilioIndex.record(result.result.providerMessageId, r.notification_id);
        return { kind: 'send_succeeded', send: cmd, provider: result.result.provider, providerMessageId: result.result.providerMessageId, locale: rendered.locale };
      case 'reconciling':
        return { kind: 'send_unknown', send: cmd, until: result.until };
      case 'failed':
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
      const state = await load(input);
      if (!state) continue;
      const decision = decide(state, input, eventTimeOf(input), policy);
      await commitDecision(rt.kafka, writer, fence, inputFacts, decision.events, (o: Output) => dispatchFact(o));
      inputFacts = [];
      for (const effect of decision.effects) {
        switch (effect.kind) {
          case 'send':
            queue.push(await send(effect));
            break;
          case 'dead_letter':
            await rt.kafka.deadLetter('processor.dispatch', record, { code: effect.code, message: effect.message }, 'send');
            break;
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

  return {
    scheduler,
    clock,
    rebuild: { processor: 'dispatch', topics: dispatchFolds(policy.maxAgeMs), fact: dispatchFact, writer },
    processor: {
      name: 'dispatch',
      topics: ['notify.dispatch-requests.v1', 'notify.delivery-events.v1'],
      clock,
      partitionsConsumedConcurrently: 3,
      async handle(record) {
        switch (record.record) {
          case 'NotificationRequested':
            return handle(record, { kind: 'requested', request: record.value, loggedAt: record.timestamp });
          case 'NotificationDue':
            return handle(record, { kind: 'due', due: record.value });
          case 'DeliveryEventReceived':
            if (record.value.notification_id) await evidence.record(record.value.notification_id, record.value.channel, record.value.provider_message_id);
            return handle(record, { kind: 'delivery', event: record.value });
          default: {
            const _exhaustive: never = record;
            return _exhaustive;
          }
        }
      },
    },
  };
}
