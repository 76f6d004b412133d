/**
 * The Kafka class: one kafkajs client per process, built from the validated config, with the
 * namespace (Names), the schema registry and serde, kafkajs' logs routed into pino, and the
 * process-wide appender, admin client and consumers. Its methods delegate to admin.ts,
 * appender.ts, consumer.ts and dead-letter.ts.
 */
import { Kafka as KafkaJs, logLevel as KafkaLogLevel, type Admin as KafkaAdmin, type logCreator as KafkaLogCreator } from 'kafkajs';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { Registry } from '../registry.ts';
import { Serde } from '../serde.ts';
import { Names, type AnyTopicName } from '../topics.ts';
import * as topicAdmin from './admin.ts';
import { openAppender, type RecordAppender } from './appender.ts';
import { startConsumer } from './consumer.ts';
import { DeadLetterWriter, type DeadLetterCause, type DeadLetterOrigin } from './dead-letter.ts';
import { fixRequestQueueTimer } from './request-queue.ts';
import type { ConsumerOptions, Incoming, RunningConsumer, TopicCreation } from './types.ts';

// Before any kafkajs connection exists: no connection's queue re-arms a 1 ms timer when idle.
fixRequestQueueTimer();

/**
 * Route kafkajs' own log lines into a pino logger. kafkajs logs retriable protocol answers
 * ("coordinator is loading") as errors; they are warnings for us. Real failures surface through
 * the adapter (consumer CRASH events, rejected appends), which log at error themselves.
 */
export function kafkaLogCreator(log: Logger): KafkaLogCreator {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }) => {
      const { message, ...data } = entry;
      const msg = `kafkajs: ${message}`;
      switch (level) {
        case KafkaLogLevel.ERROR:
        case KafkaLogLevel.WARN:
          kafkaLog.warn(data, msg);
          break;
        case KafkaLogLevel.INFO:
          kafkaLog.info(data, msg);
          break;
        case KafkaLogLevel.DEBUG:
          kafkaLog.debug(data, msg);
          break;
        case KafkaLogLevel.NOTHING:
          break;
      }
    };
}

/** The kafkajs log level matching a pino level (kafkajs INFO is chatty: it starts at WARN unless debugging). */
export function kafkaLogLevel(level: string): KafkaLogLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return KafkaLogLevel.DEBUG;
    case 'silent':
      return KafkaLogLevel.NOTHING;
    case 'fatal':
    case 'error':
      return KafkaLogLevel.ERROR;
    default:
      return KafkaLogLevel.WARN;
  }
}

export interface KafkaOptions {
  /**
   * Opens the process' appender; the real one (an idempotent producer, acks=all) unless given.
   * Not configurable: only code that builds its own Runtime can pass it, and only the benchmarks'
   * stub server does (bench/stub-append-server.ts, the HTTP path without Kafka).
   */
  readonly openAppender?: () => Promise<RecordAppender>;
}

export class Kafka {
  readonly names: Names;
  readonly serde: Serde;
  readonly registry: Registry;
  private readonly client: KafkaJs;
  private readonly log: Logger;
  private readonly appendTimeoutMs: number;
  private readonly consumerDefaults: { readonly batchBytes: number; readonly sessionTimeoutMs: number };
  private readonly deadLetters: DeadLetterWriter;
  private readonly openAppender: () => Promise<RecordAppender>;
  private appenderPromise: Promise<RecordAppender> | null = null;
  private readonly consumers = new Set<RunningConsumer>();
  private adminClient: Promise<KafkaAdmin> | null = null;

  constructor(config: Pick<Config, 'kafka' | 'registry' | 'namespace' | 'logLevel'>, log: Logger, options: KafkaOptions = {}) {
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
    this.openAppender = options.openAppender ?? (() => openAppender(this.client, this.serde, this.names, this.appendTimeoutMs, this.log));
    this.deadLetters = new DeadLetterWriter(
      { ensureTopics: (wanted) => this.ensureTopics(wanted), register: (topic) => this.serde.register(topic), appender: () => this.appender() },
      this.log,
    );
  }

  /** The process-wide appender (one idempotent producer), connected on first use. */
  appender(): Promise<RecordAppender> {
    if (!this.appenderPromise) {
      this.appenderPromise = this.openAppender().catch((err: unknown) => {
        this.appenderPromise = null;
        throw err;
      });
    }
    return this.appenderPromise;
  }

