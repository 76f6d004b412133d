/**
 * Properties of the dispatch decider, over random histories: requests of every priority to users
 * with random preferences and addresses, provider answers (success, retryable and permanent
 * failures, lost outcomes), bounces and timer firings.
 *
 *   - the state rebuilt by folding the topics in any order equals the live state;
 *   - replaying the same inputs (provider answers included) makes identical decisions;
 *   - nothing is ever sent on a channel the user's preferences exclude or where they have no
 *     address — in particular no SMS fallback for a user who turned SMS off, live or rebuilt.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { foldInto, type Output, type Timer } from '../../lib/decider/index.ts';
import type { DeliveryChannel, DeliveryEventReceived, NotificationCancelled, NotificationDispatched, NotificationDue, NotificationRequested, StripeEventReceived } from '../../lib/topics.ts';
import { notificationRequest, type Priority } from '../../notify/index.ts';
import { dispatchFact, loadDispatchState, type DispatchReader } from './main.ts';
import { MemoryState, rebuiltShuffled, sortedStates } from '../../test/support/decider-harness.ts';
import { allows, defaultPreferences, type Preferences } from '../../projections/preferences/document.ts';
import { decide, eventTimeOf, occurrenceAt, stepNotificationId, type DispatchInput, type SendCommand } from './decide.ts';
import { capKind, digestItems, digestKind, dispatchKinds, emptyNotification, invoiceKind, seriesKind, type InvoiceState, type SeriesState, notificationKind, type CapState, type DigestState, type DispatchFact, type NotificationState } from './evolve.ts';

const T0 = Date.UTC(2026, 10, 16, 12, 0, 0);
const policy = { retryBackoffMs: [10_000, 30_000], maxAgeMs: 7 * 86_400_000 };

interface User {
  readonly id: string;
  readonly prefs: Preferences;
  readonly email: string | null;
  readonly phone: string | null;
}

type Answer = 'ok' | 'retryable' | 'permanent' | 'unknown';
type Command =
  | { readonly kind: 'request'; readonly user: number; readonly priority: Priority; readonly category: string; readonly gapMs: number; readonly sendInMs?: number | null; readonly escalate?: boolean }
  | { readonly kind: 'fire' }
  | { readonly kind: 'bounce'; readonly pick: number }
  | { readonly kind: 'cancel'; readonly pick: number }
  | { readonly kind: 'open'; readonly pick: number };

const userArb = fc.record({ sms: fc.boolean(), inApp: fc.boolean(), email: fc.boolean(), phone: fc.boolean(), digest: fc.boolean(), cap: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }) });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('request' as const), user: fc.nat(3), priority: fc.constantFrom<Priority>('CRITICAL', 'HIGH', 'NORMAL', 'LOW'), category: fc.constantFrom('billing', 'marketing', 'security'), gapMs: fc.integer({ min: 0, max: 3_600_000 }), sendInMs: fc.option(fc.integer({ min: 1, max: 7_200_000 }), { nil: null, freq: 3 }), escalate: fc.boolean() }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'fire' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bounce' as const), pick: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('open' as const), pick: fc.nat(50) }) },
);
const historyArb = fc.record({
  users: fc.array(userArb, { minLength: 4, maxLength: 4 }),
  commands: fc.array(commandArb, { minLength: 1, maxLength: 40 }),
  answers: fc.array(fc.constantFrom<Answer>('ok', 'ok', 'ok', 'retryable', 'permanent', 'unknown'), { minLength: 1, maxLength: 30 }),
});

/** Everything one run produced: the topics (in append order), the decisions, the live state. */
interface Run {
  readonly topics: DispatchFact[];
  readonly events: Output[];
  readonly states: Map<string, unknown>;
  readonly users: readonly User[];
  /** Every input decided, provider answers included, in order. */
  readonly inputs: DispatchInput[];
}

function usersOf(specs: readonly { sms: boolean; inApp?: boolean; email: boolean; phone: boolean; digest: boolean; cap: number | null }[]): User[] {
  return specs.map((u, i) => ({
    id: `user_${i}`,
    prefs: { ...defaultPreferences(), channels: { ...defaultPreferences().channels, sms: u.sms, in_app: u.inApp ?? false }, digest: { enabled: u.digest, hour: 9 }, daily_max: u.cap },
    email: u.email ? `u${i}@example.com` : null,
    phone: u.phone ? `+1415555010${i}` : null,
  }));
}

/** A harness standing in for the adapter: the same load → decide → fold → effects loop, on a Map. */
class Harness {
  readonly run: Run;
  /** The topics and the folded state, kept the way every decider's property test keeps them. */
  private readonly memory = new MemoryState<DispatchFact>(dispatchKinds);
  private readonly answers: readonly Answer[];
  private answered = 0;
  /** After which committed decisions the process "crashes": the effects are lost, the input comes again. */
  private readonly crashes: readonly boolean[];
  private decisions = 0;
  /** What the provider took, by idempotency key (request event id + channel), as the send markers remember it. */
  readonly accepted = new Map<string, number>();
  /** Answers override, e.g. everything succeeds while draining. */
  always: Answer | null = null;

  constructor(users: readonly User[], answers: readonly Answer[], crashes: readonly boolean[] = []) {
    this.run = { topics: this.memory.topics, events: this.memory.events, states: this.memory.states, users, inputs: [] };
    this.answers = answers;
    this.crashes = crashes;
  }

  private get<S>(kind: string, key: string, initial: S): S {
    return (this.run.states.get(`${kind}:${key}`) as S | undefined) ?? initial;
  }

  private user(id: string): User {
    return this.run.users.find((u) => u.id === id) as User;
  }

  /** The adapter's own load step, reading this Map. */
  private readonly reader: DispatchReader = {
    notification: (id) => Promise.resolve(this.get<NotificationState>(notificationKind.name, id, emptyNotification)),
    user: (userId) => {
      const u = this.user(userId);
      return Promise.resolve({ prefs: u.prefs, recipient: { email: u.email, phone: u.phone, name: null, locale: null } });
    },
    cap: (key) => Promise.resolve(this.get<CapState | null>(capKind.name, key, null)),
    digest: (key) => Promise.resolve(this.get<DigestState | null>(digestKind.name, key, null)),
    series: (key) => Promise.resolve(this.get<SeriesState | null>(seriesKind.name, key, null)),
    invoice: (key) => Promise.resolve(this.get<InvoiceState | null>(invoiceKind.name, key, null)),
    templateKnown: () => true,
    subject: (template) => template,
  };


