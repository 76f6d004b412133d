/**
 * The Kafka adapter: the only module that imports kafkajs. It speaks in logical topic names and
 * typed records (see topics.ts); namespaces, Avro framing and kafkajs details stay in here so a
 * client swap stays local.
 *
 * - Appender: idempotent producer, acks=all; `append` resolves only once the broker acknowledged,
 *   and fails with kafka_unavailable (canRetry) when that does not happen in time.
 * - Consumer: batch consumer without auto-commit. It decodes every record against the registry,
 *   dead-letters what cannot be decoded, and lets the handler decide where to continue: commit
 *   (processors: at-least-once) or seek (projections that keep their offsets in Postgres).
 */
import { randomUUID } from 'node:crypto';
import {
  Kafka as KafkaJs,
  CompressionTypes,
  Partitioners,
  type Admin as KafkaAdmin,
  type Consumer as KafkaConsumer,
  type IHeaders,
  type KafkaMessage,
  type Message,
  type Producer as KafkaProducer,
} from 'kafkajs';
import type { Config } from './config.ts';
import { EventlineError, errorMessage, isEventlineError } from './errors.ts';
import { kafkaLogCreator, kafkaLogLevel, type Logger } from './log.ts';
import { metrics } from './metrics.ts';
import { Registry } from './registry.ts';
import { Serde } from './serde.ts';
import {
  dlqSpec,
  dlqTopicFor,
  Names,
  topicSpecs,
  type AnyTopicName,
  type DlqTopicName,
  type Envelope,
  type TopicName,
} from './topics.ts';

export interface OutgoingMeta {
  /** Partitioning key: records with the same key keep their order. */
  readonly key: string;
  readonly headers?: Readonly<Record<string, string>>;
}
export type Outgoing<T extends AnyTopicName> = T extends AnyTopicName ? Envelope<T> & OutgoingMeta : never;
/** Records for one topic, typed by that topic. */
export type OutgoingGroup =
  | { [T in TopicName]: { readonly topic: T; readonly records: readonly Outgoing<T>[] } }[TopicName]
  | { readonly topic: DlqTopicName; readonly records: readonly Outgoing<DlqTopicName>[] };
type LooseOutgoing = OutgoingMeta & { readonly record: string; readonly value: unknown };

export interface IncomingMeta<T extends AnyTopicName> {
  readonly topic: T;
  readonly partition: number;
  /** Kafka offset as a decimal string (kafkajs' representation; may exceed 2^53 in theory). */
  readonly offset: string;
  readonly key: string | null;
  /** Broker/producer timestamp in ms. */
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly schemaId: number;
  /** The record's bytes as stored, for dead-lettering and replay. */
  readonly raw: RawRecord;
}
export interface RawRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}
/** A consumed record; distributes over a union of topics so `topic` and `record` narrow it. */
export type Incoming<T extends AnyTopicName> = T extends AnyTopicName ? Envelope<T> & IncomingMeta<T> : never;

export interface Batch<T extends AnyTopicName> {
  readonly group: string;
  readonly topic: T;
  readonly partition: number;
  /** Decoded records in offset order (undecodable ones were dead-lettered and are absent). */
  readonly records: readonly Incoming<T>[];
  /** Offset of the first and last raw record in the fetched batch. */
  readonly firstOffset: string;
  readonly lastOffset: string;
  readonly highWatermark: string;
  heartbeat(): Promise<void>;
  isStale(): boolean;
  isRunning(): boolean;
}

/** What to do after a batch: continue from `commit` (next offset), or drop the batch and read from `seek`. */
export type BatchOutcome = { readonly commit: string } | { readonly seek: string };

export interface TopicPartition {
  readonly topic: AnyTopicName;
  readonly partition: number;
}

export interface ConsumerOptions<T extends AnyTopicName> {
  /** Logical group id, e.g. projection.mrr; namespaced here. */
  readonly group: string;
  readonly topics: readonly T[];
  /** Where a group without committed offsets starts. */
  readonly fromBeginning: boolean;
  readonly onBatch: (batch: Batch<T>) => Promise<BatchOutcome>;
  /** Offsets to seek to when partitions are assigned (an external checkpoint store); omitted partitions keep Kafka's committed offsets. */
  readonly onAssign?: (assigned: readonly TopicPartition[]) => Promise<readonly (TopicPartition & { offset: string })[]>;
  readonly partitionsConsumedConcurrently?: number;
  readonly maxBytesPerPartition?: number;
  readonly maxWaitTimeInMs?: number;
  readonly sessionTimeoutMs?: number;
}

