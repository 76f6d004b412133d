/**
 * The processor runner: consumes a consumer group's topics and hands each record, in partition
 * order, to the processor's handler; commits offsets after the batch (at-least-once). Handlers
 * make their outputs idempotent with deterministic event ids and idempotency keys.
 *
 * A record the handler cannot process for a reason that will not go away goes to
 * dlq.processor.<name>.v1 with the error, and the partition moves on; transient failures
 * (Kafka, Redis, Postgres, providers) fail the batch so it is retried. Deciders without effects
 * handle a batch's records as one unit (`handleBatch`), up to DECISION_UNIT_RECORDS at a time; a
 * processor with effects does so for the topics it only folds (`batchTopics`).
 */
import { errorMessage, fromDriverError, isEventlineError } from './errors.ts';
import type { EventClock } from './event-clock.ts';
import type { Batch, Incoming, RunningConsumer } from './kafka/index.ts';
import type { Logger } from './log.ts';
import type { Runtime } from './runtime.ts';
import type { AnyTopicName } from './topics.ts';
import { contextFrom, inSpan, messagingAttributes, SpanKind } from './tracing.ts';

export interface ProcessorDefinition<T extends AnyTopicName> {
  /** e.g. "dunning": consumer group processor.dunning. */
  readonly name: string;
  readonly topics: readonly T[];
  /** Handles one record (processors with effects: dispatch). */
  handle?(record: Incoming<T>, log: Logger): Promise<void>;
  /**
   * Handles records of one partition, in order, as one unit (deciders without effects: one state
   * read, one append, one compare-and-set; lib/decider/batch.ts). When it fails for a reason that
   * will not go away, the runner hands the same records over again one at a time, so that only the
   * record at fault is dead-lettered.
   */
  handleBatch?(records: readonly Incoming<T>[], log: Logger): Promise<void>;
  /**
   * Required with both handlers, refused otherwise: the topics (some of `topics`) whose records go to
   * `handleBatch` as units, and one at a time to `handleBatch` when a unit is retried record by
   * record (those a processor with effects only folds, e.g. dispatch's Stripe events); the others go
   * to `handle` one at a time. A processor with only `handleBatch` handles every topic as units.
   */
  readonly batchTopics?: readonly T[];
  /** Event-time clock to advance after each batch (processors with timers). */
  readonly clock?: EventClock;
  readonly partitionsConsumedConcurrently?: number;
  /** Also handle domain events of types other services registered (ConsumerOptions.externalRecords). */
  readonly externalRecords?: boolean;
}

/** The most records decided as one unit: bounds a unit's Redis script and append during a catch-up. */
export const DECISION_UNIT_RECORDS = 500;

export async function runProcessor<T extends AnyTopicName>(rt: Runtime, def: ProcessorDefinition<T>): Promise<RunningConsumer> {
  const group = `processor.${def.name}`;
  const log = rt.log.child({ processor: def.name });
  const handleBatch = def.handleBatch?.bind(def);
  const handle = def.handle?.bind(def);
  // A record handled on its own is a span in the trace it came with (batch decisions trace each
  // input themselves: lib/decider/batch.ts).
  const handleTraced = handle
    ? (r: Incoming<T>) =>
        inSpan(`${def.name} process`, { kind: SpanKind.CONSUMER, parent: contextFrom(r.headers), attributes: messagingAttributes(r.topic, { operation: 'process', partition: r.partition, offset: r.offset, group }) }, () =>
          handle(r, log),
        )
    : null;
  if (!handleBatch && !handleTraced) throw new Error(`processor ${def.name} defines neither handle nor handleBatch`);
  if (handleBatch && handleTraced && !def.batchTopics?.length) throw new Error(`processor ${def.name} defines handle and handleBatch: batchTopics must say which topics go to handleBatch`);
  if (def.batchTopics && !(handleBatch && handleTraced)) throw new Error(`processor ${def.name} names batchTopics without both handle and handleBatch`);
  const strays = (def.batchTopics ?? []).filter((topic) => !def.topics.includes(topic));
  if (strays.length > 0) throw new Error(`processor ${def.name} names batchTopics it does not consume: ${strays.join(', ')}`);
  /** Whether a topic's records are handled as units (by handleBatch) or one at a time (by handle). */
  const batchTopics: ReadonlySet<AnyTopicName> = new Set(def.batchTopics ?? []);
  const batched = (topic: AnyTopicName): boolean => handleBatch !== undefined && (!handleTraced || batchTopics.has(topic));
  const handleOne = (r: Incoming<T>): Promise<void> => (batched(r.topic) ? handleBatch!([r], log) : handleTraced!(r));

  /** Where a unit ended: null when it was handled whole, else the offset after its last record handled (stopping, or rebalanced away). */
  type Progress = string | null;
  /** Whether the batch is to be left here (stopping, or rebalanced away); heartbeats otherwise. */
  const leave = async (batch: Batch<T>): Promise<boolean> => {
    if (!batch.isRunning() || batch.isStale()) return true;
    await batch.heartbeat();
    return false;
  };
  const handleEach = async (batch: Batch<T>, records: readonly Incoming<T>[]): Promise<Progress> => {
    for (const record of records) {
      try {
        await handleOne(record);
      } catch (err) {
        if (fromDriverError(err).canRetry) throw err;
        log.error({ topic: record.topic, partition: record.partition, offset: record.offset, err: errorMessage(err) }, 'record failed; dead-lettering it');
        await rt.kafka.deadLetter(group, record, { code: isEventlineError(err) ? err.code : 'processor_failed', message: errorMessage(err) }, 'handle');
      }
      if (await leave(batch)) return (BigInt(record.offset) + 1n).toString();
    }
    return null;
  };
  const handleUnit = async (batch: Batch<T>, records: readonly Incoming<T>[]): Promise<Progress> => {
    if (!handleBatch || !batched(batch.topic) || records.length === 1) return handleEach(batch, records);
    try {
      await handleBatch(records, log);
    } catch (err) {
      if (fromDriverError(err).canRetry) throw err;
      log.warn({ records: records.length, err: errorMessage(err) }, 'a batch decision failed; deciding its records one by one');
      return handleEach(batch, records);
    }
    return (await leave(batch)) ? (BigInt(records.at(-1)!.offset) + 1n).toString() : null;
  };

  return rt.kafka.consume({
    group,
    topics: def.topics,
    fromBeginning: true,
    partitionsConsumedConcurrently: def.partitionsConsumedConcurrently ?? 2,
    externalRecords: def.externalRecords ?? false,
    onBatch: async (batch) => {
      let next = (BigInt(batch.lastOffset) + 1n).toString();
      const unit = batched(batch.topic) ? DECISION_UNIT_RECORDS : 1;
      for (let i = 0; i < batch.records.length; i += unit) {
        const stoppedAt = await handleUnit(batch, batch.records.slice(i, i + unit));
        if (stoppedAt !== null) {
          // Stopping or rebalancing: commit only what was handled.
          next = stoppedAt;
          break;
        }
      }
      if (def.clock) await def.clock.observe(batch);
      return { commit: next };
    },
  });
}