  private answer(send: SendCommand): DispatchInput {
    const request = (this.run.states.get(`${notificationKind.name}:${send.notificationId}`) as NotificationState).request!;
    const u = this.user(request.user_id);
    if ((send.channel === 'email' && !u.email) || (send.channel === 'sms' && !u.phone)) return { kind: 'send_failed', send, provider: null, retryable: false, message: 'no address', unreachable: true };
    const key = `${request.event_id}:${send.channel}`;
    const ok: DispatchInput = { kind: 'send_succeeded', send, provider: 'fake', providerMessageId: `msg_${send.notificationId}_${send.channel}`, locale: 'en-US' };
    if (this.accepted.has(key)) return ok; // the send marker answers: not sent again
    if (send.channel === 'in_app') return ok; // the adapter records in-app items itself: never fails
    const a = this.always ?? (this.answers[this.answered++ % this.answers.length] as Answer);
    switch (a) {
      case 'ok':
        this.accepted.set(key, (this.accepted.get(key) ?? 0) + 1);
        return ok;
      case 'retryable':
        return { kind: 'send_failed', send, provider: 'fake', retryable: true, message: '503', unreachable: false };
      case 'permanent':
        return { kind: 'send_failed', send, provider: 'fake', retryable: false, message: '400', unreachable: false };
      case 'unknown':
        return { kind: 'send_unknown', send, until: send.at + 300_000 };
    }
  }

  /** Decides an input and everything it leads to (provider answers), like the adapter. */
  async process(first: DispatchInput, inputFact: DispatchFact | null, redelivered = false): Promise<void> {
    const queue = [first];
    let facts: DispatchFact[] = inputFact ? [inputFact] : [];
    while (queue.length > 0) {
      const input = queue.shift() as DispatchInput;
      this.run.inputs.push(input);
      const state = await loadDispatchState(input, this.reader);
      if (!state) continue;
      const d = decide(state, input, eventTimeOf(input), policy);
      this.memory.record([...facts, ...(d.events as readonly DispatchFact[])], d.events);
      facts = [];
      if (!redelivered && d.effects.length > 0 && this.crashes[this.decisions++ % Math.max(1, this.crashes.length)]) {
        // Killed after the decision was appended and folded, before its effects ran: the record
        // was not committed, so the consumer reads it again.
        return this.process(first, inputFact, true);
      }
      for (const e of d.effects) {
        if (e.kind !== 'send') continue;
        queue.push(this.answer(e));
      }
      // Requests this processor appends to its own input topic (digests) come back to it.
      for (const e of d.events) if (e.record === 'NotificationRequested') this.appended.push(e.value as NotificationRequested);
    }
    if (redelivered || inputFact === null || inputFact.record !== 'NotificationRequested' || this.draining) return;
    this.draining = true;
    while (this.appended.length > 0) {
      const request = this.appended.shift() as NotificationRequested;
      await this.process({ kind: 'requested', request, loggedAt: request.occurred_at }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: request });
    }
    this.draining = false;
  }

  private readonly appended: NotificationRequested[] = [];
  private draining = false;

  /** Fires the earliest timer an entity wants; false when none is left. */
  async fireNext(): Promise<boolean> {
    const timer = this.timers()[0];
    if (!timer) return false;
    const due = timer.output.value as NotificationDue;
    await this.process({ kind: 'due', due }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationDue', value: due });
    await this.flushAppended();
    return true;
  }

  async flushAppended(): Promise<void> {
    while (this.appended.length > 0) {
      const request = this.appended.shift() as NotificationRequested;
      await this.process({ kind: 'requested', request, loggedAt: request.occurred_at }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: request });
    }
  }

  timers(): Timer[] {
    return this.memory.timers();
  }

  /** A fact the processor folds without deciding anything (a Stripe invoice paid). */
  fold(fact: DispatchFact): void {
    this.memory.record([fact]);
  }
}

async function play(users: readonly User[], commands: readonly Command[], answers: readonly Answer[], crashes: readonly boolean[] = []): Promise<Run> {
  return (await harnessAfter(users, commands, answers, crashes)).run;
}

async function harnessAfter(users: readonly User[], commands: readonly Command[], answers: readonly Answer[], crashes: readonly boolean[] = []): Promise<Harness> {
  const h = new Harness(users, answers, crashes);
  let now = T0;
  let n = 0;
  for (const c of commands) {
    if (c.kind === 'request') {
      now += c.gapMs;
      const u = users[c.user % users.length] as User;
      const request = notificationRequest({ source: `prop:${n++}`, userId: u.id, template: 'receipt', category: c.category, priority: c.priority, data: { amount_due: 100, currency: 'usd' }, requestedBy: 'test', at: now, sendAt: c.sendInMs ? now + c.sendInMs : null, escalation: c.escalate ? { after_seconds: 1800, unless: 'opened', channel: 'sms' } : null });
      await h.process({ kind: 'requested', request, loggedAt: now }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: request });
    } else if (c.kind === 'cancel') {
      const requests = h.run.topics.flatMap((f) => (f.record === 'NotificationRequested' && f.value.requested_by === 'test' ? [f.value] : []));
      const target = requests[c.pick % Math.max(1, requests.length)];
      if (!target) continue;
      const cancel: NotificationCancelled = { event_id: `cancel:${target.notification_id}`, occurred_at: now, received_at: now, notification_id: target.notification_id, user_id: target.user_id, requested_by: 'key:test', reason: null };
      await h.process({ kind: 'cancelled', cancel }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationCancelled', value: cancel });
    } else if (c.kind === 'open') {
      const sent = h.run.events.filter((e): e is Output & { value: NotificationDispatched } => e.record === 'NotificationDispatched' && (e.value as NotificationDispatched).status === 'sent');
      const o = sent[c.pick % Math.max(1, sent.length)]?.value;
      if (!o) continue;
      const at = o.occurred_at + 1000;
      const event: DeliveryEventReceived = { event_id: `open:${o.event_id}`, occurred_at: at, received_at: at, provider: 'fake', channel: o.channel as DeliveryChannel, kind: 'opened', provider_event: 'open', notification_id: o.notification_id, provider_message_id: null, recipient: null, reason: null, error_code: null, bounce_type: null, url: null, user_id: null, raw: '{}' };
      await h.process({ kind: 'delivery', event }, { topic: 'notify.delivery-events.v1', record: 'DeliveryEventReceived', value: event });
    } else if (c.kind === 'fire') {
      const timer = h.timers()[0];
      if (!timer) continue;
      now = Math.max(now, timer.dueAt);
      await h.fireNext();
    } else {
      const sent = h.run.events.filter((e): e is Output & { value: NotificationDispatched } => e.record === 'NotificationDispatched' && (e.value as NotificationDispatched).status === 'sent');
      const target = sent[c.pick % Math.max(1, sent.length)];
      if (!target) continue;
      const o = target.value;
      const event: DeliveryEventReceived = {
        event_id: `bounce:${o.event_id}`,
        occurred_at: o.occurred_at + 1000,
        received_at: o.occurred_at + 1000,
        provider: 'fake',
        channel: o.channel as DeliveryChannel,
        kind: o.channel === 'email' ? 'bounced' : 'undelivered',
        provider_event: 'bounce',
        notification_id: o.notification_id,
        provider_message_id: o.provider_message_id,
        recipient: null,
        reason: null,
        error_code: null,
        bounce_type: null,
        url: null,
        user_id: null, raw: '{}',
      };
      await h.process({ kind: 'delivery', event }, null);
    }
  }
  return h;
}

