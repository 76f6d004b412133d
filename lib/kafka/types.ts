/**
 * The Kafka adapter's types: what callers append (Outgoing), what consumers receive (Incoming,
 * Batch) and the options of each. They speak logical topic names; no kafkajs type appears here.
 */
import type { AnyTopicName, DlqTopicName, Envelope, ExternalDomainEvent, TopicName } from '../topics.ts';

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
/**
 * A consumed record; distributes over a union of topics so `topic` and `record` narrow it. On
 * domain.events.v1 it may also be a type another service registered (`record: 'external'`), for
 * consumers that ask for those (ConsumerOptions.externalRecords).
 */
export type Incoming<T extends AnyTopicName> = T extends AnyTopicName ? (Envelope<T> | (T extends 'domain.events.v1' ? ExternalDomainEvent : never)) & IncomingMeta<T> : never;

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
  /**
   * Deliver domain events of types this version does not declare (registered by other services)
   * as `record: 'external'`, decoded with their writer's schema; default: skip them, as any record
   * type this version does not know.
   */
  readonly externalRecords?: boolean;
  readonly maxBytesPerPartition?: number;
  readonly maxWaitTimeInMs?: number;
  /**
   * The broker answers a fetch once it has this many bytes or maxWaitTimeInMs passed (default 1:
   * at once). Consumers that need no low latency set more, so a steady stream comes in fewer,
   * larger batches: fewer transactions for the same records.
   */
  readonly minBytes?: number;
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

export interface AppendOptions {
  /**
   * Called when this append timed out (the caller was told Kafka is unavailable) and the broker
   * acknowledged it afterwards, e.g. to remember the event ids so the sender's retry is a no-op.
   */
  readonly lateAck?: () => Promise<void> | void;
  /**
   * Refuse the whole append as payload_too_large, before any of it is sent, when one of its records
   * is larger than this: an append sent in several requests then never fails on a record's size
   * after its first requests landed (batch decisions rely on it: lib/decider/batch.ts).
   */
  readonly maxRecordBytes?: number;
}
