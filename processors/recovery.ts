/**
 * Rebuilding the processors' Redis state from the topics after Redis lost it (a flush, a failover
 * without persistence). Everything the processors keep in Redis is derived from events:
 *
 *   customer directory       ← customer.* events on stripe.events.v1
 *   fraud windows, flags     ← charges of the last 7 days; blocks on risk.fraud-scores.v1
 *   fraud decision log       ← risk.fraud-scores.v1 (so a re-read charge is not scored twice)
 *   dunning cases, timers    ← billing.dunning-steps.v1 (decisions, fired timers, closes)
 *   notification states      ← notify.dispatch-requests.v1 + notify.dispatches.v1 (last 7 days and unfinished)
 *   send markers, SMS index  ← "sent" outcomes (so nothing is sent twice)
 *   provider evidence        ← notify.delivery-events.v1
 *   dispatch timers, digests ← deferred, retrying, reconciling and batched outcomes
 *
 * A sentinel key marks state as complete; its absence means Redis lost it.
 */
import { randomUUID } from 'node:crypto';
import { DecisionLog } from '../lib/decision-log.ts';
import type { Incoming } from '../lib/kafka.ts';
import type { Logger } from '../lib/log.ts';
import type { Runtime } from '../lib/runtime.ts';
import { Scheduler } from '../lib/scheduler.ts';
import type { AnyTopicName, DunningStepDecided, NotificationDispatched, NotificationRequested } from '../lib/topics.ts';
import { readPreferences } from '../projections/preferences/store.ts';
import { TwilioMessageIndex } from '../producers/twilio/message-index.ts';
import type { Channel } from '../projections/preferences/document.ts';
import { CustomerDirectory } from './customers/directory.ts';
import { localParts } from './dispatch/decide.ts';
import { DispatchStore, type NotificationState } from './dispatch/effects.ts';
import { SendEvidence } from './dispatch/evidence.ts';
import { notificationIdFor } from './dispatch/request.ts';
import { schedule as dunningSchedule, stepEventId, timerId, type DunningCase } from './dunning/decide.ts';
import { DunningStore } from './dunning/effects.ts';
import { defaultFraudPolicy, paymentFacts } from './fraud/decide.ts';
import { FraudStore } from './fraud/effects.ts';

const SENTINEL = 'state:complete';
const LOCK = 'state:rebuild-lock';
const DAY = 86_400_000;

export async function stateIsComplete(rt: Runtime): Promise<boolean> {
  return (await rt.redis.exists(SENTINEL)) === 1;
}

export async function markStateComplete(rt: Runtime): Promise<void> {
  await rt.redis.set(SENTINEL, new Date().toISOString());
}

const readAll = <T extends AnyTopicName>(rt: Runtime, topic: T, each: (r: Incoming<T>) => Promise<void> | void): Promise<number> => rt.kafka.readToEnd(topic, each);

export interface RebuildReport {
  readonly customers: number;
  readonly openCases: number;
  readonly dunningTimers: number;
  readonly notifications: number;
  readonly sendMarkers: number;
  readonly dispatchTimers: number;
}