  admin(): Promise<KafkaAdmin> {
    if (!this.adminClient) {
      this.adminClient = topicAdmin.openAdmin(this.client).catch((err: unknown) => {
        this.adminClient = null;
        throw err;
      });
    }
    return this.adminClient;
  }

  /** Creates missing topics (and grows partition counts that are too small). */
  async ensureTopics(
    wanted: readonly { topic: AnyTopicName; partitions: number; config?: Readonly<Record<string, string>> }[],
  ): Promise<TopicCreation[]> {
    return topicAdmin.ensureTopics(await this.admin(), this.names, wanted);
  }

  /** Physical topic names in this namespace (all of them when the namespace is null). */
  async listTopics(): Promise<string[]> {
    return topicAdmin.listTopics(await this.admin(), this.names);
  }

  async deleteTopics(physical: readonly string[]): Promise<void> {
    if (physical.length === 0) return;
    await topicAdmin.deleteTopics(await this.admin(), physical);
  }

  /** Earliest and end offsets of every partition of a topic. */
  async topicOffsets(topic: AnyTopicName): Promise<{ partition: number; low: string; high: string }[]> {
    return topicAdmin.topicOffsets(await this.admin(), this.names, topic);
  }

  /** How many records a topic holds (sum over partitions of end − start offsets). */
  async recordCount(topic: AnyTopicName): Promise<number> {
    return (await this.topicOffsets(topic)).reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0);
  }

  /** Offsets a group has committed in Kafka, per partition ('-1' when none). */
  async committedOffsets(group: string, topic: AnyTopicName): Promise<{ partition: number; offset: string }[]> {
    return topicAdmin.committedOffsets(await this.admin(), this.names, group, topic);
  }

  /** Moves a consumer group (with no running members) back to the start of a topic: its next run re-reads everything. */
  async resetOffsets(group: string, topic: AnyTopicName): Promise<void> {
    await topicAdmin.resetOffsets(await this.admin(), this.names, group, topic);
  }

  /** Broker ids and controller: a cheap readiness probe. */
  async describeCluster(): Promise<{ brokers: number; controller: number | null }> {
    return topicAdmin.describeCluster(await this.admin());
  }

  /**
   * Reads a topic from its beginning (or from the first record at or after `fromTimestamp`) up to
   * its end as of the call, partition by partition in offset order, with a throwaway consumer group
   * that is deleted afterwards. Returns how many records were handed to `each`.
   */
  async readToEnd<T extends AnyTopicName>(topic: T, each: (record: Incoming<T>) => Promise<void> | void, options: topicAdmin.ReadOptions = {}): Promise<number> {
    const ctx = { admin: await this.admin(), names: this.names, consume: (o: ConsumerOptions<T>) => this.consume(o) };
    return topicAdmin.readToEnd(ctx, topic, each, options);
  }

  /** Consumes topics as a group until stopped. */
  async consume<T extends AnyTopicName>(options: ConsumerOptions<T>): Promise<RunningConsumer> {
    const running = await startConsumer(
      {
        client: this.client,
        names: this.names,
        serde: this.serde,
        log: this.log,
        defaults: this.consumerDefaults,
        deadLetter: (group, origin, cause, reason) => this.deadLetter(group, origin, cause, reason),
      },
      options,
    );
    this.consumers.add(running);
    return {
      ...running,
      stop: async () => {
        this.consumers.delete(running);
        await running.stop();
      },
    };
  }

  /**
   * Sends a record a consumer group cannot process to dlq.<group>.v1, byte for byte, with the error
   * (see dead-letter.ts for what is dead-lettered and the record's shape).
   */
  async deadLetter(group: string, origin: DeadLetterOrigin, error: DeadLetterCause, reason: string): Promise<void> {
    await this.deadLetters.send(group, origin, error, reason);
  }

  /** Stops every consumer, then flushes and disconnects the producer and admin. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.consumers].map((c) => c.stop()));
    this.consumers.clear();
    const appender = this.appenderPromise;
    this.appenderPromise = null;
    if (appender) await appender.then((a) => a.close()).catch(() => undefined);
    const adminClient = this.adminClient;
    this.adminClient = null;
    if (adminClient) await adminClient.then((a) => a.disconnect()).catch(() => undefined);
  }
}