export interface RunningConsumer {
  readonly group: string;
  stop(): Promise<void>;
  /** Resolves when the consumer has joined its group and been assigned partitions at least once. */
  readonly joined: Promise<void>;
  /** Partitions currently assigned to this member. */
  assigned(): readonly TopicPartition[];
}

export interface TopicCreation {
  readonly topic: string;
  readonly partitions: number;
  readonly action: 'created' | 'exists' | 'partitions_added';
}

/**
 * Headers of a record re-appended from a dead-letter queue: only the group named in REPLAY_FOR
 * processes it (every other group skips it, having processed or dead-lettered the original).
 */
export const REPLAY_FOR = 'eventline-replay-for';
export const REPLAY_OF = 'eventline-replay-of';
export const REPLAY_ATTEMPT = 'eventline-replay-attempt';

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

/**
 * Retries an admin read while Kafka answers with a retriable error (a partition whose leader is
 * still being set up: NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE).
 */
async function retryRetriable<T>(fn: () => Promise<T>, attempts = 30): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const retriable = err !== null && typeof err === 'object' && 'retriable' in err && err.retriable === true;
      if (!retriable || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(50 * i, 500)));
    }
  }
}

/** Approximate size of a record in a produce request (key, value, headers, record overhead). */
function messageBytes(m: Message): number {
  let size = 70 + (m.key ? Buffer.byteLength(m.key) : 0) + (m.value ? Buffer.byteLength(m.value) : 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) size += k.length + (typeof v === 'string' || Buffer.isBuffer(v) ? Buffer.byteLength(v) : 0);
  return size;
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class Kafka {
  readonly names: Names;
  readonly serde: Serde;
  readonly registry: Registry;
  private readonly client: KafkaJs;
  private readonly log: Logger;
  private readonly appendTimeoutMs: number;
  private readonly consumerDefaults: { readonly batchBytes: number; readonly sessionTimeoutMs: number };
  private appenderPromise: Promise<Appender> | null = null;
  private readonly consumers = new Set<{ stop(): Promise<void> }>();
  private adminClient: Promise<KafkaAdmin> | null = null;
  private readonly dlqTopics = new Set<string>();

  constructor(config: Pick<Config, 'kafka' | 'registry' | 'namespace' | 'logLevel'>, log: Logger) {
    this.names = new Names(config.namespace);
    this.registry = new Registry(config.registry.url);
    this.serde = new Serde(this.registry, this.names);
    this.log = log.child({ component: 'kafka' });
    this.appendTimeoutMs = config.kafka.appendTimeoutMs;
    this.consumerDefaults = { batchBytes: config.kafka.consumerBatchBytes, sessionTimeoutMs: config.kafka.sessionTimeoutMs };
    this.client = new KafkaJs({
      clientId: config.kafka.clientId,
      brokers: [...config.kafka.brokers],
      connectionTimeout: 3000,
      requestTimeout: 15000,
      logLevel: kafkaLogLevel(config.logLevel),
      logCreator: kafkaLogCreator(log),
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 8 },
    });
  }

  /** The process-wide appender (one idempotent producer), connected on first use. */
  appender(): Promise<Appender> {
    if (!this.appenderPromise) {
      const producer = this.client.producer({
        idempotent: true,
        maxInFlightRequests: 5,
        // murmur2 like the Java client: a key lands on the same partition whoever produces it.
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        // Bounded retries: a webhook must answer 503 rather than wait forever while the broker is down.
        retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 6 },
      });
      this.appenderPromise = producer
        .connect()
        .then(() => new Appender(producer, this.serde, this.names, this.appendTimeoutMs, this.log))
        .catch((err: unknown) => {
          this.appenderPromise = null;
          throw new EventlineError('kafka_unavailable', `cannot connect the producer: ${errorMessage(err)}`, { cause: err });
        });
    }
    return this.appenderPromise;
  }

  admin(): Promise<KafkaAdmin> {
    if (!this.adminClient) {
      const admin = this.client.admin({ retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 } });
      this.adminClient = admin
        .connect()
        .then(() => admin)
        .catch((err: unknown) => {
          this.adminClient = null;
          throw new EventlineError('kafka_unavailable', `cannot connect the admin client: ${errorMessage(err)}`, { cause: err });
        });
    }
    return this.adminClient;
  }

  /** Creates missing topics (and grows partition counts that are too small). */
  async ensureTopics(
    wanted: readonly { topic: AnyTopicName; partitions: number; config?: Readonly<Record<string, string>> }[],
  ): Promise<TopicCreation[]> {
    const admin = await this.admin();
    const existing = new Set(await retryRetriable(() => admin.listTopics()));
    const toCreate = wanted.filter((w) => !existing.has(this.names.topic(w.topic)));
    if (toCreate.length > 0) {
      await admin.createTopics({
        // kafkajs' own wait retries LEADER_NOT_AVAILABLE only; a new topic can also answer
        // UNKNOWN_TOPIC_OR_PARTITION for a moment, so this waits below instead.
        waitForLeaders: false,
        topics: toCreate.map((w) => ({
          topic: this.names.topic(w.topic),
          numPartitions: w.partitions,
          replicationFactor: -1,
          configEntries: Object.entries(w.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    if (toCreate.length > 0) await this.waitForLeaders(toCreate.map((w) => ({ topic: this.names.topic(w.topic), partitions: w.partitions })));
    const out: TopicCreation[] = toCreate.map((w) => ({ topic: this.names.topic(w.topic), partitions: w.partitions, action: 'created' }));
    const present = wanted.filter((w) => existing.has(this.names.topic(w.topic)));
    if (present.length > 0) {
      const meta = await retryRetriable(() => admin.fetchTopicMetadata({ topics: present.map((w) => this.names.topic(w.topic)) }));
      const grow: { topic: string; count: number }[] = [];
      for (const w of present) {
        const physical = this.names.topic(w.topic);
        const count = meta.topics.find((t) => t.name === physical)?.partitions.length ?? 0;
        if (count < w.partitions) grow.push({ topic: physical, count: w.partitions });
        out.push({ topic: physical, partitions: Math.max(count, w.partitions), action: count < w.partitions ? 'partitions_added' : 'exists' });
      }
      if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow });
    }
    return out;
  }

  /** Polls metadata until every partition of the topics has a leader (30 s at most). */
  private async waitForLeaders(topics: readonly { topic: string; partitions: number }[]): Promise<void> {
    const admin = await this.admin();
    const deadline = Date.now() + 30_000;
    let last = '';
    for (;;) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        const ready = topics.every((t) => {
          const found = meta.topics.find((m) => m.name === t.topic);
          return found !== undefined && found.partitions.length >= t.partitions && found.partitions.every((p) => p.leader >= 0);
        });
        if (ready) return;
        last = 'partitions without a leader';
      } catch (err) {
        last = errorMessage(err);
      }
      if (Date.now() > deadline) throw new EventlineError('kafka_unavailable', `topics have no leaders after 30 s: ${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Physical topic names in this namespace (all of them when the namespace is null). */
  async listTopics(): Promise<string[]> {
    const admin = await this.admin();
    const prefix = this.names.namespace ? `${this.names.namespace}.` : '';
    return (await admin.listTopics()).filter((t) => t.startsWith(prefix) && !t.startsWith('__'));
  }

  async deleteTopics(physical: readonly string[]): Promise<void> {
    if (physical.length === 0) return;
    const admin = await this.admin();
    await admin.deleteTopics({ topics: [...physical], timeout: 10000 });
  }

  /** Earliest and end offsets of every partition of a topic. */
  async topicOffsets(topic: AnyTopicName): Promise<{ partition: number; low: string; high: string }[]> {
    const admin = await this.admin();
    const offsets = await retryRetriable(() => admin.fetchTopicOffsets(this.names.topic(topic)));
    return offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high })).sort((a, b) => a.partition - b.partition);
  }

  /** How many records a topic holds (sum over partitions of end − start offsets). */
  async recordCount(topic: AnyTopicName): Promise<number> {
    return (await this.topicOffsets(topic)).reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0);
  }

  /** Offsets a group has committed in Kafka, per partition ('-1' when none). */
  async committedOffsets(group: string, topic: AnyTopicName): Promise<{ partition: number; offset: string }[]> {
    const admin = await this.admin();
    const res = await retryRetriable(() => admin.fetchOffsets({ groupId: this.names.group(group), topics: [this.names.topic(topic)] }));
    return (res[0]?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset }));
  }

  /** Moves a consumer group (with no running members) back to the start of a topic: its next run re-reads everything. */
  async resetOffsets(group: string, topic: AnyTopicName): Promise<void> {
    const admin = await this.admin();
    await admin.resetOffsets({ groupId: this.names.group(group), topic: this.names.topic(topic), earliest: true });
  }

  /** Broker ids and controller: a cheap readiness probe. */
  async describeCluster(): Promise<{ brokers: number; controller: number | null }> {
    const admin = await this.admin();
    const cluster = await admin.describeCluster();
    return { brokers: cluster.brokers.length, controller: cluster.controller };
  }

  /**
   * Reads a topic from its beginning (or from the first record at or after `fromTimestamp`) up to
   * its end as of the call, partition by partition in offset order, with a throwaway consumer group
   * that is deleted afterwards. Returns how many records were handed to `each`.
   */
  async readToEnd<T extends AnyTopicName>(topic: T, each: (record: Incoming<T>) => Promise<void> | void, options: { fromTimestamp?: number } = {}): Promise<number> {
    const admin = await this.admin();
    const physical = this.names.topic(topic);
    const ends = new Map((await this.topicOffsets(topic)).map((o) => [o.partition, { start: BigInt(o.low), end: BigInt(o.high) }]));
    if (options.fromTimestamp !== undefined) {
      for (const o of await retryRetriable(() => admin.fetchTopicOffsetsByTimestamp(physical, options.fromTimestamp))) {
        const range = ends.get(o.partition);
        if (range && BigInt(o.offset) > range.start) range.start = BigInt(o.offset);
      }
    }
    const pending = new Set([...ends].filter(([, r]) => r.end > r.start).map(([p]) => p));
    if (pending.size === 0) return 0;
    let count = 0;
    let done: () => void = () => undefined;
    let failed: (err: unknown) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => {
      done = resolve;
      failed = reject;
    });
    const group = `read.${randomUUID()}`;
    const consumer = await this.consume({
      group,
      topics: [topic],
      fromBeginning: true,
      onAssign: async (assigned) => assigned.flatMap((a) => (ends.has(a.partition) ? [{ ...a, offset: ends.get(a.partition)!.start.toString() }] : [])),
      onBatch: async (batch) => {
        const range = ends.get(batch.partition);
        if (!range) return { commit: (BigInt(batch.lastOffset) + 1n).toString() };
        try {
          for (const r of batch.records) {
            const offset = BigInt(r.offset);
            if (offset < range.start) continue;
            if (offset >= range.end) break;
            await each(r);
            count++;
          }
        } catch (err) {
          failed(err);
          return { commit: batch.firstOffset };
        }
        if (BigInt(batch.lastOffset) + 1n >= range.end) pending.delete(batch.partition);
        if (pending.size === 0) done();
        return { commit: (BigInt(batch.lastOffset) + 1n).toString() };
      },
    });
    try {
      await finished;
    } finally {
      await consumer.stop();
      await admin.deleteGroups([this.names.group(group)]).catch(() => undefined);
    }
    return count;
  }

  /** Consumes topics as a group until stopped. */
  async consume<T extends AnyTopicName>(options: ConsumerOptions<T>): Promise<RunningConsumer> {
    const group = this.names.group(options.group);
    const log = this.log.child({ group: options.group });
    const consumer = this.client.consumer({
      groupId: group,
      allowAutoTopicCreation: false,
      sessionTimeout: options.sessionTimeoutMs ?? this.consumerDefaults.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor((options.sessionTimeoutMs ?? this.consumerDefaults.sessionTimeoutMs) / 3)),
      maxBytesPerPartition: options.maxBytesPerPartition ?? this.consumerDefaults.batchBytes,
      maxWaitTimeInMs: options.maxWaitTimeInMs ?? 250,
      retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
    });
    const running = new ConsumerRunner(this, consumer, options, log);
    await running.start();
    this.consumers.add(running);
    return {
      group: options.group,
      joined: running.joined,
      assigned: () => running.assigned(),
      stop: async () => {
        this.consumers.delete(running);
        await running.stop();
      },
    };
  }

  /**
   * Sends a record a consumer group cannot process to dlq.<group>.v1, byte for byte, with the error.
   * The DLQ event id is <topic>:<partition>:<offset>, so a repeated dead-lettering is recognisable.
   */
  async deadLetter(
    group: string,
    origin: { topic: AnyTopicName; partition: number; offset: string; timestamp: number; headers: Readonly<Record<string, string>>; raw: RawRecord },
    error: { code: string; message: string },
    reason: string,
  ): Promise<void> {
    const dlq: DlqTopicName = dlqTopicFor(group);
    if (!this.dlqTopics.has(dlq)) {
      await this.ensureTopics([{ topic: dlq, partitions: dlqSpec.partitions, config: dlqSpec.config }]);
      await this.serde.register(dlq);
      this.dlqTopics.add(dlq);
    }
    const appender = await this.appender();
    const eventId = `${origin.topic}:${origin.partition}:${origin.offset}`;
    await appender.append(dlq, [
      {
        key: origin.raw.key ? origin.raw.key.toString('utf8') : eventId,
        record: 'DeadLetter',
        value: {
          event_id: eventId,
          occurred_at: origin.timestamp,
          received_at: Date.now(),
          group,
          topic: origin.topic,
          partition: origin.partition,
          offset: Number(origin.offset),
          key: origin.raw.key,
          value: origin.raw.value,
          headers: { ...origin.headers },
          error: error.message,
          error_code: error.code,
          attempts: Number(origin.headers[REPLAY_ATTEMPT] ?? 0) + 1,
        },
      },
    ]);
    metrics.deadLetters.inc({ group, topic: origin.topic, reason });
    this.log.error({ group, topic: origin.topic, partition: origin.partition, offset: origin.offset, err: error.message }, 'record dead-lettered');
  }

  /** Stops every consumer, then flushes and disconnects the producer and admin. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.consumers].map((c) => c.stop()));
    this.consumers.clear();
    const appender = this.appenderPromise;
    this.appenderPromise = null;
    if (appender) await appender.then((a) => a.close()).catch(() => undefined);
    const admin = this.adminClient;
    this.adminClient = null;
    if (admin) await admin.then((a) => a.disconnect()).catch(() => undefined);
  }
}

export interface AppendOptions {
  /**
   * Called when this append timed out (the caller was told Kafka is unavailable) and the broker
   * acknowledged it afterwards, e.g. to remember the event ids so the sender's retry is a no-op.
   */
  readonly lateAck?: () => Promise<void> | void;
}

interface PendingAppend {
  readonly topicMessages: readonly { topic: string; messages: Message[] }[];
  readonly count: number;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Appends with group commit: while Produce requests are in flight, new appends wait and are then
 * sent together in one request (like the Java producer's batching, without a fixed linger). Every
 * caller still resolves only when the broker acknowledged its own records (acks=all).
 */
export class Appender {
  private readonly producer: KafkaProducer;
  private readonly serde: Serde;
  private readonly names: Names;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly maxInFlight = 4;
  private readonly maxBatchRecords = 2000;
  /** Stay under the broker's message.max.bytes (1 MiB by default) for one partition's record batch. */
  private readonly maxRequestBytes = 768 * 1024;
  private pending: PendingAppend[] = [];
  private inFlight = 0;
  private flushScheduled = false;

  constructor(producer: KafkaProducer, serde: Serde, names: Names, timeoutMs: number, log: Logger) {
    this.producer = producer;
    this.serde = serde;
    this.names = names;
    this.timeoutMs = timeoutMs;
    this.log = log;
  }

  /** Appends records to one topic; resolves after the broker acknowledged all of them (acks=all). */
  append<T extends AnyTopicName>(topic: T, records: readonly Outgoing<T>[], options?: AppendOptions): Promise<void> {
    return this.appendMany([{ topic, records } as unknown as OutgoingGroup], options);
  }

  /** Appends to several topics. Not atomic across topics: callers use deterministic event ids. */
  async appendMany(groups: readonly OutgoingGroup[], options?: AppendOptions): Promise<void> {
    const nonEmpty = (groups as readonly { topic: AnyTopicName; records: readonly LooseOutgoing[] }[]).filter((g) => g.records.length > 0);
    if (nonEmpty.length === 0) return;
    const topicMessages = await Promise.all(
      nonEmpty.map(async (g) => ({
        topic: this.names.topic(g.topic),
        messages: await Promise.all(
          g.records.map(async (r) => ({
            key: r.key,
            value: await this.serde.encode(g.topic, { record: r.record, value: r.value } as Envelope<AnyTopicName>),
            ...(r.headers ? { headers: { ...r.headers } } : {}),
          })),
        ),
      })),
    );
    await this.submit(nonEmpty.map((g) => ({ topic: g.topic, count: g.records.length })), topicMessages, options);
  }

  /**
   * Appends already-encoded values (bytes as another producer or a DLQ kept them). Used to replay
   * dead letters, for record types validated against the registry, and by tests.
   */
  async appendRaw(
    topic: AnyTopicName,
    records: readonly { key: string | null; value: Buffer | null; headers?: Readonly<Record<string, string>> }[],
    options?: AppendOptions,
  ): Promise<void> {
    if (records.length === 0) return;
    const messages = records.map((r) => ({ key: r.key, value: r.value, ...(r.headers ? { headers: { ...r.headers } } : {}) }));
    await this.submit([{ topic, count: records.length }], [{ topic: this.names.topic(topic), messages }], options);
  }

  private async submit(
    counts: readonly { topic: AnyTopicName; count: number }[],
    topicMessages: readonly { topic: string; messages: Message[] }[],
    options: AppendOptions = {},
  ): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      // One caller's records go in order: chunk after chunk, each within the request size limit.
      const chunks = this.chunks(topicMessages);
      for (const [i, chunk] of chunks.entries()) {
        const acked = new Promise<void>((resolve, reject) => {
          this.pending.push({ ...chunk, resolve, reject });
        });
        this.scheduleFlush();
        try {
          await withTimeout(acked, this.timeoutMs, () => new EventlineError('kafka_unavailable', `no acknowledgement from Kafka within ${this.timeoutMs} ms`));
        } catch (err) {
          // The caller gives up, but the producer keeps retrying what it already holds. When that was
          // the last chunk, a late acknowledgement means the whole append did land after all.
          if (options.lateAck && i === chunks.length - 1) this.watchLateAck(acked, counts, options.lateAck);
          throw err;
        }
      }
    } catch (err) {
      for (const c of counts) metrics.appends.inc({ topic: c.topic, result: 'failed' }, c.count);
      this.log.warn({ err: errorMessage(err), topics: counts.map((c) => c.topic) }, 'append failed');
      if (isEventlineError(err)) throw err;
      if (/MESSAGE_TOO_LARGE|RecordBatchTooLarge|too large/i.test(`${(err as { type?: string }).type ?? ''} ${errorMessage(err)}`)) {
        throw new EventlineError('payload_too_large', `a record is larger than the broker accepts: ${errorMessage(err)}`, { cause: err });
      }
      throw new EventlineError('kafka_unavailable', `Kafka did not acknowledge the append: ${errorMessage(err)}`, { cause: err });
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    for (const c of counts) {
      metrics.appends.inc({ topic: c.topic, result: 'acked' }, c.count);
      metrics.appendDuration.observe({ topic: c.topic }, seconds);
    }
  }

  private watchLateAck(acked: Promise<void>, counts: readonly { topic: AnyTopicName; count: number }[], lateAck: () => Promise<void> | void): void {
    acked.then(
      async () => {
        for (const c of counts) metrics.appends.inc({ topic: c.topic, result: 'acked_late' }, c.count);
        this.log.warn({ topics: counts.map((c) => c.topic) }, 'an append reported as failed was acknowledged afterwards');
        try {
          await lateAck();
        } catch (err) {
          this.log.warn({ err: errorMessage(err) }, 'after a late acknowledgement: callback failed');
        }
      },
      () => undefined,
    );
  }

  private chunks(topicMessages: readonly { topic: string; messages: Message[] }[]): { topicMessages: { topic: string; messages: Message[] }[]; count: number; bytes: number }[] {
    const out: { topicMessages: { topic: string; messages: Message[] }[]; count: number; bytes: number }[] = [];
    let current = { topicMessages: [] as { topic: string; messages: Message[] }[], count: 0, bytes: 0 };
    for (const tm of topicMessages) {
      for (const m of tm.messages) {
        const size = messageBytes(m);
        if (current.count > 0 && (current.bytes + size > this.maxRequestBytes || current.count >= this.maxBatchRecords)) {
          out.push(current);
          current = { topicMessages: [], count: 0, bytes: 0 };
        }
        const last = current.topicMessages[current.topicMessages.length - 1];
        if (last && last.topic === tm.topic) last.messages.push(m);
        else current.topicMessages.push({ topic: tm.topic, messages: [m] });
        current.count++;
        current.bytes += size;
      }
    }
    if (current.count > 0) out.push(current);
    return out;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      const batch: PendingAppend[] = [];
      let records = 0;
      let bytes = 0;
      while (
        this.pending.length > 0 &&
        (batch.length === 0 ||
          (records + (this.pending[0]?.count ?? 0) <= this.maxBatchRecords && bytes + (this.pending[0]?.bytes ?? 0) <= this.maxRequestBytes))
      ) {
        const next = this.pending.shift() as PendingAppend;
        batch.push(next);
        records += next.count;
        bytes += next.bytes;
      }
      const byTopic = new Map<string, Message[]>();
      for (const p of batch) {
        for (const tm of p.topicMessages) {
          const list = byTopic.get(tm.topic) ?? [];
          list.push(...tm.messages);
          byTopic.set(tm.topic, list);
        }
      }
      this.inFlight++;
      this.producer
        .sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })
        .then(
          () => batch.forEach((p) => p.resolve()),
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          if (this.pending.length > 0) this.scheduleFlush();
        });
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

class ConsumerRunner<T extends AnyTopicName> {
  readonly joined: Promise<void>;
  private markJoined: () => void = () => undefined;
  private readonly kafka: Kafka;
  private readonly consumer: KafkaConsumer;
  private readonly options: ConsumerOptions<T>;
  private readonly log: Logger;
  private current: TopicPartition[] = [];
  private stopped = false;

  constructor(kafka: Kafka, consumer: KafkaConsumer, options: ConsumerOptions<T>, log: Logger) {
    this.kafka = kafka;
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
    const { consumer, options, kafka } = this;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const assigned: TopicPartition[] = [];
      for (const [physical, partitions] of Object.entries(event.payload.memberAssignment)) {
        const topic = kafka.names.logicalTopic(physical);
        if (topic) for (const partition of partitions) assigned.push({ topic, partition });
      }
      this.current = assigned;
      this.log.info({ assigned: assigned.map((a) => `${a.topic}/${a.partition}`) }, 'partitions assigned');
      if (options.onAssign && assigned.length > 0) {
        options
          .onAssign(assigned)
          .then((seeks) => {
            for (const s of seeks) consumer.seek({ topic: kafka.names.topic(s.topic), partition: s.partition, offset: s.offset });
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
      await consumer.subscribe({ topics: options.topics.map((t) => kafka.names.topic(t)), fromBeginning: options.fromBeginning });
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
        const topic = kafka.names.logicalTopic(batch.topic) as T | null;
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
    const out: Incoming<T>[] = [];
    for (const m of messages) {
      const replayFor = m.headers?.[REPLAY_FOR];
      if (replayFor !== undefined && String(replayFor) !== this.options.group) {
        metrics.skipped.inc({ group: this.options.group, topic, reason: 'replay_for_other_group' });
        continue;
      }
      try {
        const { envelope, schemaId } = await this.kafka.serde.decode(topic, m.value);
        out.push({
          ...envelope,
          topic,
          partition,
          offset: m.offset,
          key: m.key ? m.key.toString('utf8') : null,
          timestamp: Number(m.timestamp),
          headers: headersOf(m.headers),
          schemaId,
          raw: { key: m.key ?? null, value: m.value ?? null },
        } as Incoming<T>);
      } catch (err) {
        if (isEventlineError(err, 'decode_failed')) {
          const reason = (err.detail as { reason?: string } | undefined)?.reason ?? 'decode';
          if (reason === 'unknown_record') {
            metrics.skipped.inc({ group: this.options.group, topic, reason });
            this.log.warn({ topic, partition, offset: m.offset, err: err.message }, 'skipping a record type this version does not know');
            continue;
          }
          await this.kafka.deadLetter(
            this.options.group,
            { topic, partition, offset: m.offset, timestamp: Number(m.timestamp), headers: headersOf(m.headers), raw: { key: m.key ?? null, value: m.value ?? null } },
            err,
            reason,
          );
          continue;
        }
        throw err; // registry or broker trouble: the batch is retried
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer.disconnect().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'consumer disconnect failed'));
  }
}

/** The default partition count and config of a fixed topic. */
export function defaultTopicSpec(topic: TopicName): { topic: TopicName; partitions: number; config: Readonly<Record<string, string>> } {
  const spec = topicSpecs[topic];
  return { topic, partitions: spec.partitions, config: spec.config };
}