export async function rebuildState(rt: Runtime, log: Logger, now = Date.now()): Promise<RebuildReport> {
  const directory = new CustomerDirectory(rt.redis);
  const fraud = new FraudStore(rt.redis, defaultFraudPolicy);
  const fraudDecisions = new DecisionLog<unknown>(rt.redis, 'fraud');
  const dunning = new DunningStore(rt.redis);
  const dunningTimers = new Scheduler(rt.redis, 'dunning', log);
  const dispatch = new DispatchStore(rt.redis);
  const dispatchTimers = new Scheduler(rt.redis, 'dispatch', log);
  const evidence = new SendEvidence(rt.redis);
  const sids = new TwilioMessageIndex(rt.redis);

  // Stripe: the directory, recent fraud windows, and every recent charge's card.
  const customers = new Set<string>();
  const fingerprints = new Map<string, string>();
  await readAll(rt, 'stripe.events.v1', async ({ value: e }) => {
    if (e.type.startsWith('customer.') && e.type.split('.').length === 2) {
      await directory.apply(e);
      if (e.customer_id) customers.add(e.customer_id);
      return;
    }
    if (!e.type.startsWith('charge.') || now - e.occurred_at > 180 * DAY) return;
    const facts = paymentFacts(e.event_id, e.type, e.occurred_at, (JSON.parse(e.payload) as { data?: { object?: unknown } }).data?.object);
    if (!facts) return;
    if (facts.paymentId && facts.fingerprint) {
      fingerprints.set(facts.paymentId, facts.fingerprint);
      await fraud.rememberCharge(facts.paymentId, facts.fingerprint);
    }
    if (now - e.occurred_at <= 7 * DAY) await fraud.observe(facts);
  });
  await readAll(rt, 'risk.fraud-scores.v1', async ({ value: s }) => {
    await fraudDecisions.put(s.source_event_id, { rebuilt: true });
    const fp = s.payment_id ? fingerprints.get(s.payment_id) : undefined;
    if (s.action === 'block' && fp) await fraud.flag(fp, s.occurred_at);
  });

  // Dunning: cases from their decisions; timers for the steps of open cases that have not fired.
  const decided = new Map<string, DunningStepDecided[]>();
  const fired = new Set<string>();
  await readAll(rt, 'billing.dunning-steps.v1', (r) => {
    if (r.record === 'DunningStepDecided') decided.set(r.value.case_id, [...(decided.get(r.value.case_id) ?? []), r.value]);
    else fired.add(r.value.step_event_id);
  });
  let openCases = 0;
  let dunningTimerCount = 0;
  for (const [caseId, steps] of decided) {
    const opened = steps.find((s) => s.step === 'day_0');
    if (!opened) continue;
    const closing = steps.filter((s) => ['recovered', 'lost', 'exhausted'].includes(s.step)).sort((a, b) => a.occurred_at - b.occurred_at)[0];
    const c: DunningCase = {
      caseId,
      customerId: opened.customer_id,
      userId: await directory.userOf(opened.customer_id),
      subscriptionId: opened.subscription_id,
      openedAt: opened.occurred_at,
      amountDue: opened.amount_due,
      currency: opened.currency,
      hostedInvoiceUrl: opened.hosted_invoice_url,
      attemptCount: opened.attempt_count,
      churnRisk: opened.churn_risk ?? 0,
      status: closing ? (closing.case_status as DunningCase['status']) : 'open',
      sourceEventId: opened.source_event_id,
    };
    await dunning.put(c);
    if (c.status !== 'open') continue;
    openCases++;
    for (const s of dunningSchedule) {
      const decision = steps.find((x) => x.step === s.step);
      if (!decision || fired.has(stepEventId(caseId, s.step))) continue;
      await dunningTimers.schedule(timerId(caseId, s.step), decision.due_at, {
        topic: 'billing.dunning-steps.v1',
        record: {
          key: c.customerId,
          record: 'DunningStepDue',
          value: { event_id: `due:${stepEventId(caseId, s.step)}`, occurred_at: decision.due_at, received_at: decision.due_at, case_id: caseId, customer_id: c.customerId, step: s.step, step_event_id: stepEventId(caseId, s.step) },
        },
      });
      dunningTimerCount++;
    }
  }

  // Dispatch: recent and unfinished notifications, their markers and timers.
  const outcomes = new Map<string, NotificationDispatched[]>();
  let sendMarkers = 0;
  await readAll(rt, 'notify.dispatches.v1', async ({ value: o }) => {
    outcomes.set(o.notification_id, [...(outcomes.get(o.notification_id) ?? []), o]);
    if (o.status === 'sent' && o.channel && now - o.occurred_at <= 60 * DAY) {
      await rt.redis.set(`dispatch:send:${o.request_event_id}:${o.channel}`, `sent|${o.provider ?? ''}|${o.provider_message_id ?? ''}|${o.occurred_at}`, 'EX', 60 * 86_400);
      if (o.channel === 'sms' && o.provider_message_id) await sids.record(o.provider_message_id, o.notification_id);
      sendMarkers++;
    }
  });
  const wanted = new Set([...outcomes].filter(([, os]) => os.some((o) => now - o.occurred_at <= 7 * DAY) || !os.some((o) => ['sent', 'suppressed', 'failed'].includes(o.status))).map(([id]) => id));
  const requests = new Map<string, NotificationRequested>();
  await readAll(rt, 'notify.dispatch-requests.v1', (r) => {
    if (r.record === 'NotificationRequested' && wanted.has(r.value.notification_id)) requests.set(r.value.notification_id, r.value);
  });
  await readAll(rt, 'notify.delivery-events.v1', async ({ value: e }) => {
    if (e.notification_id && wanted.has(e.notification_id)) await evidence.record(e.notification_id, e.channel, e.provider_message_id);
  });
  let dispatchTimerCount = 0;
  const digestsSent = new Set([...outcomes].filter(([, os]) => os.some((o) => o.status === 'sent')).map(([id]) => id));
  for (const id of wanted) {
    const request = requests.get(id);
    const history = (outcomes.get(id) ?? []).sort((a, b) => a.occurred_at - b.occurred_at);
    const last = history.at(-1);
    if (!request || !last) continue;
    const sent = [...new Set(history.filter((o) => o.status === 'sent' && o.channel).map((o) => o.channel as Channel))];
    const state: NotificationState = {
      request,
      status: last.status as NotificationState['status'],
      sent,
      fallback: request.priority === 'HIGH' && !sent.includes('sms') ? ['sms'] : [],
      locale: last.locale,
    };
    await dispatch.put(state);
    const prefs = (await readPreferences(rt.db, request.user_id)).preferences;
    if (sent.length > 0 && request.priority !== 'CRITICAL') await dispatch.countSent(request.user_id, localParts(request.occurred_at, prefs.timezone).date, id);
    const due = (reason: string, attempt: number, channel: string | null, at: number) =>
      dispatchTimers.schedule(`due:${reason}:${id}:${channel ?? 'any'}:${attempt}`, at, {
        topic: 'notify.dispatch-requests.v1',
        record: { key: request.user_id, record: 'NotificationDue', value: { event_id: `due:${reason}:${id}:${channel ?? 'any'}:${attempt}`, occurred_at: at, received_at: at, notification_id: id, user_id: request.user_id, reason, attempt, channel } },
      });
    if (last.status === 'deferred' && last.deferred_until) {
      await due('quiet_hours_end', 0, null, last.deferred_until);
      dispatchTimerCount++;
    } else if (last.status === 'retrying' && last.channel) {
      await due('retry', last.attempt + 1, last.channel, now);
      dispatchTimerCount++;
    } else if (last.status === 'batched' && last.digest_id && !digestsSent.has(last.digest_id)) {
      const date = /(\d{4}-\d{2}-\d{2})$/.exec(last.reason ?? '')?.[1] ?? localParts(now, prefs.timezone).date;
      await dispatch.addToDigest(request.user_id, date, id, { template: request.template, data: request.data, at: request.occurred_at });
      await dispatchTimers.schedule(`digest:${request.user_id}:${date}`, Math.max(now, last.occurred_at), {
        topic: 'notify.dispatch-requests.v1',
        record: {
          key: request.user_id,
          record: 'NotificationDue',
          value: { event_id: `due:digest:${request.user_id}:${date}`, occurred_at: now, received_at: now, notification_id: notificationIdFor(`digest:${request.user_id}:${date}`), user_id: request.user_id, reason: `digest:${date}`, attempt: 0, channel: null },
        },
      });
      dispatchTimerCount++;
    }
  }
  return { customers: customers.size, openCases, dunningTimers: dunningTimerCount, notifications: wanted.size, sendMarkers, dispatchTimers: dispatchTimerCount };
}

