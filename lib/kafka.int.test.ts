import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import avro from 'avsc';
import { checkSchemas, createTopics, registerSchemas } from './catalogue.ts';
import { isEventlineError } from './errors.ts';
import { metrics } from './metrics.ts';
import { recordSchemas, recordVocabularies, topicNames, topicSpecs, type RecordName, type TopicName } from './topics.ts';
import { collect, plain } from '../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../test/support/env.ts';
import { sampleRecords } from '../test/fixtures/records.ts';

/** Confluent framing done by hand, so the test does not rely on the code under test to build it. */
function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

function keyFor(topic: TopicName, value: Record<string, unknown>): string {
  for (const field of ['customer_id', 'notification_id', 'user_id', 'provider', 'template', 'key']) {
    const v = value[field];
    if (typeof v === 'string') return v;
  }
  throw new Error(`no key field in a ${topic} sample`);
}

describe('Kafka backbone against the real broker and schema registry', () => {
  let t: TestEnv;

  before(async () => {
    t = await createTestEnv('backbone');
    await createTopics(t.rt.kafka);
  });
  after(() => t?.cleanup());

  it('given the catalogue, when schemas are registered, then every record has a subject <topic>-<record full name>', async () => {
    const registered = await registerSchemas(t.rt.kafka);
    const expectedSubjects = topicNames.flatMap((topic) =>
      topicSpecs[topic].records.map((r) => `${t.namespace}.${topic}-${recordSchemas[r as RecordName].fullName}`),
    );
    assert.deepEqual(registered.map((r) => r.subject).sort(), [...expectedSubjects].sort());
    assert.ok(registered.every((r) => Number.isInteger(r.id) && r.id > 0));
    const listed = await t.rt.kafka.registry.subjects(`${t.namespace}.`);
    assert.deepEqual(listed.sort(), [...expectedSubjects].sort());
    // Registering again is a no-op that returns the same ids.
    const again = await registerSchemas(t.rt.kafka);
    assert.deepEqual(
      again.map((r) => [r.subject, r.id]),
      registered.map((r) => [r.subject, r.id]),
    );
  });

  it('given one sample of every record type, when appended and consumed back, then each decodes deep-equal to what was sent', async () => {
    const appender = await t.rt.kafka.appender();
    type AnyEnvelope = { record: string; value: { event_id: string } };
    const expected = new Map<string, { topic: TopicName; key: string; envelope: AnyEnvelope }>();
    for (const topic of topicNames) {
      const samples = sampleRecords[topic] as readonly AnyEnvelope[];
      const outgoing = samples.map((envelope) => {
        const key = keyFor(topic, envelope.value as unknown as Record<string, unknown>);
        expected.set(`${topic}/${envelope.value.event_id}`, { topic, key, envelope });
        return { ...envelope, key };
      });
      await appender.append(topic, outgoing as never);
    }
    const received = await collect(t.rt.kafka, topicNames, expected.size, { group: 'test.roundtrip' });
    assert.equal(received.length, expected.size);
    for (const r of received) {
      const want = expected.get(`${r.topic}/${r.value.event_id}`);
      assert.ok(want, `unexpected record ${r.topic}/${r.value.event_id}`);
      assert.equal(r.record, want.envelope.record);
      assert.equal(r.key, want.key);
      // Personal fields are sealed on the topic (ADR 0018, test/privacy.e2e.test.ts); collect opens them to what was sent.
      assert.deepEqual(plain(r.value), plain(want.envelope.value));
    }
    assert.deepEqual(new Set(received.map((r) => r.topic)), new Set(topicNames));
  });

  it('given a registered subject, when a change breaks BACKWARD it is rejected, and a change adding a defaulted field is accepted', async () => {
    const subject = `${t.namespace}.compat-probe-eventline.stripe.StripeEventReceived`;
    const v1 = recordSchemas.StripeEventReceived.schema as unknown as { fields: object[] };
    const first = await t.rt.kafka.registry.register(subject, v1);
    const incompatible = { ...v1, fields: [...v1.fields, { name: 'region', type: 'string' }] };
    await assert.rejects(
      () => t.rt.kafka.registry.register(subject, incompatible),
      (err: unknown) => isEventlineError(err, 'schema_incompatible'),
    );
    assert.equal((await t.rt.kafka.registry.check(subject, incompatible)).status, 'incompatible');
    const compatible = { ...v1, fields: [...v1.fields, { name: 'region', type: 'string', default: 'eu' }] };
    assert.equal((await t.rt.kafka.registry.check(subject, compatible)).status, 'compatible');
    const second = await t.rt.kafka.registry.register(subject, compatible);
    assert.notEqual(second.id, first.id);
  });

  it('given local schemas with an incompatible change, when checked against the registry, then the change is reported', async () => {
    await registerSchemas(t.rt.kafka);
    const changed = structuredClone(recordSchemas) as unknown as Record<RecordName, { schema: { fields: { name: string; type: unknown }[] } }>;
    changed.FraudScored.schema.fields = changed.FraudScored.schema.fields.map((f) => (f.name === 'score' ? { ...f, type: 'string' } : f));
    const results = await checkSchemas(t.rt.kafka, changed as never);
    const bad = results.filter((r) => r.status === 'incompatible').map((r) => r.subject);
    assert.deepEqual(bad, [`${t.namespace}.risk.fraud-scores.v1-eventline.risk.FraudScored`]);
    const clean = await checkSchemas(t.rt.kafka);
    assert.ok(clean.every((r) => r.status === 'compatible'), JSON.stringify(clean.filter((r) => r.status !== 'compatible')));
  });

  it('given records written with a newer and an older schema version, when consumed, then both resolve into the current shape', async () => {
    const subject = `${t.namespace}.stripe.events.v1-eventline.stripe.StripeEventReceived`;
    const current = recordSchemas.StripeEventReceived.schema as unknown as { fields: { name: string }[] };
    const newer = { ...current, fields: [...current.fields, { name: 'region', type: 'string', default: 'eu' }] };
    const older = { ...current, fields: current.fields.filter((f) => f.name !== 'source') };
    const newerId = (await t.rt.kafka.registry.register(subject, newer)).id;
    const olderId = (await t.rt.kafka.registry.register(subject, older)).id;
    const base = sampleRecords['stripe.events.v1'][0]!.value;
    const fromNewer = { ...base, event_id: 'evt_newer', region: 'us' };
    const fromOlder: Record<string, unknown> = { ...base, event_id: 'evt_older' };
    delete fromOlder.source;
    const appender = await t.rt.kafka.appender();
    await appender.appendRaw('stripe.events.v1', [
      { key: 'cus_evolve', value: frame(newerId, avro.Type.forSchema(newer as avro.Schema).toBuffer(fromNewer)) },
      { key: 'cus_evolve', value: frame(olderId, avro.Type.forSchema(older as avro.Schema).toBuffer(fromOlder)) },
    ]);
    const received = await collect(t.rt.kafka, ['stripe.events.v1'], 3, { group: 'test.evolve' });
    const byId = new Map(received.map((r) => [r.value.event_id, plain(r.value) as Record<string, unknown>]));
    assert.deepEqual(byId.get('evt_newer'), { ...base, event_id: 'evt_newer' }, 'the unknown field is dropped');
    assert.deepEqual(byId.get('evt_older'), { ...base, event_id: 'evt_older', source: 'webhook' }, 'the missing field gets its default');
  });

  it('given subjects registered before the closed vocabularies were declared, then the schemas declaring them are BACKWARD compatible and replace them', async () => {
    type Field = { name: string; 'eventline.symbols'?: unknown; 'eventline.default'?: unknown };
    const marked = (Object.keys(recordVocabularies) as RecordName[]).filter((r) => Object.keys(recordVocabularies[r]).length > 0);
    assert.ok(marked.length >= 8, marked.join(', '));
    for (const record of marked) {
      const current = recordSchemas[record].schema as unknown as { fields: Field[] };
      const before = { ...current, fields: current.fields.map(({ 'eventline.symbols': _symbols, 'eventline.default': _default, ...f }) => f) };
      assert.notDeepEqual(before, current);
      const subject = `${t.namespace}.vocabulary-probe-${recordSchemas[record].fullName}`;
      await t.rt.kafka.registry.register(subject, before);
      assert.deepEqual(await t.rt.kafka.registry.check(subject, current), { subject, status: 'compatible', messages: [] }, record);
      const { id } = await t.rt.kafka.registry.register(subject, current);
      assert.equal(await t.rt.kafka.registry.idOf(subject, current), id, `${record}: a producer finds the registered schema`);
    }
  });

  it('given a record from a newer producer with a symbol this version does not know, when consumed, then it is delivered (not dead-lettered) with the default symbol, and counted', async () => {
    const subject = `${t.namespace}.notify.dispatches.v1-eventline.notify.NotificationDispatched`;
    const current = recordSchemas.NotificationDispatched.schema as unknown as { fields: { name: string; 'eventline.symbols'?: readonly string[] }[] };
    const newer = { ...current, fields: current.fields.map((f) => (f.name === 'status' ? { ...f, 'eventline.symbols': [...(f['eventline.symbols'] ?? []), 'escalated'] } : f)) };
    const newerId = (await t.rt.kafka.registry.register(subject, newer)).id;
    const base = sampleRecords['notify.dispatches.v1'][0]!.value;
    const counted = async () =>
      (await metrics.unknownSymbols.get()).values.find((v) => v.labels.topic === 'notify.dispatches.v1' && v.labels.field === 'status')?.value ?? 0;
    const before = await counted();
    const appender = await t.rt.kafka.appender();
    await appender.appendRaw('notify.dispatches.v1', [
      { key: base.notification_id, value: frame(newerId, avro.Type.forSchema(newer as avro.Schema).toBuffer({ ...base, event_id: 'ntf_newer:escalated', status: 'escalated' })) },
    ]);
    const received = await collect(t.rt.kafka, ['notify.dispatches.v1'], (r) => r.some((x) => x.value.event_id === 'ntf_newer:escalated'), { group: 'test.vocabulary' });
    const got = received.find((x) => x.value.event_id === 'ntf_newer:escalated');
    assert.deepEqual(plain(got?.value), { ...base, event_id: 'ntf_newer:escalated', status: 'unknown' });
    assert.equal(await counted(), before + 1);
  });

  it('given a value that is not Avro, when consumed, then it goes to dlq.<group>.v1 byte for byte and the next record still arrives', async () => {
    const garbage = Buffer.from('{"not":"avro"}');
    const appender = await t.rt.kafka.appender();
    await appender.appendRaw('risk.fraud-scores.v1', [{ key: 'cus_bad', value: garbage }]);
    const good = sampleRecords['risk.fraud-scores.v1'][0]!;
    await appender.append('risk.fraud-scores.v1', [{ ...good, key: 'cus_bad', value: { ...good.value, event_id: 'fraud:after-garbage' } } as typeof good & { key: string }]);
    // The topic holds the round-trip samples, the garbage and the record after it.
    const samples = sampleRecords['risk.fraud-scores.v1'].map((s) => s.value.event_id);
    const received = await collect(t.rt.kafka, ['risk.fraud-scores.v1'], samples.length + 1, { group: 'test.dlq' });
    assert.deepEqual(
      received.map((r) => r.value.event_id).sort(),
      ['fraud:after-garbage', ...samples].sort(),
    );
    const dead = await collect(t.rt.kafka, ['dlq.test.dlq.v1'], 1);
    assert.equal(dead.length, 1);
    const letter = dead[0]!.value;
    assert.equal(letter.group, 'test.dlq');
    assert.equal(letter.topic, 'risk.fraud-scores.v1');
    assert.equal(letter.error_code, 'decode_failed');
    assert.deepEqual(letter.value, garbage);
    assert.equal(letter.key?.toString(), 'cus_bad');
    assert.equal(dead[0]!.key, 'cus_bad');
  });

  it('given an append larger than one produce request may carry, then it is split, arrives complete, and keeps order per key', async () => {
    const base = sampleRecords['stripe.events.v1'][0]!.value;
    const records = Array.from({ length: 3000 }, (_, i) => ({
      key: `cus_big${i % 7}`,
      record: 'StripeEventReceived' as const,
      value: { ...base, event_id: `evt_big_${String(i).padStart(5, '0')}`, customer_id: `cus_big${i % 7}`, payload: 'x'.repeat(900) },
    }));
    const appender = await t.rt.kafka.appender();
    await appender.append('stripe.events.v1', records);
    const got = await collect(t.rt.kafka, ['stripe.events.v1'], (r) => r.filter((x) => x.value.event_id.startsWith('evt_big_')).length >= 3000, { group: 'test.big' });
    const mine = got.filter((x) => x.value.event_id.startsWith('evt_big_'));
    assert.equal(mine.length, 3000);
    for (let k = 0; k < 7; k++) {
      const ids = mine.filter((x) => x.key === `cus_big${k}`).map((x) => x.value.event_id);
      assert.deepEqual(ids, [...ids].sort(), `order of key cus_big${k}`);
    }
  });

  it('given an append with a record above its maxRecordBytes, then it is refused as payload_too_large before any of it is sent', async () => {
    const base = sampleRecords['stripe.events.v1'][0]!.value;
    const small = Array.from({ length: 2000 }, (_, i) => ({ key: 'cus_cap', record: 'StripeEventReceived' as const, value: { ...base, event_id: `evt_cap_${i}`, payload: 'x'.repeat(900) } }));
    const large = { key: 'cus_cap', record: 'StripeEventReceived' as const, value: { ...base, event_id: 'evt_cap_large', payload: 'y'.repeat(20_000) } };
    const before = await t.rt.kafka.recordCount('stripe.events.v1');
    const appender = await t.rt.kafka.appender();
    // Several requests' worth, the large record last: without the check the first requests would land.
    await assert.rejects(
      () => appender.appendMany([{ topic: 'stripe.events.v1', records: [...small, large] }] as never, { maxRecordBytes: 10_000 }),
      (err: unknown) => isEventlineError(err, 'payload_too_large') && !err.canRetry,
    );
    assert.equal(await t.rt.kafka.recordCount('stripe.events.v1'), before);
    await appender.appendMany([{ topic: 'stripe.events.v1', records: small.slice(0, 3) }] as never, { maxRecordBytes: 10_000 });
    assert.equal(await t.rt.kafka.recordCount('stripe.events.v1'), before + 3);
  });
});

