/**
 * The dispatch processor: notify.dispatch-requests.v1 (requests and its own timers) and
 * notify.delivery-events.v1 → messages through SendGrid, Twilio or the local outbox, and their
 * outcomes on notify.dispatches.v1. Consumer group processor.dispatch.
 */
import { EventClock } from '../../lib/event-clock.ts';
import type { Incoming, OutgoingGroup } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/log.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { Scheduler } from '../../lib/scheduler.ts';
import type { DeliveryEventReceived, NotificationDispatched, NotificationDue, NotificationRequested } from '../../lib/topics.ts';
import { changePreferences } from '../../producers/preferences/change.ts';
import { TwilioMessageIndex } from '../../producers/twilio/message-index.ts';
import { unsubscribeUrl } from '../../producers/unsubscribe/token.ts';
import { isEssential, resubscribe, unsubscribe, type Channel } from '../../projections/preferences/document.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { CustomerDirectory } from '../customers/directory.ts';
import { localParts, planDispatch, type Plan, type Recipient } from './decide.ts';
import { DispatchStore, RateLimiter, Sender, type NotificationState } from './effects.ts';
import { SendEvidence } from './evidence.ts';
import { providersFor, type EmailMessage, type Providers, type SmsMessage } from './providers.ts';
import { fitSms, Templates } from './render.ts';
import { notificationIdFor, notificationRequest } from './request.ts';

const MAX_SMS_SEGMENTS = 3;
type Topic = 'notify.dispatch-requests.v1' | 'notify.delivery-events.v1';

export interface DispatchParts {
  readonly processor: ProcessorDefinition<Topic>;
  readonly scheduler: Scheduler;
  readonly clock: EventClock;
}

