import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEventlineError } from './errors.ts';
import type { Registry } from './registry.ts';
import { Serde, validateRecord } from './serde.ts';
import { Names, type FraudScored } from './topics.ts';
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
