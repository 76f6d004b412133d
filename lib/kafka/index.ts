/**
 * The Kafka adapter: the only code that imports kafkajs. It speaks in logical topic names and
 * typed records (see topics.ts); namespaces, Avro framing and kafkajs details stay in here so a
 * client swap stays local.
 *
 * - client.ts: the Kafka class (one kafkajs client per process, namespace, logs routed to pino).
 * - appender.ts: idempotent producer, acks=all; `append` resolves only once the broker
 *   acknowledged, and fails with kafka_unavailable (canRetry) when that does not happen in time.
 * - consumer.ts: batch consumer without auto-commit; decodes every record against the registry
 *   and lets the handler commit (processors: at-least-once) or seek (projections).
 * - dead-letter.ts: what is dead-lettered, the DeadLetter record, and replayed copies.
 * - admin.ts: topics, offsets, groups, reading a topic to its end.
 */
export { Kafka, type KafkaOptions } from './client.ts';
export { Appender, type RecordAppender } from './appender.ts';
export { defaultTopicSpec } from './admin.ts';
export {
  REPLAY_ATTEMPT,
  REPLAY_FOR,
  REPLAY_OF,
  deadLetterCause,
  deadLetterFor,
  isReplayForAnotherGroup,
  originId,
  replayCopy,
  type DeadLetterCause,
  type DeadLetterOrigin,
} from './dead-letter.ts';
export type {
  AppendOptions,
  Batch,
  BatchOutcome,
  ConsumerOptions,
  Incoming,
  IncomingMeta,
  Outgoing,
  OutgoingGroup,
  OutgoingMeta,
  RawRecord,
  RunningConsumer,
  TopicCreation,
  TopicPartition,
} from './types.ts';
