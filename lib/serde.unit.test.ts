import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { isEventlineError } from './errors.ts';
import { metrics } from './metrics.ts';
import type { Registry } from './registry.ts';
import { Serde, validateRecord } from './serde.ts';
import { Names, recordSchemas, type FraudScored, type NotificationDispatched } from './topics.ts';
import { sampleRecords } from '../test/fixtures/records.ts';

// encode() validates before it asks the registry; a registry that must not be called proves it.
const unreachableRegistry = {
  idOf: () => Promise.reject(new Error('registry must not be called')),
} as unknown as Registry;

describe('serde validation', () => {
  const first = sampleRecords['risk.fraud-scores.v1'][0]!;
  assert.equal(first.record, 'FraudScored');
  const sample = first.value as FraudScored;

  it('given a valid value, then there are no validation errors', () => {
    assert.deepEqual(validateRecord('FraudScored', sample), []);
  });

  it('given wrong and missing fields, then each is named with its path', () => {
    const bad: Record<string, unknown> = { ...sample, score: 'high', factors: [{ name: 'x', weight: 'heavy', detail: 'd' }] };
    delete bad.customer_id;
    const errors = validateRecord('FraudScored', bad);
    assert.ok(errors.some((e) => e.startsWith('score:')), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('customer_id:')), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('factors.0.weight:')), errors.join('\n'));
  });

  it('given an invalid value, when encoding, then encode_failed names the problem and nothing reaches the registry', async () => {
    const serde = new Serde(unreachableRegistry, new Names(null));
    await assert.rejects(
      () => serde.encode('risk.fraud-scores.v1', { record: 'FraudScored', value: { ...sample, score: 'high' as unknown as number } }),
      (err: unknown) => isEventlineError(err, 'encode_failed') && /score/.test(err.message),
    );
  });

  it('given a record the topic does not carry, when encoding, then it is refused', async () => {
    const serde = new Serde(unreachableRegistry, new Names(null));
    const wrong = { record: 'FraudScored', value: sample } as unknown as Parameters<typeof serde.encode<'stripe.events.v1'>>[1];
    await assert.rejects(() => serde.encode('stripe.events.v1', wrong), (err: unknown) => isEventlineError(err, 'encode_failed'));
  });

  it('given bytes without the Confluent framing, when decoding, then decode_failed says so', async () => {
    const serde = new Serde(unreachableRegistry, new Names(null));
    for (const bytes of [null, Buffer.from([1, 0, 0, 0, 1, 2]), Buffer.from([0, 0])]) {
      await assert.rejects(
        () => serde.decode('stripe.events.v1', bytes),
        (err: unknown) => isEventlineError(err, 'decode_failed') && (err.detail as { reason: string }).reason === 'framing',
      );
    }
  });
});