/**
 * Watches for lost state. When the sentinel is gone: pause this process's processors, rebuild
 * (one instance at a time, under a lock; an instance that finds the sentinel back skips it), resume.
 * On a first start (an empty Redis and nothing on the topics) the rebuild is quick and marks the state.
 */
export class StateGuard {
  private readonly rt: Runtime;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(rt: Runtime) {
    this.rt = rt;
    this.log = rt.log.child({ component: 'state-guard' });
  }

  /** Makes sure the state is complete (rebuilding it if needed) before processors start. */
  async ensure(pause: () => Promise<void>, resume: () => Promise<void>): Promise<void> {
    if (await stateIsComplete(this.rt)) return;
    await pause();
    for (;;) {
      const token = randomUUID();
      if ((await this.rt.redis.set(LOCK, token, 'PX', 600_000, 'NX')) === 'OK') {
        try {
          if (!(await stateIsComplete(this.rt))) {
            this.log.warn({}, 'processor state missing from Redis: rebuilding it from the topics');
            const started = Date.now();
            const report = await rebuildState(this.rt, this.log);
            await markStateComplete(this.rt);
            this.log.warn({ ...report, seconds: (Date.now() - started) / 1000 }, 'processor state rebuilt');
          }
        } finally {
          if ((await this.rt.redis.get(LOCK)) === token) await this.rt.redis.del(LOCK);
        }
        break;
      }
      if (await stateIsComplete(this.rt)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await resume();
  }

  /** Checks every `intervalMs` while the process runs. */
  watch(pause: () => Promise<void>, resume: () => Promise<void>, intervalMs = 5000): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.ensure(pause, resume)
        .catch((err: unknown) => this.log.error({ err: String(err) }, 'state check failed'))
        .finally(() => {
          this.running = null;
        });
    }, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