/** An endless stream of shuffle seeds (a Lehmer generator from `seed`). */
function* seedsFrom(seed: number): Iterator<number> {
  let x = seed + 1;
  for (;;) {
    x = (x * 48_271) % 2_147_483_647;
    yield x;
  }
}

const sorted = (m: Map<string, unknown>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

describe('dispatch decider properties', () => {
  it('given any history, when its topics are folded in any order, then the rebuilt state equals the live state', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, fc.infiniteStream(fc.nat()), async ({ users, commands, answers }, seeds) => {
        const run = await play(usersOf(users), commands, answers);
        const shuffled = [...run.topics];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (seeds.next().value as number) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j] as DispatchFact, shuffled[i] as DispatchFact];
        }
        const rebuilt = new Map<string, unknown>();
        foldInto(dispatchKinds, rebuilt, shuffled);
        assert.deepEqual(sorted(rebuilt), sorted(run.states));
      }),
      { numRuns: 300 },
    );
  });

  it('given the same inputs, provider answers included, when replayed, then every decision is identical, retries and fallbacks included', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, async ({ users, commands, answers }) => {
        const first = await play(usersOf(users), commands, answers);
        const again = await play(usersOf(users), commands, answers);
        assert.deepEqual(again.events, first.events);
      }),
      { numRuns: 200 },
    );
  });

  it('given any history, then nothing is sent on a channel the preferences exclude or without an address, and every planned fallback is allowed', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, async ({ users, commands, answers }) => {
        const run = await play(usersOf(users), commands, answers);
        for (const e of run.events) {
          if (e.record !== 'NotificationDispatched') continue;
          const o = e.value as NotificationDispatched;
          const u = run.users.find((x) => x.id === o.user_id) as User;
          for (const c of [...(o.status === 'sent' ? [o.channel] : []), ...o.fallback]) {
            assert.ok(c === 'email' || c === 'sms' || c === 'in_app', `unexpected channel ${c} (no user has a browser for push)`);
            assert.ok(allows(u.prefs, o.category, c), `${o.event_id}: ${c} is excluded by the preferences`);
            // The inbox needs no address.
            assert.ok(c === 'in_app' || (c === 'email' ? u.email : u.phone), `${o.event_id}: no address for ${c}`);
          }
        }
        const rebuilt = new Map<string, unknown>();
        foldInto(dispatchKinds, rebuilt, [...run.topics].reverse());
        for (const [id, s] of rebuilt) {
          if (!id.startsWith(`${notificationKind.name}:`)) continue;
          const n = s as NotificationState;
          const u = run.users.find((x) => x.id === n.userId);
          if (!u || !n.request) continue;
          for (const c of n.fallback) assert.ok(allows(u.prefs, n.request.category, c), `rebuilt fallback ${c} of ${id} is excluded`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('given crashes between decisions and their effects, when every timer has fired, then each notification is settled, nothing reached the provider twice, and the rebuild still equals the live state', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }), fc.infiniteStream(fc.nat()), async ({ users, commands, answers }, crashes, seeds) => {
        const h = await harnessAfter(usersOf(users), commands, answers, crashes);
        h.always = 'ok';
        for (let i = 0; i < 500 && (await h.fireNext()); i++);
        assert.deepEqual(h.timers(), [], 'every timer fired');
        for (const [id, raw] of h.run.states) {
          if (!id.startsWith(`${notificationKind.name}:`)) continue;
          const n = raw as NotificationState;
          if (!n.request) continue;
          assert.ok(['sent', 'suppressed', 'failed', 'batched', 'cancelled'].includes(n.status), `${id} stuck in ${n.status}`);
          // A cancelled notification's retry is dropped: its channel stays as the cancel found it.
          for (const [c, p] of Object.entries(n.channels)) assert.ok(p.status === 'sent' || p.status === 'failed' || (n.status === 'cancelled' && p.status === 'retrying'), `${id}: ${c} left ${p.status}`);
          if (n.status === 'failed') assert.deepEqual(n.fallback.filter((c) => n.channels[c] === undefined), [], `${id}: a planned fallback was never tried`);
        }
        for (const [key, times] of h.accepted) assert.equal(times, 1, `${key} reached the provider ${times} times`);
        const rebuilt = rebuiltShuffled(dispatchKinds, h.run.topics, seeds);
        assert.deepEqual(rebuilt, sortedStates(h.run.states));
      }),
      { numRuns: 200 },
    );
  });

  it('given a HIGH billing email to a user with SMS off, when it bounces after a rebuild, then no SMS is asked for', async () => {
    const [u] = usersOf([{ sms: false, email: true, phone: true, digest: false, cap: null }]);
    const run = await play([u as User], [{ kind: 'request', user: 0, priority: 'HIGH', category: 'billing', gapMs: 0 }], ['ok']);
    const sent = run.events.map((e) => e.value as NotificationDispatched);
    assert.deepEqual(sent.map((o) => [o.status, o.channel, o.fallback]), [['sent', 'email', []]]);
    const rebuilt = new Map<string, unknown>();
    foldInto(dispatchKinds, rebuilt, [...run.topics].reverse());
    const state = rebuilt.get(`${notificationKind.name}:${sent[0]!.notification_id}`) as NotificationState;
    assert.deepEqual(state.fallback, []);
    const bounce = { event_id: 'b1', occurred_at: T0 + 5000, received_at: T0 + 5000, provider: 'sendgrid', channel: 'email', kind: 'bounced', provider_event: 'bounce', notification_id: sent[0]!.notification_id, provider_message_id: null, recipient: null, reason: null, error_code: null, bounce_type: null, url: null, user_id: null, raw: '{}' } satisfies DeliveryEventReceived;
    const d = decide({ notification: state, context: { prefs: u!.prefs, recipient: { email: u!.email, phone: u!.phone, name: null, locale: null }, sentToday: 0, templateKnown: true, digestFlushed: false }, digest: null }, { kind: 'delivery', event: bounce }, bounce.occurred_at, policy);
    assert.deepEqual(d, { events: [], effects: [] });
  });
});

