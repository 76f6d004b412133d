/**
 * The consumer: a batch consumer without auto-commit. It decodes every record against the
 * registry, skips replayed copies meant for another group, dead-letters what cannot be decoded
 * (policy in dead-letter.ts), and lets the handler decide where to continue: commit (processors:
 * at-least-once) or seek (projections that keep their offsets in Postgres).
 */
import type { IHeaders, Kafka as KafkaJs, KafkaMessage, Consumer as KafkaConsumer } from 'kafkajs';
import { EventlineError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { metrics } from '../metrics.ts';
import type { Serde } from '../serde.ts';
import type { AnyTopicName, Envelope, ExternalDomainEvent, Names } from '../topics.ts';
import { deadLetterCause, isReplayForAnotherGroup, onDecodeFailure, type DeadLetterCause, type DeadLetterOrigin } from './dead-letter.ts';
import type { ConsumerOptions, Incoming, RunningConsumer, TopicPartition } from './types.ts';

/** What a consumer needs from the adapter. */
export interface ConsumerContext {
  readonly client: KafkaJs;
  readonly names: Names;
  readonly serde: Serde;
  readonly log: Logger;
  readonly defaults: { readonly batchBytes: number; readonly sessionTimeoutMs: number };
  deadLetter(group: string, origin: DeadLetterOrigin, cause: DeadLetterCause, reason: string): Promise<void>;
}

/** Starts consuming `options.topics` as `options.group` (namespaced) until stopped. */
export async function startConsumer<T extends AnyTopicName>(ctx: ConsumerContext, options: ConsumerOptions<T>): Promise<RunningConsumer> {
  const sessionTimeout = options.sessionTimeoutMs ?? ctx.defaults.sessionTimeoutMs;
  const consumer = ctx.client.consumer({
    groupId: ctx.names.group(options.group),
    allowAutoTopicCreation: false,
    sessionTimeout,
    heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
    maxBytesPerPartition: options.maxBytesPerPartition ?? ctx.defaults.batchBytes,
    maxWaitTimeInMs: options.maxWaitTimeInMs ?? 250,
    minBytes: options.minBytes ?? 1,
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
  });
  const running = new ConsumerRunner(ctx, consumer, options, ctx.log.child({ group: options.group }));
  await running.start();
  return { group: options.group, joined: running.joined, assigned: () => running.assigned(), stop: () => running.stop() };
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}

class ConsumerRunner<T extends AnyTopicName> {
  readonly joined: Promise<void>;
  private markJoined: () => void = () => undefined;
  private readonly ctx: ConsumerContext;
  private readonly consumer: KafkaConsumer;
  private readonly options: ConsumerOptions<T>;
  private readonly log: Logger;
  private current: TopicPartition[] = [];
  private stopped = false;

  constructor(ctx: ConsumerContext, consumer: KafkaConsumer, options: ConsumerOptions<T>, log: Logger) {
    this.ctx = ctx;
    this.consumer = consumer;
    this.options = options;
    this.log = log;
    this.joined = new Promise((resolve) => {
      this.markJoined = resolve;
    });
  }

  assigned(): readonly TopicPartition[] {
    return this.current;
  }

  async start(): Promise<void> {
    const { consumer, options } = this;
    const { names } = this.ctx;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const assigned: TopicPartition[] = [];
      for (const [physical, partitions] of Object.entries(event.payload.memberAssignment)) {
        const topic = names.logicalTopic(physical);
        if (topic) for (const partition of partitions) assigned.push({ topic, partition });
      }
      this.current = assigned;
      this.log.info({ assigned: assigned.map((a) => `${a.topic}/${a.partition}`) }, 'partitions assigned');
      if (options.onAssign && assigned.length > 0) {
        options
          .onAssign(assigned)
          .then((seeks) => {
            for (const s of seeks) consumer.seek({ topic: names.topic(s.topic), partition: s.partition, offset: s.offset });
          })
          .catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'loading stored offsets failed; batches will re-check them'))
          .finally(() => this.markJoined());
      } else {
        this.markJoined();
      }
    });
    consumer.on(consumer.events.CRASH, (event) => {
      const data = { err: errorMessage(event.payload.error), restart: event.payload.restart };
      // kafkajs restarts the consumer itself on retriable errors (a coordinator still loading).
      if (event.payload.restart) this.log.warn(data, 'consumer restarting after an error');
      else this.log.error(data, 'consumer crashed');
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: options.topics.map((t) => names.topic(t)), fromBeginning: options.fromBeginning });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw new EventlineError('kafka_unavailable', `consumer ${options.group} cannot start: ${errorMessage(err)}`, { cause: err });
    }
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (batch.messages.length === 0) return;
        const topic = names.logicalTopic(batch.topic) as T | null;
        if (topic === null) return;
        const started = process.hrtime.bigint();
        const records = await this.decodeBatch(topic, batch.partition, batch.messages);
        const firstOffset = batch.firstOffset() ?? batch.messages[0]?.offset ?? '0';
        const lastOffset = batch.lastOffset();
        const outcome = await options.onBatch({
          group: options.group,
          topic,
          partition: batch.partition,
          records,
          firstOffset,
          lastOffset,
          highWatermark: batch.highWatermark,
          heartbeat: payload.heartbeat,
          isStale: payload.isStale,
          isRunning: payload.isRunning,
        });
        if ('seek' in outcome) {
          this.log.info({ topic, partition: batch.partition, from: outcome.seek, batchFirst: firstOffset }, 'seeking to stored offset');
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: outcome.seek });
          return;
        }
        const next = BigInt(outcome.commit);
        if (next > 0n) payload.resolveOffset((next - 1n).toString());
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: outcome.commit }]).catch((err: unknown) => {
          // Committed offsets are a restart hint; a lost partition's commit may be refused.
          this.log.warn({ err: errorMessage(err), topic, partition: batch.partition }, 'offset commit failed');
        });
        metrics.consumed.inc({ group: options.group, topic }, batch.messages.length);
        metrics.batchDuration.observe({ group: options.group }, Number(process.hrtime.bigint() - started) / 1e9);
        const lag = BigInt(batch.highWatermark) - next;
        metrics.consumerLag.set({ group: options.group, topic, partition: String(batch.partition) }, Number(lag < 0n ? 0n : lag));
      },
    });
  }

  private async decodeBatch(topic: T, partition: number, messages: readonly KafkaMessage[]): Promise<Incoming<T>[]> {
    const { group } = this.options;
    const out: Incoming<T>[] = [];
    for (const m of messages) {
      const headers = headersOf(m.headers);
      if (isReplayForAnotherGroup(headers, group)) {
        metrics.skipped.inc({ group, topic, reason: 'replay_for_other_group' });
        continue;
      }
      const raw = { key: m.key ?? null, value: m.value ?? null };
      try {
        const { envelope, schemaId } = await this.decode(topic, m.value);
        // Fields named one by one: spreading the envelope made this loop five times slower
        // (V8's generic object-clone path), and it runs for every record every consumer reads.
        const record = {
          record: envelope.record,
          value: envelope.value,
          topic,
          partition,
          offset: m.offset,
          key: m.key ? m.key.toString('utf8') : null,
          timestamp: Number(m.timestamp),
          headers,
          schemaId,
          raw,
        };
        out.push((envelope.record === 'external' ? Object.assign(record, { fullName: envelope.fullName }) : record) as Incoming<T>);
      } catch (err) {
        const failure = onDecodeFailure(err);
        if (failure === null) throw err; // registry or broker trouble: the batch is retried
        if (failure.action === 'skip') {
          metrics.skipped.inc({ group, topic, reason: failure.reason });
          this.log.warn({ topic, partition, offset: m.offset, err: errorMessage(err) }, 'skipping a record type this version does not know');
          continue;
        }
        const origin = { topic, partition, offset: m.offset, timestamp: Number(m.timestamp), headers, raw };
        await this.ctx.deadLetter(group, origin, deadLetterCause(err, 'decode_failed'), failure.reason);
      }
    }
    return out;
  }

  /** A record as our reader schema reads it; a domain event type another service registered, with its writer's, when this consumer asks for those. */
  private async decode(topic: T, value: Buffer | null): Promise<{ envelope: Envelope<T> | ExternalDomainEvent; schemaId: number }> {
    try {
      return await this.ctx.serde.decode(topic, value);
    } catch (err) {
      if (topic !== 'domain.events.v1' || !this.options.externalRecords || onDecodeFailure(err)?.reason !== 'unknown_record') throw err;
      return this.ctx.serde.decodeExternal(value);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer.disconnect().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'consumer disconnect failed'));
  }
}