describe('serde closed vocabularies', () => {
  const sample = sampleRecords['notify.dispatches.v1'][0]!.value;
  type Field = { name: string; 'eventline.symbols'?: string[] };
  type Schema = { fields: Field[] };

  /** The schema a producer wrote with: ours, changed by `change`. */
  function writerSchema(change: (fields: Field[]) => Field[]): Schema {
    const schema = structuredClone(recordSchemas.NotificationDispatched.schema) as unknown as Schema;
    return { ...schema, fields: change(schema.fields) };
  }

  /** A Serde whose registry holds one writer schema, and a value framed with it. */
  function written(schema: Schema, value: Record<string, unknown>): { serde: Serde; bytes: Buffer } {
    const id = 41;
    const registry = { schemaById: (got: number) => (got === id ? Promise.resolve(schema) : Promise.reject(new Error(`no schema ${got}`))) } as unknown as Registry;
    const header = Buffer.alloc(5);
    header.writeUInt32BE(id, 1);
    return { serde: new Serde(registry, new Names(null)), bytes: Buffer.concat([header, avro.Type.forSchema(schema as unknown as avro.Schema).toBuffer(value)]) };
  }

  async function counted(field: string): Promise<number> {
    const { values } = await metrics.unknownSymbols.get();
    return values.find((v) => v.labels.topic === 'notify.dispatches.v1' && v.labels.record === 'NotificationDispatched' && v.labels.field === field)?.value ?? 0;
  }

  it('given a value outside its field\'s symbols, then validation names the field and the symbols', () => {
    const errors = validateRecord('NotificationDispatched', { ...sample, status: 'escalated' });
    assert.deepEqual(errors, ['status: expected one of sent, deferred, batched, suppressed, retrying, reconciling, failed, unknown, scheduled, cancelled, got "escalated"']);
  });

  it('given a value outside its field\'s symbols, when encoding, then encode_failed names the field and nothing reaches the registry', async () => {
    const serde = new Serde(unreachableRegistry, new Names(null));
    const value = { ...sample, priority: 'URGENT' as NotificationDispatched['priority'] };
    await assert.rejects(
      () => serde.encode('notify.dispatches.v1', { record: 'NotificationDispatched', value }),
      (err: unknown) => isEventlineError(err, 'encode_failed') && /priority: expected one of CRITICAL, HIGH, NORMAL, LOW, got "URGENT"/.test(err.message) && (err.detail as string[]).length === 1,
    );
  });

  it('given a record from a newer producer with symbols this version does not know, when decoding, then each reads as its field\'s default and is counted', async () => {
    const newer = writerSchema((fields) =>
      fields.map((f) => (f.name === 'status' || f.name === 'priority' ? { ...f, 'eventline.symbols': [...(f['eventline.symbols'] ?? []), f.name === 'status' ? 'escalated' : 'URGENT'] } : f)),
    );
    const { serde, bytes } = written(newer, { ...sample, status: 'escalated', priority: 'URGENT' });
    const before = { status: await counted('status'), priority: await counted('priority') };

    const { envelope } = await serde.decode('notify.dispatches.v1', bytes);

    assert.equal(envelope.record, 'NotificationDispatched');
    assert.deepEqual({ ...envelope.value }, { ...sample, status: 'unknown', priority: 'NORMAL' });
    assert.deepEqual({ status: await counted('status'), priority: await counted('priority') }, { status: before.status + 1, priority: before.priority + 1 });
  });

  it('given a record written before the vocabularies were declared, when decoding, then its symbols are kept and nothing is counted', async () => {
    const older = writerSchema((fields) => fields.map(({ 'eventline.symbols': _symbols, 'eventline.default': _default, ...f }: Field & { 'eventline.default'?: string }) => f));
    assert.ok(!JSON.stringify(older).includes('eventline.symbols'));
    const { serde, bytes } = written(older, { ...sample, status: 'reconciling', priority: 'LOW' });
    const before = { status: await counted('status'), priority: await counted('priority') };

    const { envelope } = await serde.decode('notify.dispatches.v1', bytes);

    assert.deepEqual({ ...envelope.value }, { ...sample, status: 'reconciling', priority: 'LOW' });
    assert.deepEqual({ status: await counted('status'), priority: await counted('priority') }, before);
  });
});

describe('serde: domain events of types other services registered', () => {
  const orderShipped = {
    type: 'record',
    name: 'OrderShipped',
    namespace: 'com.acme',
    fields: [
      { name: 'event_id', type: 'string' },
      { name: 'occurred_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'received_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'key', type: 'string' },
      { name: 'producer', type: 'string' },
      { name: 'data', type: { type: 'record', name: 'OrderShippedData', fields: [{ name: 'buyer_user_id', type: ['null', 'string'], default: null }, { name: 'carrier', type: 'string' }] } },
    ],
  };
  const notAnEvent = { type: 'record', name: 'Ping', namespace: 'com.acme', fields: [{ name: 'at', type: 'long' }] };
  const schemas: Record<number, unknown> = { 7: orderShipped, 8: notAnEvent };
  const registry = { schemaById: (id: number) => Promise.resolve(schemas[id]) } as unknown as Registry;
  const framed = (id: number, schema: unknown, value: unknown) => {
    const header = Buffer.from([0, 0, 0, 0, id]);
    return Buffer.concat([header, avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto' }).toBuffer(value)]);
  };
  const event = { event_id: 'ord-1', occurred_at: 1_700_000_000_000, received_at: 1_700_000_000_005, key: 'order_1', producer: 'key:abc', data: { buyer_user_id: 'user_5', carrier: 'ups' } };

  it('given an unknown record type, when decoding as ours, then it is unknown_record (skipped); as external, then its writer schema reads it', async () => {
    const serde = new Serde(registry, new Names(null));
    const bytes = framed(7, orderShipped, event);
    await assert.rejects(() => serde.decode('domain.events.v1', bytes), (err: unknown) => isEventlineError(err, 'decode_failed') && (err.detail as { reason: string }).reason === 'unknown_record');
    const { envelope, schemaId } = await serde.decodeExternal(bytes);
    assert.equal(schemaId, 7);
    assert.equal(envelope.record, 'external');
    assert.equal(envelope.fullName, 'com.acme.OrderShipped');
    assert.deepEqual(JSON.parse(JSON.stringify(envelope.value)), event);
  });

  it('given a record without the fields of a domain event, when decoding as external, then decode_failed names them (dead-lettered)', async () => {
    const serde = new Serde(registry, new Names(null));
    await assert.rejects(
      () => serde.decodeExternal(framed(8, notAnEvent, { at: 1 })),
      (err: unknown) => isEventlineError(err, 'decode_failed') && /event_id: expected a string/.test(err.message) && /data: expected a record/.test(err.message),
    );
  });
});