describe('scheduled and cancelled notifications', () => {
  const [ana] = usersOf([{ sms: true, email: true, phone: false, digest: true, cap: null }]) as [User];
  const requestAt = (priority: Priority, at: number, sendAt: number | null, source: string) =>
    notificationRequest({ source, userId: ana.id, template: 'receipt', category: 'billing', priority, data: { amount_due: 100, currency: 'usd' }, requestedBy: 'test', at, sendAt });
  const asked = (h: Harness, r: NotificationRequested) => h.process({ kind: 'requested', request: r, loggedAt: r.occurred_at }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: r });
  const cancel = (h: Harness, r: NotificationRequested, at: number) => {
    const c: NotificationCancelled = { event_id: `cancel:${r.notification_id}`, occurred_at: at, received_at: at, notification_id: r.notification_id, user_id: r.user_id, requested_by: 'key:k1', reason: 'paid by phone' };
    return h.process({ kind: 'cancelled', cancel: c }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationCancelled', value: c });
  };
  const outcomesOf = (h: Harness, r: NotificationRequested) =>
    h.run.events.flatMap((e) => (e.record === 'NotificationDispatched' && (e.value as NotificationDispatched).notification_id === r.notification_id ? [e.value as NotificationDispatched] : [])).map((o) => [o.status, o.channel, o.occurred_at]);

  it('given send_at an hour ahead, then it is scheduled with one timer at that time, and sent when the timer fires, not before', async () => {
    const h = new Harness([ana], ['ok']);
    const r = requestAt('NORMAL', T0, T0 + 3_600_000, 'sched:1');
    await asked(h, r);
    assert.deepEqual(outcomesOf(h, r), [['scheduled', null, T0]]);
    assert.deepEqual(h.timers().map((t) => [t.id, t.dueAt]), [[`due:scheduled:${r.notification_id}:any:0`, T0 + 3_600_000]]);
    assert.equal(h.accepted.size, 0, 'nothing sent before its time');
    assert.ok(await h.fireNext());
    assert.deepEqual(outcomesOf(h, r), [['scheduled', null, T0], ['sent', 'email', T0 + 3_600_000]]);
    assert.deepEqual(h.timers(), []);
    assert.deepEqual(rebuiltShuffled(dispatchKinds, h.run.topics, seedsFrom(3)), sortedStates(h.run.states));
  });

  it('given a scheduled CRITICAL notification, when its request is delivered again before its time, then nothing is sent early', async () => {
    const h = new Harness([ana], ['ok']);
    const r = requestAt('CRITICAL', T0, T0 + 3_600_000, 'sched:crit');
    await asked(h, r);
    await asked(h, { ...r, received_at: r.received_at + 1 });
    assert.deepEqual(outcomesOf(h, r), [['scheduled', null, T0]]);
    assert.equal(h.accepted.size, 0, 'nothing sent before its time');
    assert.ok(await h.fireNext());
    const sent = outcomesOf(h, r).filter(([status]) => status === 'sent');
    assert.ok(sent.length > 0 && sent.every(([, , at]) => at === T0 + 3_600_000), JSON.stringify(outcomesOf(h, r)));
  });

  it('given a channel found unreachable at send time (no push subscription left, a number that opted out at the carrier), then the planned fallback still goes', async () => {
    const h = new Harness([ana], ['retryable']);
    const r = requestAt('HIGH', T0, null, 'sched:unreachable');
    await asked(h, r);
    const notification = h.run.states.get(`${notificationKind.name}:${r.notification_id}`) as NotificationState;
    const send: SendCommand = { kind: 'send', notificationId: r.notification_id, channel: 'email', attempt: 2, reason: 'retry 2', fallback: ['in_app'], capDate: null, at: T0 + 10_000 };
    const d = decide({ notification, context: null, digest: null }, { kind: 'send_failed', send, provider: null, retryable: false, message: 'no address left', unreachable: true }, send.at, policy);
    assert.deepEqual(d.effects.map((e) => (e.kind === 'send' ? [e.kind, e.channel, e.reason] : [e.kind])), [['send', 'in_app', 'fallback after email: no address left']]);
    assert.deepEqual(d.events.map((e) => [(e.value as NotificationDispatched).status, (e.value as NotificationDispatched).channel]), [['failed', 'email']]);
  });

  it('given send_at in the past or now, then it is planned at once as before', async () => {
    const h = new Harness([ana], ['ok']);
    const r = requestAt('NORMAL', T0, T0 - 1000, 'sched:2');
    await asked(h, r);
    assert.deepEqual(outcomesOf(h, r), [['sent', 'email', T0]]);
  });

  it('given a scheduled notification, when cancelled, then it is cancelled, its timer gone, and nothing is ever sent; cancelling again decides nothing', async () => {
    const h = new Harness([ana], ['ok']);
    const r = requestAt('CRITICAL', T0, T0 + 3_600_000, 'sched:3');
    await asked(h, r);
    await cancel(h, r, T0 + 60_000);
    assert.deepEqual(outcomesOf(h, r), [['scheduled', null, T0], ['cancelled', null, T0 + 60_000]]);
    assert.equal(h.run.events.at(-1)?.value && (h.run.events.at(-1)?.value as NotificationDispatched).reason, 'cancelled by key:k1: paid by phone');
    assert.deepEqual(h.timers(), []);
    assert.equal(await h.fireNext(), false);
    await cancel(h, r, T0 + 120_000);
    await asked(h, r);
    assert.equal(outcomesOf(h, r).length, 2, 'a second cancel or the request redelivered adds nothing');
    assert.equal(h.accepted.size, 0);
  });

  it('given a sent notification, when cancelled, then nothing changes', async () => {
    const h = new Harness([ana], ['ok']);
    const r = requestAt('NORMAL', T0, null, 'sched:4');
    await asked(h, r);
    await cancel(h, r, T0 + 60_000);
    assert.deepEqual(outcomesOf(h, r), [['sent', 'email', T0]]);
  });

  it('given a notification waiting for a retry, when cancelled, then the retry never goes out', async () => {
    const h = new Harness([ana], ['retryable']);
    const r = requestAt('NORMAL', T0, null, 'sched:5');
    await asked(h, r);
    assert.deepEqual(outcomesOf(h, r), [['retrying', 'email', T0]]);
    assert.equal(h.timers().length, 1);
    await cancel(h, r, T0 + 1000);
    assert.deepEqual(h.timers(), []);
    assert.deepEqual(outcomesOf(h, r).at(-1), ['cancelled', null, T0 + 1000]);
  });

  it('given a batched notification whose digest already went out, when cancelled, then nothing is decided (it was sent in the digest)', async () => {
    const h = new Harness([ana], ['ok']);
    const a = requestAt('LOW', T0, null, 'sched:7');
    await asked(h, a);
    assert.ok(await h.fireNext(), 'the digest goes out');
    const before = h.run.events.length;
    await cancel(h, a, T0 + 2 * 86_400_000);
    assert.equal(h.run.events.length, before);
    assert.deepEqual(outcomesOf(h, a).map(([status]) => status), ['batched']);
  });

  it('given a message decided with a template version, when its send is retried, then the retry carries the same version and variant', () => {
    const r = requestAt('NORMAL', T0, null, 'sched:8');
    const choice = { version: 3, experiment: 'exp', variant: 'short' };
    const send: SendCommand = { kind: 'send', notificationId: r.notification_id, channel: 'email', attempt: 1, reason: null, fallback: [], capDate: null, at: T0, template: choice };
    const s0: NotificationState = { ...emptyNotification, request: r, userId: r.user_id, status: 'requested' };
    const failed = decide({ notification: s0, context: null, digest: null }, { kind: 'send_failed', send, provider: 'fake', retryable: true, message: '503', unreachable: false }, T0, policy);
    const retrying = failed.events[0]?.value as NotificationDispatched;
    assert.deepEqual([retrying.status, retrying.template_version, retrying.experiment, retrying.variant], ['retrying', 3, 'exp', 'short']);
    const states = new Map<string, unknown>();
    foldInto(dispatchKinds, states, [{ topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: r }, { topic: 'notify.dispatches.v1', record: 'NotificationDispatched', value: retrying }]);
    const s1 = states.get(`${notificationKind.name}:${r.notification_id}`) as NotificationState;
    const due: NotificationDue = { event_id: `due:retry:${r.notification_id}:email:2`, occurred_at: T0 + 10_000, received_at: T0 + 10_000, notification_id: r.notification_id, user_id: r.user_id, reason: 'retry', attempt: 2, channel: 'email' };
    const retried = decide({ notification: s1, context: null, digest: null }, { kind: 'due', due }, due.occurred_at, policy);
    assert.deepEqual((retried.effects[0] as SendCommand).template, choice);
  });

  it('given two LOW notifications batched into a digest, when one is cancelled, then the digest carries the other only; cancelling both leaves no digest', async () => {
    const h = new Harness([ana], ['ok']);
    const a = requestAt('LOW', T0, null, 'sched:6a');
    const b = requestAt('LOW', T0 + 1000, null, 'sched:6b');
    await asked(h, a);
    await asked(h, b);
    assert.deepEqual([outcomesOf(h, a)[0]?.[0], outcomesOf(h, b)[0]?.[0]], ['batched', 'batched']);
    await cancel(h, a, T0 + 2000);
    const [digestKey] = [...h.run.states.keys()].filter((k) => k.startsWith(`${digestKind.name}:`));
    assert.ok(digestKey);
    const digest = h.run.states.get(digestKey) as DigestState;
    assert.deepEqual(digestItems(digest), [b.notification_id]);
    assert.equal(h.timers().length, 1, 'the digest still goes out for the other');
    await cancel(h, b, T0 + 3000);
    assert.deepEqual(h.timers(), [], 'nothing left to send: no digest');
  });
});

