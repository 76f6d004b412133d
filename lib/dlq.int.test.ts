import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventlinePublisher } from '../producers/sdk/index.ts';
import { createTestEnv, eventually, type TestEnv } from '../test/support/env.ts';
import { runEventline } from '../test/support/process.ts';
import { createTopics, registerSchemas } from './catalogue.ts';
import { listDeadLetters, summarizeDlqs } from './dlq.ts';
import type { Incoming, RunningConsumer } from './kafka/index.ts';
import { runProcessor } from './processor.ts';
import { runProjection, storedOffsets, type Projection } from './projection.ts';

describe('dead letters: list and replay for one group', () => {
  let t: TestEnv;
  let publisher: EventlinePublisher;
  const running: RunningConsumer[] = [];
  // The records each processor handled, by event id, as the set of offsets it handled them at: the
  // runner is at-least-once, so a batch retried after a transient failure hands a record over again
  // at the same offset, while a replayed copy is a new record at a new offset. The ledger cannot
  // process "poisoned" users until fixed.
  const ledger = new Map<string, Set<string>>();
  const bystander = new Map<string, Set<string>>();
  let fixed = false;
  const count = (m: Map<string, Set<string>>, id: string, offset: string) => m.set(id, (m.get(id) ?? new Set()).add(offset));
  const copies = (m: Map<string, Set<string>>) => [...m.values()].map((offsets) => offsets.size);

  before(async () => {
    t = await createTestEnv('dlq');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    publisher = await EventlinePublisher.connect({ producer: 'dlq-test', config: t.config });
    running.push(
      await runProcessor(t.rt, {
        name: 'ledger',
        topics: ['domain.events.v1'],
        handle: async (r) => {
          if (r.record === 'UserSignedUp' && r.value.data.user_id.startsWith('poisoned') && !fixed) throw new Error(`no ledger account for ${r.value.data.user_id}`);
          count(ledger, r.value.event_id, `${r.partition}:${r.offset}`);
        },
      }),
      await runProcessor(t.rt, { name: 'bystander', topics: ['domain.events.v1'], handle: async (r) => void count(bystander, r.value.event_id, `${r.partition}:${r.offset}`) }),
    );
  });
  after(async () => {
    for (const r of running) await r.stop();
    await publisher?.close();
    await t?.cleanup();
  });

  const signUp = (userId: string) => publisher.publish('UserSignedUp', userId, { user_id: userId, email: `${userId}@example.com`, name: null, locale: null, stripe_customer_id: null }, { eventId: `evt_${userId}` });

  it('keeps what failed with its error, replays it once fixed to that group only, and never twice', async () => {
    for (const u of ['ok_1', 'poisoned_1', 'ok_2', 'poisoned_2', 'ok_3']) await signUp(u);
    await eventually(() => (bystander.size === 5 && ledger.size === 3 ? true : undefined), { what: 'both groups to go past every record' });
    // The two failures sit on different partitions, so which one reached the DLQ first is up to timing.
    const dead = await eventually(async () => {
      const entries = await listDeadLetters(t.rt, 'processor.ledger');
      return entries.length === 2 ? entries.sort((a, b) => (a.key ?? '').localeCompare(b.key ?? '')) : undefined;
    });
    assert.deepEqual(
      dead.map((e) => [e.letter.headers['eventline-replay-for'] ?? null, e.errorCode, e.error, e.attempts, e.replayedAt]),
      [
        [null, 'processor_failed', 'no ledger account for poisoned_1', 1, null],
        [null, 'processor_failed', 'no ledger account for poisoned_2', 1, null],
      ],
    );
    assert.deepEqual(await summarizeDlqs(t.rt), [{ group: 'processor.ledger', topic: 'dlq.processor.ledger.v1', total: 2, replayed: 0, pending: 2 }]);

    // The CLI shows the same, for people and for scripts.
    const summary = await runEventline(t.env, ['dlq', 'list']);
    assert.equal(summary.code, 0, summary.stderr);
    assert.match(summary.stdout, /processor\.ledger\s+dlq\.processor\.ledger\.v1\s+2\s+0\s+2/);
    const listed = await runEventline(t.env, ['dlq', 'list', 'processor.ledger', '--json']);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { offset: string; origin: string; key: string; replayed_at: string | null });
    assert.deepEqual(rows.map((r) => r.offset), ['0', '1'], 'listed in DLQ offset order');
    assert.deepEqual(
      rows.map((r) => [r.key, r.origin, r.replayed_at]).sort(),
      dead.map((e) => [e.key, `domain.events.v1:${e.origin.partition}:${e.origin.offset}`, null]),
    );

    // A dry run appends nothing.
    const topicBefore = await t.rt.kafka.recordCount('domain.events.v1');
    const dry = await runEventline(t.env, ['dlq', 'replay', 'processor.ledger', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /2 dead letters would be replayed/);
    assert.equal(await t.rt.kafka.recordCount('domain.events.v1'), topicBefore);

    fixed = true;
    const replay = await runEventline(t.env, ['dlq', 'replay', 'processor.ledger']);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /2 dead letters replayed for processor\.ledger/);
    await eventually(() => (ledger.size === 5 ? true : undefined), { what: 'the ledger to process the replayed records' });
    assert.equal(await t.rt.kafka.recordCount('domain.events.v1'), topicBefore + 2);

    // A second replay has nothing left to do.
    const again = await runEventline(t.env, ['dlq', 'replay', 'processor.ledger']);
    assert.match(again.stdout, /0 dead letters replayed/);
    assert.equal(await t.rt.kafka.recordCount('domain.events.v1'), topicBefore + 2);
    assert.deepEqual(
      (await listDeadLetters(t.rt, 'processor.ledger')).map((e) => e.replayedTimes),
      [1, 1],
    );

    // The bystander group skipped the copies; the ledger handled every event from one record only.
    const ends = await t.rt.kafka.topicOffsets('domain.events.v1');
    await eventually(async () => {
      const committed = await t.rt.kafka.committedOffsets('processor.bystander', 'domain.events.v1');
      return ends.every((e) => e.high === '0' || committed.some((c) => c.partition === e.partition && BigInt(c.offset) >= BigInt(e.high))) ? true : undefined;
    }, { what: 'the bystander to go past the copies' });
    assert.deepEqual(copies(bystander), [1, 1, 1, 1, 1]);
    assert.deepEqual(copies(ledger), [1, 1, 1, 1, 1]);
  });

  it('a replayed record that fails again is dead-lettered again with its attempt count', async () => {
    fixed = false;
    await signUp('poisoned_3');
    const first = await eventually(async () => (await listDeadLetters(t.rt, 'processor.ledger')).find((e) => e.key === 'poisoned_3'));
    const replay = await runEventline(t.env, ['dlq', 'replay', 'processor.ledger', '--offset', first.dlqOffset]);
    assert.equal(replay.code, 0, replay.stderr);
    const second = await eventually(async () => (await listDeadLetters(t.rt, 'processor.ledger')).find((e) => e.key === 'poisoned_3' && e.dlqOffset !== first.dlqOffset));
    assert.equal(second.attempts, 2);
    assert.equal(second.letter.headers['eventline-replay-of'], `${first.origin.topic}:${first.origin.partition}:${first.origin.offset}`, 'the copy names the original');
    assert.equal(ledger.has('evt_poisoned_3'), false);
  });

  it('given a batch handler that fails on one record of its batch, then the runner hands the records over one by one and only that one is dead-lettered', async () => {
    // One key: one partition, so the processor started afterwards gets these records in one batch.
    const users = ['b_ok_1', 'b_poisoned', 'b_ok_2', 'b_ok_3'];
    for (const u of users) await publisher.publish('UserSignedUp', 'one-partition', { user_id: u, email: `${u}@example.com`, name: null, locale: null, stripe_customer_id: null }, { eventId: `evt_${u}` });
    const sizes: number[] = [];
    const handled = new Map<string, Set<string>>();
    running.push(
      await runProcessor(t.rt, {
        name: 'batched',
        topics: ['domain.events.v1'],
        handleBatch: async (records) => {
          const ours = records.filter((r) => r.record === 'UserSignedUp' && r.value.data.user_id.startsWith('b_'));
          if (ours.length > 0) sizes.push(ours.length);
          const bad = ours.find((r) => r.record === 'UserSignedUp' && r.value.data.user_id === 'b_poisoned');
          if (bad) throw new Error('no ledger account for b_poisoned');
          for (const r of ours) count(handled, r.value.event_id, `${r.partition}:${r.offset}`);
        },
      }),
    );
    const dead = await eventually(async () => {
      const entries = await listDeadLetters(t.rt, 'processor.batched');
      return handled.size === 3 && entries.length > 0 ? entries : undefined;
    }, { what: 'the batch to be decided' });
    assert.ok(Math.max(...sizes) > 1, `the four records came in one batch (batch sizes ${sizes.join(', ')})`);
    assert.deepEqual([...handled.keys()].sort(), ['evt_b_ok_1', 'evt_b_ok_2', 'evt_b_ok_3']);
    assert.deepEqual(copies(handled), [1, 1, 1]);
    assert.deepEqual(dead.map((e) => [e.key, e.error]), [['one-partition', 'no ledger account for b_poisoned']]);
  });

  it('given a processor with both handlers, then the records of its batchTopics go to handleBatch as units (one by one after a unit failed, only the bad one dead-lettered) and the others to handle one at a time; a wrong batchTopics does not start', async () => {
    const nothing = async () => {};
    const refused = [
      [{ topics: ['domain.events.v1'], handle: nothing, handleBatch: nothing }, /processor wrong defines handle and handleBatch: batchTopics must say which topics go to handleBatch/],
      [{ topics: ['domain.events.v1'], handle: nothing, handleBatch: nothing, batchTopics: [] }, /batchTopics must say which topics go to handleBatch/],
      [{ topics: ['domain.events.v1'], handleBatch: nothing, batchTopics: ['domain.events.v1'] }, /processor wrong names batchTopics without both handle and handleBatch/],
      [{ topics: ['domain.events.v1'], handle: nothing, handleBatch: nothing, batchTopics: ['stripe.events.v1'] }, /processor wrong names batchTopics it does not consume: stripe\.events\.v1/],
    ] as const;
    for (const [def, message] of refused) await assert.rejects(runProcessor(t.rt, { name: 'wrong', ...def } as never), message);

    const now = Date.now();
    const stripe = ['m_1', 'm_2', 'm_poison', 'm_3', 'm_4'].map((id) => ({ key: 'cus_mixed', record: 'StripeEventReceived', value: { event_id: `evt_${id}`, occurred_at: now, received_at: now, type: 'invoice.paid', api_version: null, account: null, livemode: false, customer_id: 'cus_mixed', object_id: `in_${id}`, object_type: 'invoice', source: 'webhook', payload: '{}' } }));
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripe as never);
    for (const u of ['m_ok_1', 'm_ok_2', 'm_ok_3']) await publisher.publish('UserSignedUp', 'one-partition-mixed', { user_id: u, email: `${u}@example.com`, name: null, locale: null, stripe_customer_id: null }, { eventId: `evt_${u}` });
    // The test's own records, each as topic:event id, whichever handler got them.
    const mine = (r: Incoming<'domain.events.v1' | 'stripe.events.v1'>): string[] => {
      if (r.record === 'StripeEventReceived') return r.value.customer_id === 'cus_mixed' ? [`${r.topic}:${r.value.event_id}`] : [];
      return r.record === 'UserSignedUp' && r.value.data.user_id.startsWith('m_ok_') ? [`${r.topic}:${r.value.event_id}`] : [];
    };
    const units: number[] = [];
    // By handler, each record's offsets (at-least-once: a batch retried hands a record over again at the same offset).
    const batched = new Map<string, Set<string>>();
    const single = new Map<string, Set<string>>();
    running.push(
      await runProcessor(t.rt, {
        name: 'mixed',
        topics: ['domain.events.v1', 'stripe.events.v1'],
        batchTopics: ['stripe.events.v1'],
        handleBatch: async (records) => {
          const ours = records.filter((r) => mine(r).length > 0);
          if (ours.length === 0) return;
          units.push(ours.length);
          if (ours.some((r) => r.record === 'StripeEventReceived' && r.value.event_id === 'evt_m_poison')) throw new Error('no ledger account for in_m_poison');
          for (const r of ours) for (const id of mine(r)) count(batched, id, `${r.partition}:${r.offset}`);
        },
        handle: async (r) => {
          for (const id of mine(r)) count(single, id, `${r.partition}:${r.offset}`);
        },
      }),
    );
    const dead = await eventually(async () => {
      const entries = batched.size === 4 && single.size === 3 ? await listDeadLetters(t.rt, 'processor.mixed').catch(() => []) : [];
      return entries.length > 0 ? entries : undefined;
    }, { what: () => `both topics to be handled and the poisoned record dead-lettered; to handleBatch: ${[...batched.keys()].join(', ') || 'none'} (units ${units.join(', ')}); to handle: ${[...single.keys()].join(', ') || 'none'}` });
    assert.deepEqual([...batched.keys()], ['evt_m_1', 'evt_m_2', 'evt_m_3', 'evt_m_4'].map((id) => `stripe.events.v1:${id}`), 'only the batch topic, in partition order, the poisoned record left out');
    assert.deepEqual(copies(batched), [1, 1, 1, 1]);
    assert.ok(units[0]! > 1, `the Stripe records came as one unit first (units ${units.join(', ')})`);
    assert.ok(units.slice(1).every((n) => n === 1), `then one at a time, after the unit failed (units ${units.join(', ')})`);
    assert.deepEqual([...single.keys()], ['evt_m_ok_1', 'evt_m_ok_2', 'evt_m_ok_3'].map((id) => `domain.events.v1:${id}`), 'only the other topic, one at a time');
    assert.deepEqual(dead.map((e) => [e.key, e.error]), [['cus_mixed', 'no ledger account for in_m_poison']]);
  });

  it('refuses bad input with a clear error and appends nothing', async () => {
    const before = await t.rt.kafka.recordCount('domain.events.v1');
    const unknown = await runEventline(t.env, ['dlq', 'replay', 'processor.nobody']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no dead-letter queue for group processor\.nobody .*\[not_found\]/);
    const badOffset = await runEventline(t.env, ['dlq', 'replay', 'processor.ledger', '--offset', 'abc']);
    assert.equal(badOffset.code, 2);
    assert.match(badOffset.stderr, /--offset abc is not an offset/);
    const missing = await runEventline(t.env, ['dlq', 'replay', 'processor.ledger', '--offset', '999']);
    assert.match(missing.stderr, /no dead letter at offset 999/);
    const listUnknown = await runEventline(t.env, ['dlq', 'list', 'processor.nobody']);
    assert.match(listUnknown.stderr, /groups with one: processor\.batched, processor\.ledger/);
    assert.equal(await t.rt.kafka.recordCount('domain.events.v1'), before);
  });

  it('given a projection whose database refuses one record of a batch, then the batch is applied record by record: that record is dead-lettered, every other applied once, and the checkpoint reaches the end', async () => {
    const table = 'public.dlq_projection_rows';
    // The database itself refuses the poisoned users: a failure that retrying does not cure.
    await t.rt.db.query(`CREATE TABLE ${table} (event_id text PRIMARY KEY, user_id text NOT NULL CONSTRAINT no_poison CHECK (user_id NOT LIKE 'proj_poisoned%'), at text NOT NULL)`);
    const projection: Projection<'domain.events.v1'> = {
      name: 'rows',
      topics: ['domain.events.v1'],
      async apply(client, records) {
        for (const r of records) {
          if (r.record !== 'UserSignedUp' || !r.value.data.user_id.startsWith('proj_')) continue;
          // No ON CONFLICT: a record applied twice would fail on the key and be dead-lettered too.
          await client.query(`INSERT INTO ${table} (event_id, user_id, at) VALUES ($1, $2, $3)`, [r.value.event_id, r.value.data.user_id, `${r.partition}:${r.offset}`]);
        }
      },
    };
    // Several to a partition, so a batch holds good records beside the poisoned one.
    for (const u of ['proj_ok_1', 'proj_poisoned_1', 'proj_ok_2', 'proj_ok_3', 'proj_poisoned_2', 'proj_ok_4', 'proj_ok_5', 'proj_ok_6']) await signUp(u);
    const ends = await t.rt.kafka.topicOffsets('domain.events.v1');
    running.push(await runProjection(t.rt, projection));
    await eventually(async () => {
      const stored = await storedOffsets(t.rt, 'rows');
      return ends.every((e) => BigInt(stored.get(`domain.events.v1/${e.partition}`) ?? '0') >= BigInt(e.high)) ? true : undefined;
    }, { what: 'the projection checkpoint to reach the end of every partition' });
    const { rows } = await t.rt.db.query<{ user_id: string }>(`SELECT user_id FROM ${table} ORDER BY user_id`);
    assert.deepEqual(rows.map((r) => r.user_id), ['proj_ok_1', 'proj_ok_2', 'proj_ok_3', 'proj_ok_4', 'proj_ok_5', 'proj_ok_6']);
    const dead = await listDeadLetters(t.rt, 'projection.rows');
    assert.deepEqual(dead.map((e) => [e.key, e.errorCode]).sort(), [['proj_poisoned_1', 'projection_failed'], ['proj_poisoned_2', 'projection_failed']]);
    for (const e of dead) assert.match(e.error, /no_poison/);
  });
});