describe('an append the caller gave up on', () => {
  let t: TestEnv;

  before(async () => {
    // The topics do not exist yet: the producer keeps retrying the append until they do.
    t = await createTestEnv('lateack', { EVENTLINE_APPEND_TIMEOUT_MS: '300' });
    await registerSchemas(t.rt.kafka);
  });
  after(() => t?.cleanup());

  it('is reported as kafka_unavailable in time, and once the broker acknowledges it after all, lateAck runs once and the record is there once', async () => {
    const sample = sampleRecords['stripe.events.v1'][0]!;
    const appender = await t.rt.kafka.appender();
    let late = 0;
    const started = Date.now();
    await assert.rejects(
      appender.append('stripe.events.v1', [{ ...sample, key: sample.value.customer_id ?? 'k' }], { lateAck: () => void late++ }),
      (err: unknown) => isEventlineError(err) && err.code === 'kafka_unavailable',
    );
    assert.ok(Date.now() - started < 2000, 'the caller is answered at its timeout, not after the producer gives up');
    assert.equal(late, 0);

    await createTopics(t.rt.kafka);
    await eventually(() => (late > 0 ? true : undefined), { timeoutMs: 15_000, what: 'the late acknowledgement' });
    const got = await collect(t.rt.kafka, ['stripe.events.v1'], 1);
    assert.deepEqual(got.map((r) => r.value.event_id), [sample.value.event_id]);

    // An append acknowledged in time never calls it.
    let onTime = 0;
    await appender.append('stripe.events.v1', [{ ...sample, key: 'k2', value: { ...sample.value, event_id: 'evt_on_time' } }], { lateAck: () => void onTime++ });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([late, onTime], [1, 0]);
  });
});