describe('escalation on another channel without engagement', () => {
  const [bo] = usersOf([{ sms: true, email: true, phone: true, digest: false, cap: null }]) as [User];
  const escalating = (source: string, unless = 'opened') =>
    notificationRequest({ source, userId: bo.id, template: 'receipt', category: 'billing', priority: 'NORMAL', data: { amount_due: 100, currency: 'usd' }, requestedBy: 'test', at: T0, escalation: { after_seconds: 3600, unless, channel: 'sms' } });
  const engage = (h: Harness, r: NotificationRequested, kind: 'opened' | 'clicked' | 'read', at: number) => {
    const event: DeliveryEventReceived = { event_id: `${kind}:${r.notification_id}:${at}`, occurred_at: at, received_at: at, provider: 'fake', channel: 'email', kind, provider_event: kind, notification_id: r.notification_id, provider_message_id: null, recipient: null, reason: null, error_code: null, bounce_type: null, url: null, user_id: null, raw: '{}' };
    return h.process({ kind: 'delivery', event }, { topic: 'notify.delivery-events.v1', record: 'DeliveryEventReceived', value: event });
  };
  const sentOn = (h: Harness, r: NotificationRequested) =>
    h.run.events.flatMap((e) => {
      const o = e.value as NotificationDispatched;
      return e.record === 'NotificationDispatched' && o.notification_id === r.notification_id && o.status === 'sent' ? [[o.channel, o.occurred_at, o.reason]] : [];
    });
  const start = async (source: string, unless?: string) => {
    const h = new Harness([bo], ['ok']);
    const r = escalating(source, unless);
    await h.process({ kind: 'requested', request: r, loggedAt: T0 }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: r });
    return { h, r };
  };

  it('given an email nobody opened, then SMS goes out when the delay is over, in event time, once', async () => {
    const { h, r } = await start('esc:1');
    assert.deepEqual(h.timers().map((t) => [t.id, t.dueAt]), [[`due:escalation:${r.notification_id}:sms:0`, T0 + 3_600_000]]);
    assert.ok(await h.fireNext());
    assert.deepEqual(sentOn(h, r), [['email', T0, null], ['sms', T0 + 3_600_000, 'escalation: not opened within 3600 s']]);
    assert.deepEqual(h.timers(), []);
    assert.deepEqual(rebuiltShuffled(dispatchKinds, h.run.topics, seedsFrom(2)), sortedStates(h.run.states));
  });

  it('given an email opened before the delay is over, then no SMS; a click counts as an open', async () => {
    for (const kind of ['opened', 'clicked', 'read'] as const) {
      const { h, r } = await start(`esc:2:${kind}`);
      await engage(h, r, kind, T0 + 60_000);
      assert.ok(await h.fireNext(), 'the timer still fires');
      assert.deepEqual(sentOn(h, r), [['email', T0, null]], kind);
      assert.deepEqual(rebuiltShuffled(dispatchKinds, h.run.topics, seedsFrom(5)), sortedStates(h.run.states), 'engagement is state: a rebuild has it');
    }
  });

  it('given an open that happened after the delay, even when it arrives before the timer fires, then the SMS goes out', async () => {
    const { h, r } = await start('esc:3');
    await engage(h, r, 'opened', T0 + 3_600_001);
    assert.ok(await h.fireNext());
    assert.deepEqual(sentOn(h, r).map(([c]) => c), ['email', 'sms']);
  });

  it('given unless clicked, then an open does not stop it and a click does', async () => {
    const opened = await start('esc:4a', 'clicked');
    await engage(opened.h, opened.r, 'opened', T0 + 60_000);
    await opened.h.fireNext();
    assert.deepEqual(sentOn(opened.h, opened.r).map(([c]) => c), ['email', 'sms']);
    const clicked = await start('esc:4b', 'clicked');
    await engage(clicked.h, clicked.r, 'clicked', T0 + 60_000);
    await clicked.h.fireNext();
    assert.deepEqual(sentOn(clicked.h, clicked.r).map(([c]) => c), ['email']);
  });
});