export function dispatchProcessor(rt: Runtime, options: { providers?: Providers } = {}): DispatchParts {
  const log = rt.log.child({ processor: 'dispatch' });
  const backoff = rt.config.dispatch.retryBackoffMs;
  const store = new DispatchStore(rt.redis);
  const directory = new CustomerDirectory(rt.redis);
  const templates = new Templates();
  const providers = options.providers ?? providersFor(rt.config, rt.db);
  const evidence = new SendEvidence(rt.redis);
  const sender = new Sender(rt.redis, providers, new RateLimiter(rt.redis, { email: rt.config.dispatch.emailPerSecond, sms: rt.config.dispatch.smsPerSecond, push: 0, in_app: 0 }), evidence, rt.config.dispatch.reconcileMs);
  const twilioIndex = new TwilioMessageIndex(rt.redis);
  const scheduler = new Scheduler(rt.redis, 'dispatch', log);
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

  function outcome(r: NotificationRequested, status: string, at: number, extra: Partial<NotificationDispatched> = {}): NotificationDispatched {
    const channel = extra.channel ?? null;
    const attempt = extra.attempt ?? 1;
    return {
      event_id: `${r.notification_id}:${status}:${channel ?? 'none'}:${attempt}`,
      occurred_at: at,
      received_at: Date.now(),
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
      ...extra,
    };
  }

  async function append(records: readonly NotificationDispatched[], requests: readonly NotificationRequested[] = []): Promise<void> {
    const groups: OutgoingGroup[] = [];
    if (records.length > 0) groups.push({ topic: 'notify.dispatches.v1', records: records.map((value) => ({ key: value.notification_id, record: 'NotificationDispatched' as const, value })) });
    if (requests.length > 0) groups.push({ topic: 'notify.dispatch-requests.v1', records: requests.map((value) => ({ key: value.user_id, record: 'NotificationRequested' as const, value })) });
    if (groups.length > 0) await (await rt.kafka.appender()).appendMany(groups);
  }

  function due(r: NotificationRequested, reason: string, attempt: number, channel: string | null, at: number): NotificationDue {
    return { event_id: `due:${reason}:${r.notification_id}:${channel ?? 'any'}:${attempt}`, occurred_at: at, received_at: at, notification_id: r.notification_id, user_id: r.user_id, reason, attempt, channel };
  }

  async function schedule(d: NotificationDue): Promise<void> {
    await scheduler.schedule(d.event_id, d.occurred_at, { topic: 'notify.dispatch-requests.v1', record: { key: d.user_id, record: 'NotificationDue', value: d } });
  }

  /** Renders and sends a notification on one channel; returns the outcome records and the new state. */
  async function sendOn(record: Incoming<Topic>, state: NotificationState, channel: Channel, attempt: number, reason: string | null): Promise<{ records: NotificationDispatched[]; state: NotificationState }> {
    const r = state.request;
    const { recipient, prefs } = await recipientOf(r.user_id);
    const data = { ...(JSON.parse(r.data) as Record<string, unknown>), user_id: r.user_id, first_name: recipient.name?.split(' ')[0] ?? '' };
    const unsubscribe = !isEssential(r.category) && rt.config.unsubscribeSecret ? unsubscribeUrl(rt.config.http.publicUrl, rt.config.unsubscribeSecret, r.user_id, r.category, Date.now()) : null;
    const rendered = templates.render(r.template, recipient.locale, data, { timezone: prefs.timezone, unsubscribeUrl: unsubscribe });
    const idempotencyKey = `${r.event_id}:${channel}`;
    let message: EmailMessage | SmsMessage;
    if (channel === 'email') {
      if (!recipient.email) return { records: [outcome(r, 'failed', Date.now(), { channel, attempt, reason: 'no email address' })], state: { ...state, status: 'failed' } };
      message = {
        to: recipient.email,
        from: rt.config.sendgrid.from,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        headers: unsubscribe ? { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {},
        customArgs: { notification_id: r.notification_id, category: r.category, template: r.template },
        notificationId: r.notification_id,
        idempotencyKey,
      };
    } else {
      if (!recipient.phone) return { records: [outcome(r, 'failed', Date.now(), { channel, attempt, reason: 'no phone number' })], state: { ...state, status: 'failed' } };
      message = {
        to: recipient.phone,
        body: fitSms(rendered.sms, MAX_SMS_SEGMENTS),
        statusCallback: `${rt.config.http.publicUrl}/webhooks/twilio/status?notification_id=${encodeURIComponent(r.notification_id)}`,
        notificationId: r.notification_id,
        idempotencyKey,
      };
    }
    const result = await sender.send(channel, message);
    if (result.kind === 'sent') {
      if (channel === 'sms' && result.result.providerMessageId) await twilioIndex.record(result.result.providerMessageId, r.notification_id);
      if (r.priority !== 'CRITICAL' && !isEssential(r.category)) await store.countSent(r.user_id, localParts(r.occurred_at, prefs.timezone).date, r.notification_id);
      return {
        records: [outcome(r, 'sent', result.at, { channel, attempt, reason, provider: result.result.provider, provider_message_id: result.result.providerMessageId, locale: rendered.locale })],
        state: { ...state, status: 'sent', sent: [...new Set([...state.sent, channel])], locale: rendered.locale },
      };
    }
    if (result.kind === 'reconciling') {
      await schedule(due(r, 'reconcile', attempt, channel, result.until));
      return { records: [], state: { ...state, status: 'reconciling' } };
    }
    const error = result.error;
    if (error.retryable && attempt <= backoff.length) {
      const at = Date.now() + (backoff[attempt - 1] ?? 60_000);
      await schedule(due(r, 'retry', attempt + 1, channel, at));
      return { records: [outcome(r, 'retrying', Date.now(), { channel, attempt, reason: error.message, provider: channel === 'email' ? providers.email.name : providers.sms.name })], state: { ...state, status: 'retrying' } };
    }
    // Out of retries, or the provider refused for good: failed, dead-lettered; the next channel if any.
    await rt.kafka.deadLetter('processor.dispatch', record, { code: error.retryable ? 'provider_retries_exhausted' : 'provider_rejected', message: error.message }, 'send');
    const failed = outcome(r, 'failed', Date.now(), { channel, attempt, reason: error.message, provider: channel === 'email' ? providers.email.name : providers.sms.name });
    const next = state.fallback.find((c) => !state.sent.includes(c) && c !== channel);
    if (next) {
      const fallback = await sendOn(record, { ...state, fallback: state.fallback.filter((c) => c !== next) }, next, 1, `fallback after ${channel} failed`);
      return { records: [failed, ...fallback.records], state: fallback.state };
    }
    return { records: [failed], state: { ...state, status: 'failed' } };
  }

  async function execute(record: Incoming<Topic>, r: NotificationRequested, plan: Plan, now: number): Promise<void> {
    let state: NotificationState = { request: r, status: 'sent', sent: [], fallback: [], locale: null };
    const records: NotificationDispatched[] = [];
    switch (plan.kind) {
      case 'suppress':
        records.push(outcome(r, 'suppressed', now, { reason: plan.reason }));
        state = { ...state, status: 'suppressed' };
        break;
      case 'defer':
        await schedule(due(r, 'quiet_hours_end', 0, null, plan.until));
        records.push(outcome(r, 'deferred', now, { reason: plan.reason, deferred_until: plan.until }));
        state = { ...state, status: 'deferred' };
        break;
      case 'batch': {
        const digestId = notificationIdFor(`digest:${r.user_id}:${plan.digestDate}`);
        await store.addToDigest(r.user_id, plan.digestDate, r.notification_id, { template: r.template, data: r.data, at: r.occurred_at });
        await scheduler.schedule(`digest:${r.user_id}:${plan.digestDate}`, plan.sendAt, {
          topic: 'notify.dispatch-requests.v1',
          record: {
            key: r.user_id,
            record: 'NotificationDue',
            value: { event_id: `due:digest:${r.user_id}:${plan.digestDate}`, occurred_at: plan.sendAt, received_at: plan.sendAt, notification_id: digestId, user_id: r.user_id, reason: `digest:${plan.digestDate}`, attempt: 0, channel: null },
          },
        });
        records.push(outcome(r, 'batched', now, { digest_id: digestId, reason: `daily digest of ${plan.digestDate}` }));
        state = { ...state, status: 'batched' };
        break;
      }
      case 'send': {
        state = { ...state, fallback: plan.fallback };
        for (const channel of plan.channels) {
          const sent = await sendOn(record, state, channel, 1, null);
          records.push(...sent.records);
          state = sent.state;
        }
        break;
      }
    }
    await append(records);
    await store.put(state);
  }

  async function onRequest(record: Incoming<Topic>, r: NotificationRequested, now: number): Promise<void> {
    if (await store.get(r.notification_id)) return; // decided before; its outcome is recorded
    if (!templates.has(r.template)) {
      await append([outcome(r, 'failed', now, { reason: `unknown template ${r.template}` })]);
      await store.put({ request: r, status: 'failed', sent: [], fallback: [], locale: null });
      return;
    }
    const age = Date.now() - r.occurred_at;
    if (age > rt.config.dispatch.maxAgeMs) {
      // A replay or a backfill of old events: never message people about the distant past.
      await execute(record, r, { kind: 'suppress', reason: `stale: requested ${Math.round(age / 3_600_000)} h ago` }, now);
      return;
    }
    const { recipient, prefs } = await recipientOf(r.user_id);
    const sentToday = await store.sentOn(r.user_id, localParts(now, prefs.timezone).date, r.notification_id);
    await execute(record, r, planDispatch({ priority: r.priority as 'CRITICAL' | 'HIGH' | 'NORMAL' | 'LOW', category: r.category, channel: r.channel }, { prefs, recipient, sentToday, now }), now);
  }

  async function onDue(record: Incoming<Topic>, d: NotificationDue): Promise<void> {
    if (d.reason.startsWith('digest:')) {
      const date = d.reason.slice('digest:'.length);
      const items = await store.digest(d.user_id, date);
      if (items.length === 0) return;
      const { recipient, prefs } = await recipientOf(d.user_id);
      const summaries = items.map((i) => ({
        template: i.template,
        subject: templates.render(String(i.template), recipient.locale, JSON.parse(String(i.data)) as Record<string, unknown>, { timezone: prefs.timezone, unsubscribeUrl: null }).subject,
      }));
      const digest = notificationRequest({ source: `digest:${d.user_id}:${date}`, userId: d.user_id, template: 'digest', category: 'product', priority: 'NORMAL', data: { items: summaries, date }, requestedBy: 'processor.dispatch', sourceEventId: d.event_id, at: d.occurred_at });
      await append([], [digest]);
      await store.clearDigest(d.user_id, date);
      return;
    }
    const state = await store.get(d.notification_id);
    if (!state) return;
    if (d.reason === 'quiet_hours_end') {
      if (state.status !== 'deferred') return;
      const r = state.request;
      const { recipient, prefs } = await recipientOf(r.user_id);
      const sentToday = await store.sentOn(r.user_id, localParts(d.occurred_at, prefs.timezone).date, r.notification_id);
      await execute(record, r, planDispatch({ priority: r.priority as 'CRITICAL' | 'HIGH' | 'NORMAL' | 'LOW', category: r.category, channel: r.channel }, { prefs, recipient, sentToday, now: d.occurred_at }), d.occurred_at);
      return;
    }
    if ((d.reason === 'retry' || d.reason === 'reconcile') && d.channel && (state.status === 'retrying' || state.status === 'reconciling')) {
      const sent = await sendOn(record, state, d.channel as Channel, d.attempt, d.reason === 'retry' ? `retry ${d.attempt}` : null);
      await append(sent.records);
      await store.put(sent.state);
    }
  }

  async function onDelivery(record: Incoming<Topic>, e: DeliveryEventReceived, log: Logger): Promise<void> {
    if (!e.notification_id) return;
    await evidence.record(e.notification_id, e.channel, e.provider_message_id);
    const state = await store.get(e.notification_id);
    if (!state) return;
    const r = state.request;
    const hardFailure = (e.channel === 'email' && (e.kind === 'bounced' || e.kind === 'dropped')) || (e.channel === 'sms' && (e.kind === 'failed' || e.kind === 'undelivered'));
    if (hardFailure) {
      const next = state.fallback.find((c) => !state.sent.includes(c) && c !== e.channel);
      if (!next) return;
      const sent = await sendOn(record, { ...state, fallback: state.fallback.filter((c) => c !== next) }, next, 1, `fallback after ${e.channel} ${e.kind}`);
      await append(sent.records);
      await store.put(sent.state);
      return;
    }
    // Unsubscribes and spam reports at the provider become preference changes (the audit trail).
    if (e.kind === 'unsubscribed' || e.kind === 'spam_reported' || e.kind === 'resubscribed') {
      if (isEssential(r.category)) return;
      const category = e.kind === 'spam_reported' ? null : r.category;
      const result = await changePreferences(rt, {
        userId: r.user_id,
        change: e.kind === 'resubscribed' ? 'resubscribed' : 'unsubscribed',
        actor: e.provider,
        reason: `${e.provider} ${e.provider_event} on notification ${r.notification_id}`,
        source: 'provider',
        category,
        next: (current) => (e.kind === 'resubscribed' ? resubscribe(current, category) : unsubscribe(current, category)),
      });
      log.info({ userId: r.user_id, change: e.kind, changed: result.changed }, 'provider preference change');
    }
  }

  return {
    scheduler,
    clock,
    processor: {
      name: 'dispatch',
      topics: ['notify.dispatch-requests.v1', 'notify.delivery-events.v1'],
      clock,
      partitionsConsumedConcurrently: 3,
      async handle(record, handlerLog) {
        switch (record.record) {
          case 'NotificationRequested':
            return onRequest(record, record.value, record.value.occurred_at);
          case 'NotificationDue':
            return onDue(record, record.value);
          case 'DeliveryEventReceived':
            return onDelivery(record, record.value, handlerLog);
          default: {
            const _exhaustive: never = record;
            return _exhaustive;
          }
        }
      },
    },
  };
}
