/**
 * Test helpers around the Kafka adapter: read records from topics until a condition holds.
 */
import type { Incoming, Kafka } from '../../lib/kafka/index.ts';
import type { AnyTopicName, RecordName } from '../../lib/topics.ts';
import { eventually } from './env.ts';

/**
 * Consumes `topics` from the beginning with a fresh group until `count` records arrived (or, given
 * a function, until it returns true for what arrived so far); returns them, personal fields opened
 * (they are sealed on the topic, ADR 0018; test/privacy.e2e.test.ts reads them as stored).
 */
export async function collect<T extends AnyTopicName>(
  kafka: Kafka,
  topics: readonly T[],
  until: number | ((records: readonly Incoming<T>[]) => boolean),
  options: { group?: string; timeoutMs?: number } = {},
): Promise<Incoming<T>[]> {
  const done = typeof until === 'number' ? (r: readonly Incoming<T>[]) => r.length >= until : until;
  const received: Incoming<T>[] = [];
  const consumer = await kafka.consume({
    group: options.group ?? `test.collect.${Math.random().toString(36).slice(2, 8)}`,
    topics,
    fromBeginning: true,
    onBatch: async (batch) => {
      for (const r of batch.records) {
        received.push(r.record === 'external' ? r : ({ ...r, value: await kafka.serde.opened(r.record as RecordName, r.value as object) } as Incoming<T>));
      }
      return { commit: (BigInt(batch.lastOffset) + 1n).toString() };
    },
  });
  try {
    await eventually(() => (done(received) ? true : undefined), {
      timeoutMs: options.timeoutMs ?? 30000,
      what: () => `${typeof until === 'number' ? `${until} records` : 'the expected records'} from ${topics.join(', ')} (got ${received.length})`,
    });
  } finally {
    await consumer.stop();
  }
  return received;
}

/** A deep copy with avsc's record classes turned into plain objects (Buffers kept), for deep-equality. */
export function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value) || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(plain);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** How many records a topic holds. */
export function recordCount(kafka: Kafka, topic: AnyTopicName): Promise<number> {
  return kafka.recordCount(topic);
}
