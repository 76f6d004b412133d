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
import type { DeliveryChannel, DeliveryEventReceived, NotificationDispatched, NotificationDue, NotificationRequested } from '../../lib/topics.ts';
import { notificationRequest, type Priority } from '../../notify/index.ts';
import { loadDispatchState, type DispatchReader } from './main.ts';
import { MemoryState, rebuiltShuffled, sortedStates } from '../../test/support/decider-harness.ts';
import { allows, defaultPreferences, type Preferences } from '../../projections/preferences/document.ts';
import { decide, eventTimeOf, type DispatchInput, type SendCommand } from './decide.ts';
import { capKind, digestKind, dispatchKinds, emptyNotification, notificationKind, type CapState, type DigestState, type DispatchFact, type NotificationState } from './evolve.ts';

const T0 = Date.UTC(2026, 10, 16, 12, 0, 0);
const policy = { retryBackoffMs: [10_000, 30_000], maxAgeMs: 7 * 86_400_000 };

interface User {
  readonly id: string;
  readonly prefs: Preferences;
  readonly email: string | null;
  readonly phone: string | null;
}

type Answer = 'ok' | 'retryable' | 'permanent' | 'unknown';
type Command = { readonly kind: 'request'; readonly user: number; readonly priority: Priority; readonly category: string; readonly gapMs: number } | { readonly kind: 'fire' } | { readonly kind: 'bounce'; readonly pick: number };

const userArb = fc.record({ sms: fc.boolean(), inApp: fc.boolean(), email: fc.boolean(), phone: fc.boolean(), digest: fc.boolean(), cap: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }) });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('request' as const), user: fc.nat(3), priority: fc.constantFrom<Priority>('CRITICAL', 'HIGH', 'NORMAL', 'LOW'), category: fc.constantFrom('billing', 'marketing', 'security'), gapMs: fc.integer({ min: 0, max: 3_600_000 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'fire' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bounce' as const), pick: fc.nat(50) }) },
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
      const request = notificationRequest({ source: `prop:${n++}`, userId: u.id, template: 'receipt', category: c.category, priority: c.priority, data: { amount_due: 100, currency: 'usd' }, requestedBy: 'test', at: now });
      await h.process({ kind: 'requested', request, loggedAt: now }, { topic: 'notify.dispatch-requests.v1', record: 'NotificationRequested', value: request });
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
        raw: '{}',
      };
      await h.process({ kind: 'delivery', event }, null);
    }
  }
  return h;
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
          assert.ok(['sent', 'suppressed', 'failed', 'batched'].includes(n.status), `${id} stuck in ${n.status}`);
          for (const [c, p] of Object.entries(n.channels)) assert.ok(p.status === 'sent' || p.status === 'failed', `${id}: ${c} left ${p.status}`);
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
    const bounce = { event_id: 'b1', occurred_at: T0 + 5000, received_at: T0 + 5000, provider: 'sendgrid', channel: 'email', kind: 'bounced', provider_event: 'bounce', notification_id: sent[0]!.notification_id, provider_message_id: null, recipient: null, reason: null, error_code: null, bounce_type: null, url: null, raw: '{}' } satisfies DeliveryEventReceived;
    const d = decide({ notification: state, context: { prefs: u!.prefs, recipient: { email: u!.email, phone: u!.phone, name: null, locale: null }, sentToday: 0, templateKnown: true, digestFlushed: false }, digest: null }, { kind: 'delivery', event: bounce }, bounce.occurred_at, policy);
    assert.deepEqual(d, { events: [], effects: [] });
  });
});
