/**
 * The appender: one idempotent producer (acks=all) per process. `append` resolves only once the
 * broker acknowledged the records, and fails with kafka_unavailable (canRetry) when that does not
 * happen in time, or payload_too_large when the broker refuses a record's size.
 */
import { CompressionTypes, Partitioners, type Kafka as KafkaJs, type Message, type Producer as KafkaProducer } from 'kafkajs';
import { EventlineError, errorMessage, fromDriverError, isEventlineError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { metrics } from '../metrics.ts';
import type { Serde } from '../serde.ts';
import { beginSpan, failSpan, inTrace, messagingAttributes, SpanKind, traceHeaders, withContext } from '../tracing.ts';
import type { AnyTopicName, Envelope, Names } from '../topics.ts';
import type { AppendOptions, Outgoing, OutgoingGroup, OutgoingMeta } from './types.ts';

type LooseOutgoing = OutgoingMeta & { readonly record: string; readonly value: unknown };

/** Connects the process' producer and wraps it in an Appender. */
export async function openAppender(client: KafkaJs, serde: Serde, names: Names, timeoutMs: number, log: Logger): Promise<Appender> {
  const producer = client.producer({
    idempotent: true,
    maxInFlightRequests: 5,
    // murmur2 like the Java client: a key lands on the same partition whoever produces it.
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    // Bounded retries: a webhook must answer 503 rather than wait forever while the broker is down.
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 6 },
  });
  try {
    await producer.connect();
  } catch (err) {
    throw new EventlineError('kafka_unavailable', `cannot connect the producer: ${errorMessage(err)}`, { cause: err });
  }
  return new Appender(producer, serde, names, timeoutMs, log);
}

function headersField(headers: Record<string, string> | undefined): { headers?: Record<string, string> } {
  return headers ? { headers } : {};
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

interface PendingAppend {
  readonly topicMessages: readonly { topic: string; messages: Message[] }[];
  readonly count: number;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * What callers see of the appender: the methods they call, none of its state. Kafka.appender()
 * returns this, so a benchmark can stand in an appender without Kafka (bench/stub-append-server.ts).
 */
export type RecordAppender = Pick<Appender, 'append' | 'appendMany' | 'appendRaw' | 'close'>;

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
    if (!inTrace()) return this.encodeAndSubmit(nonEmpty, {}, options);
    // Within a trace (a request, a record being handled): a send span, whose context every record
    // without its own (batch decisions carry each input's) takes along in its headers.
    const count = nonEmpty.reduce((n, g) => n + g.records.length, 0);
    const { span, context: ctx } = beginSpan(`send ${nonEmpty.map((g) => g.topic).join(',')}`, {
      kind: SpanKind.PRODUCER,
      attributes: messagingAttributes(nonEmpty.map((g) => g.topic).join(','), { operation: 'send', count }),
    });
    try {
      await withContext(ctx, () => this.encodeAndSubmit(nonEmpty, traceHeaders(ctx), options));
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  private async encodeAndSubmit(
    nonEmpty: readonly { topic: AnyTopicName; records: readonly LooseOutgoing[] }[],
    trace: Readonly<Record<string, string>>,
    options: AppendOptions | undefined,
  ): Promise<void> {
    const withTrace = (headers: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined =>
      headers?.traceparent || trace.traceparent === undefined ? (headers ? { ...headers } : undefined) : { ...headers, ...trace };
    const topicMessages = await Promise.all(
      nonEmpty.map(async (g) => ({
        topic: this.names.topic(g.topic),
        messages: await Promise.all(
          g.records.map(async (r) => ({
            key: r.key,
            value: await this.serde.encode(g.topic, { record: r.record, value: r.value } as Envelope<AnyTopicName>),
            ...headersField(withTrace(r.headers)),
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
    if (options.maxRecordBytes !== undefined) {
      const limit = options.maxRecordBytes;
      const largest = topicMessages.reduce((max, tm) => tm.messages.reduce((m, message) => Math.max(m, messageBytes(message)), max), 0);
      if (largest > limit) throw new EventlineError('payload_too_large', `a record of ${largest} bytes is larger than this append allows (${limit}); nothing was appended`);
    }
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
      // Only a record's size is the caller's to fix; anything else that kept the broker from
      // acknowledging (leaders moving, producer state, authorisation) is Kafka being unavailable.
      if (fromDriverError(err).code === 'payload_too_large') {
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