describe('recurring notifications', () => {
  const [cy] = usersOf([{ sms: false, email: true, phone: false, digest: false, cap: null }]) as [User];
  const DAY = 86_400_000;
  const series = (source: string, recurrence: { every: string; count: number | null; until: number | null }, startsAt = T0 + 3_600_000) => {
    const id = notificationRequest({ source, userId: cy.id, template: 'receipt', category: 'billing', priority: 'NORMAL', requestedBy: 'test', at: T0 }).notification_id;
    return notificationRequest({ source, userId: cy.id, template: 'receipt', category: 'billing', priority: 'NORMAL', data: { amount_due: 100, currency: 'usd' }, requestedBy: 'test', at: T0, sendAt: startsAt, recurrence: { ...recurrence, occurrence: 0, series_id: id, starts_at: startsAt } });
  };
  const start = async (r: NotificationRequested) => {
    const h = new Harness([cy], ['ok']);
    await h.process({ kind: 'requested', request: r, loggedAt: T0 }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: r });
    return h;
  };
  const sentTimes = (h: Harness) =>
    h.run.events.flatMap((e) => (e.record === 'NotificationDispatched' && (e.value as NotificationDispatched).status === 'sent' ? [(e.value as NotificationDispatched).occurred_at] : []));
  const drain = async (h: Harness) => {
    for (let i = 0; i < 50 && (await h.fireNext()); i++);
  };

  it('given a series of three daily occurrences, then each is its own notification sent a day after the one before, and nothing after the third', async () => {
    const h = await start(series('rec:1', { every: 'day', count: 3, until: null }));
    await drain(h);
    assert.deepEqual(sentTimes(h), [T0 + 3_600_000, T0 + 3_600_000 + DAY, T0 + 3_600_000 + 2 * DAY]);
    const ids = new Set(h.run.events.flatMap((e) => (e.record === 'NotificationDispatched' ? [(e.value as NotificationDispatched).notification_id] : [])));
    assert.equal(ids.size, 3, 'three notifications');
    assert.deepEqual(h.timers(), []);
    assert.deepEqual(rebuiltShuffled(dispatchKinds, h.run.topics, seedsFrom(9)), sortedStates(h.run.states));
  });

  it('given until, then no occurrence after it; monthly occurrences keep the day of the month, the last day when a month is shorter', async () => {
    const h = await start(series('rec:2', { every: 'week', count: null, until: T0 + 3_600_000 + 15 * DAY }));
    await drain(h);
    assert.deepEqual(sentTimes(h), [0, 7, 14].map((d) => T0 + 3_600_000 + d * DAY));
    const jan31 = Date.UTC(2027, 0, 31, 9, 0);
    assert.deepEqual([1, 2, 3, 13].map((k) => new Date(occurrenceAt(jan31, 'month', k)).toISOString()), ['2027-02-28T09:00:00.000Z', '2027-03-31T09:00:00.000Z', '2027-04-30T09:00:00.000Z', '2028-02-29T09:00:00.000Z']);
  });

  it('given the series cancelled after its first occurrence was sent, then the pending occurrence is cancelled when it comes due and none follows', async () => {
    const r = series('rec:3', { every: 'day', count: 10, until: null });
    const h = await start(r);
    assert.ok(await h.fireNext());
    assert.equal(sentTimes(h).length, 1);
    const c: NotificationCancelled = { event_id: `cancel:${r.notification_id}`, occurred_at: T0 + 2 * 3_600_000, received_at: T0 + 2 * 3_600_000, notification_id: r.notification_id, user_id: cy.id, requested_by: 'key:k1', reason: null };
    await h.process({ kind: 'cancelled', cancel: c }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationCancelled', value: c });
    await drain(h);
    assert.equal(sentTimes(h).length, 1, 'nothing more sent');
    const last = h.run.events.at(-1)?.value as NotificationDispatched;
    assert.deepEqual([last.status, last.reason], ['cancelled', 'the series was cancelled']);
    assert.deepEqual(h.timers(), []);
  });
});

