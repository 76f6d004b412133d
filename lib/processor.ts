/**
 * The processor runner: consumes a consumer group's topics and hands each record, in partition
 * order, to the processor's handler; commits offsets after the batch (at-least-once). Handlers
 * make their outputs idempotent with deterministic event ids and idempotency keys.
 *
 * A record the handler cannot process for a reason that will not go away goes to
 * dlq.processor.<name>.v1 with the error, and the partition moves on; transient failures
 * (Kafka, Redis, Postgres, providers) fail the batch so it is retried.
 */
import { errorMessage, fromDriverError, isEventlineError } from './errors.ts';
import type { EventClock } from './event-clock.ts';
import type { Incoming, RunningConsumer } from './kafka/index.ts';
import type { Logger } from './log.ts';
import type { Runtime } from './runtime.ts';
import type { AnyTopicName } from './topics.ts';

export interface ProcessorDefinition<T extends AnyTopicName> {
  /** e.g. "dunning": consumer group processor.dunning. */
  readonly name: string;
  readonly topics: readonly T[];
  handle(record: Incoming<T>, log: Logger): Promise<void>;
  /** Event-time clock to advance after each batch (processors with timers). */
  readonly clock?: EventClock;
  readonly partitionsConsumedConcurrently?: number;
}

export async function runProcessor<T extends AnyTopicName>(rt: Runtime, def: ProcessorDefinition<T>): Promise<RunningConsumer> {
  const group = `processor.${def.name}`;
  const log = rt.log.child({ processor: def.name });
  return rt.kafka.consume({
    group,
    topics: def.topics,
    fromBeginning: true,
    partitionsConsumedConcurrently: def.partitionsConsumedConcurrently ?? 2,
    onBatch: async (batch) => {
      let next = (BigInt(batch.lastOffset) + 1n).toString();
      for (const record of batch.records) {
        try {
          await def.handle(record, log);
        } catch (err) {
          if (fromDriverError(err).canRetry) throw err;
          log.error({ topic: record.topic, partition: record.partition, offset: record.offset, err: errorMessage(err) }, 'record failed; dead-lettering it');
          await rt.kafka.deadLetter(group, record, { code: isEventlineError(err) ? err.code : 'processor_failed', message: errorMessage(err) }, 'handle');
        }
        if (!batch.isRunning() || batch.isStale()) {
          // Stopping or rebalancing: commit only what was handled.
          next = (BigInt(record.offset) + 1n).toString();
          break;
        }
        await batch.heartbeat();
      }
      if (def.clock) await def.clock.observe(batch);
      return { commit: next };
    },
  });
}