describe('drip sequences', () => {
  const [di] = usersOf([{ sms: false, email: true, phone: false, digest: false, cap: null }]) as [User];
  const DAY = 86_400_000;
  const money = { amount_due: 4900, currency: 'usd' };
  const step = (delayDays: number, template: string) => ({ delay_seconds: delayDays * 86_400, template, category: 'billing', priority: 'NORMAL', channel: null, data: JSON.stringify(money) });
  const sequence = (source: string, exit: { invoice?: string; engaged?: string } = {}) => {
    const id = notificationRequest({ source, userId: di.id, template: 'receipt', category: 'billing', priority: 'NORMAL', requestedBy: 'test', at: T0 }).notification_id;
    return notificationRequest({
      source,
      userId: di.id,
      template: 'receipt',
      category: 'billing',
      priority: 'NORMAL',
      data: money,
      requestedBy: 'test',
      at: T0,
      sequence: { series_id: id, step: 0, steps: [step(2, 'payment_failed'), step(3, 'update_payment_method')], exit_invoice_paid: exit.invoice ?? null, exit_engaged: exit.engaged ?? null },
    });
  };
  const start = async (r: NotificationRequested) => {
    const h = new Harness([di], ['ok']);
    await h.process({ kind: 'requested', request: r, loggedAt: T0 }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: r });
    return h;
  };
  const outcomes = (h: Harness) =>
    h.run.events.flatMap((e) => {
      const o = e.value as NotificationDispatched;
      return e.record === 'NotificationDispatched' && (o.status === 'sent' || o.status === 'cancelled') ? [[o.status, o.template, o.occurred_at, o.reason]] : [];
    });
  const drain = async (h: Harness) => {
    for (let i = 0; i < 50 && (await h.fireNext()); i++);
  };
  const invoiceEvent = (invoice: string, type: string, at: number): DispatchFact => {
    const value: StripeEventReceived = { event_id: `evt_${invoice}_${type}`, occurred_at: at, received_at: at, type, api_version: null, account: null, livemode: false, customer_id: 'cus_1', object_id: invoice, object_type: 'invoice', source: 'webhook', payload: '{}' };
    return { topic: 'stripe.events.v1', record: 'StripeEventReceived', value };
  };

  it('given three steps, then each is its own notification with its own template, sent its delay after the step before, and nothing after the last', async () => {
    const r = sequence('seq:1');
    const h = await start(r);
    await drain(h);
    assert.deepEqual(outcomes(h), [
      ['sent', 'receipt', T0, null],
      ['sent', 'payment_failed', T0 + 2 * DAY, null],
      ['sent', 'update_payment_method', T0 + 5 * DAY, null],
    ]);
    const ids = h.run.events.flatMap((e) => (e.record === 'NotificationDispatched' && (e.value as NotificationDispatched).status === 'sent' ? [(e.value as NotificationDispatched).notification_id] : []));
    assert.deepEqual(ids, [0, 1, 2].map((j) => stepNotificationId(r.notification_id, j)));
    assert.equal(ids[0], r.notification_id, 'the first step is the sequence id');
    assert.deepEqual(h.timers(), []);
    assert.deepEqual(rebuiltShuffled(dispatchKinds, h.run.topics, seedsFrom(13)), sortedStates(h.run.states));
  });

  it('given exit_invoice_paid, when the invoice is paid after the first step, then the next step is cancelled when it comes due, naming why, and none follows; another invoice paid changes nothing', async () => {
    const r = sequence('seq:2', { invoice: 'in_42' });
    const h = await start(r);
    h.fold(invoiceEvent('in_other', 'invoice.paid', T0 + DAY));
    h.fold(invoiceEvent('in_42', 'invoice.created', T0 + DAY));
    assert.ok(await h.fireNext(), 'the second step comes due');
    h.fold(invoiceEvent('in_42', 'invoice.paid', T0 + 3 * DAY));
    await drain(h);
    assert.deepEqual(outcomes(h), [
      ['sent', 'receipt', T0, null],
      ['sent', 'payment_failed', T0 + 2 * DAY, null],
      ['cancelled', 'update_payment_method', T0 + 5 * DAY, 'the sequence ended: invoice in_42 was paid (invoice.paid)'],
    ]);
    assert.deepEqual(h.timers(), []);
    assert.deepEqual(rebuiltShuffled(dispatchKinds, h.run.topics, seedsFrom(17)), sortedStates(h.run.states), 'the paid invoice is state: a rebuild has it');
  });

  it('given exit_invoice_paid, when the invoice was voided before the sequence starts, then not even its first step goes out', async () => {
    const r = sequence('seq:3', { invoice: 'in_43' });
    const h = new Harness([di], ['ok']);
    h.fold(invoiceEvent('in_43', 'invoice.voided', T0 - DAY));
    await h.process({ kind: 'requested', request: r, loggedAt: T0 }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: r });
    await drain(h);
    assert.deepEqual(outcomes(h), [['cancelled', 'receipt', T0, 'the sequence ended: invoice in_43 was voided (invoice.voided)']]);
  });

  it('given exit_engaged clicked, then a click on an earlier step ends the sequence and an open does not', async () => {
    const click = (h: Harness, id: string, kind: 'opened' | 'clicked', at: number) => {
      const event: DeliveryEventReceived = { event_id: `${kind}:${id}`, occurred_at: at, received_at: at, provider: 'fake', channel: 'email', kind, provider_event: kind, notification_id: id, provider_message_id: null, recipient: null, reason: null, error_code: null, bounce_type: null, url: null, user_id: null, raw: '{}' };
      return h.process({ kind: 'delivery', event }, { topic: 'notify.delivery-events.v1', record: 'DeliveryEventReceived', value: event });
    };
    const clicked = sequence('seq:4a', { engaged: 'clicked' });
    const h = await start(clicked);
    await click(h, clicked.notification_id, 'clicked', T0 + 3_600_000);
    await drain(h);
    assert.deepEqual(outcomes(h).map(([status, template, , reason]) => [status, template, reason]), [
      ['sent', 'receipt', null],
      ['cancelled', 'payment_failed', 'the sequence ended: the user clicked an earlier step'],
    ]);
    const opened = sequence('seq:4b', { engaged: 'clicked' });
    const o = await start(opened);
    await click(o, opened.notification_id, 'opened', T0 + 3_600_000);
    await drain(o);
    assert.deepEqual(outcomes(o).map(([status]) => status), ['sent', 'sent', 'sent']);
  });

  it('given a step deferred by quiet hours, when the invoice is paid before they end, then the step is cancelled at their end, not sent', async () => {
    // Quiet from 08:00 to 20:00 UTC: the first step goes at 06:00, the second, 2¼ days later at 12:00, waits for 20:00.
    const night: User = { ...di, prefs: { ...di.prefs, quiet_hours: { start: '08:00', end: '20:00' } } };
    const r = notificationRequest({ source: 'seq:6', userId: night.id, template: 'receipt', category: 'billing', priority: 'NORMAL', data: money, requestedBy: 'test', at: T0 - 6 * 3_600_000,
      sequence: { series_id: notificationRequest({ source: 'seq:6', userId: night.id, template: 'receipt', category: 'billing', priority: 'NORMAL', requestedBy: 'test', at: T0 }).notification_id, step: 0, steps: [step(2.25, 'payment_failed')], exit_invoice_paid: 'in_77', exit_engaged: null } });
    const h = new Harness([night], ['ok']);
    await h.process({ kind: 'requested', request: r, loggedAt: r.occurred_at }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: r });
    assert.ok(await h.fireNext(), 'the second step comes due, in quiet hours');
    const outcomesOf = () => h.run.events.flatMap((e) => (e.record === 'NotificationDispatched' && (e.value as NotificationDispatched).template === 'payment_failed' ? [e.value as NotificationDispatched] : []));
    const deferred = outcomesOf();
    assert.deepEqual(deferred.map((o) => o.status), ['scheduled', 'deferred']);
    h.fold(invoiceEvent('in_77', 'invoice.paid', T0 + 2 * DAY + 3_600_000));
    await drain(h);
    const after = outcomesOf();
    assert.deepEqual(after.map((o) => o.status), ['scheduled', 'deferred', 'cancelled']);
    assert.equal(after[2]?.reason, 'the sequence ended: invoice in_77 was paid (invoice.paid)');
  });

  it('given the sequence id cancelled after its first step was sent, then the pending step is cancelled when it comes due and none follows', async () => {
    const r = sequence('seq:5');
    const h = await start(r);
    const c: NotificationCancelled = { event_id: `cancel:${r.notification_id}`, occurred_at: T0 + DAY, received_at: T0 + DAY, notification_id: r.notification_id, user_id: di.id, requested_by: 'key:k1', reason: null };
    await h.process({ kind: 'cancelled', cancel: c }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationCancelled', value: c });
    await drain(h);
    assert.deepEqual(outcomes(h).map(([status, template, , reason]) => [status, template, reason]), [
      ['sent', 'receipt', null],
      ['cancelled', 'payment_failed', 'the series was cancelled'],
    ]);
    assert.deepEqual(h.timers(), []);
  });
});

describe('what dispatch folds of Stripe events', () => {
  const DAY = 86_400_000;
  const now = Date.UTC(2026, 11, 7);
  const invoice = (type: string, settledDaysAgo: number, objectId: string | null = 'in_1'): { topic: 'stripe.events.v1'; record: string; value: StripeEventReceived } => ({
    topic: 'stripe.events.v1',
    record: 'StripeEventReceived',
    // Appended just now whenever it was settled (a backfill): the fact goes by when it was settled.
    value: { event_id: `evt_${type}_${settledDaysAgo}`, occurred_at: now - settledDaysAgo * DAY, received_at: now, type, api_version: null, account: null, livemode: false, customer_id: 'cus_1', object_id: objectId, object_type: 'invoice', source: 'backfill', payload: '{}' },
  });

  it('given invoices paid or voided within the 120 days a sequence runs, then each is a fact; settled earlier, failed, or without an invoice id, none is (live and in a rebuild: both fold through this)', () => {
    assert.equal(invoiceKind.ttlSeconds, 120 * 86_400, 'the horizon these cases are written for');
    assert.deepEqual(dispatchFact(invoice('invoice.paid', 119), now), invoice('invoice.paid', 119));
    assert.deepEqual(dispatchFact(invoice('invoice.voided', 0), now), invoice('invoice.voided', 0));
    assert.equal(dispatchFact(invoice('invoice.paid', 121), now), null, 'settled before any running sequence began');
    assert.equal(dispatchFact(invoice('invoice.voided', 400), now), null);
    assert.equal(dispatchFact(invoice('invoice.payment_failed', 1), now), null, 'a failed payment settles nothing');
    assert.equal(dispatchFact(invoice('invoice.paid', 1, null), now), null, 'no invoice to key it by');
  });

  it('given no time, then the horizon is counted from the wall clock (the live fold with one argument)', () => {
    const at = (daysAgo: number) => ({ ...invoice('invoice.paid', 0), value: { ...invoice('invoice.paid', 0).value, occurred_at: Date.now() - daysAgo * DAY } });
    assert.notEqual(dispatchFact(at(119)), null);
    assert.equal(dispatchFact(at(121)), null);
  });
});
