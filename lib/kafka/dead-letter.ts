/**
 * Dead-letter policy, in one place. What a consumer group cannot process goes to dlq.<group>.v1 as
 * a DeadLetter record: the original key, value and headers byte for byte, where it came from, the
 * error, and how many times it was tried. A replay (lib/dlq.ts) re-appends those bytes for that
 * group only.
 *
 * - What is dead-lettered: a record the consumer cannot decode (reason `decode`; a record type this
 *   version does not know is skipped instead, a newer producer may write it — unless the consumer
 *   asks for domain events of types other services registered, ConsumerOptions.externalRecords,
 *   which are read with their writer's schema), and a record a
 *   runner's handler fails on for a reason that will not go away — `fromDriverError(err).canRetry`
 *   is false (reasons `handle`, `apply`, or the processor's own). Everything else fails the batch,
 *   which is retried.
 * - A dead letter's event id is `<topic>:<partition>:<offset>` of the original, so dead-lettering
 *   the same record twice is recognisable; its key is the original key.
 * - A replayed copy carries REPLAY_FOR (only that group processes it; every other group skips it,
 *   having processed or dead-lettered the original), REPLAY_OF (the original's id, kept across
 *   replays of replays) and REPLAY_ATTEMPT (replays so far), so a copy that fails again is
 *   dead-lettered with one attempt more.
 */
import { errorMessage, isEventlineError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { metrics } from '../metrics.ts';
import { dlqSpec, dlqTopicFor, type AnyTopicName, type DeadLetter, type DlqTopicName } from '../topics.ts';
import type { RecordAppender } from './appender.ts';
import type { Outgoing, RawRecord } from './types.ts';

/** Headers of a record re-appended from a dead-letter queue. */
export const REPLAY_FOR = 'eventline-replay-for';
export const REPLAY_OF = 'eventline-replay-of';
export const REPLAY_ATTEMPT = 'eventline-replay-attempt';

/** The record a group could not process, as consumed (an Incoming has every field). */
export interface DeadLetterOrigin {
  readonly topic: AnyTopicName;
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly raw: RawRecord;
}

/** Why it failed: an Eventline error code or the runner's own (processor_failed, …), and a message. */
export interface DeadLetterCause {
  readonly code: string;
  readonly message: string;
}

/** The id of a record in a topic: `<topic>:<partition>:<offset>`. */
export function originId(origin: { readonly topic: string; readonly partition: number; readonly offset: string | number }): string {
  return `${origin.topic}:${origin.partition}:${origin.offset}`;
}

/** The cause recorded for an error a handler threw: its Eventline code, else the runner's fallback code. */
export function deadLetterCause(err: unknown, fallbackCode: string): DeadLetterCause {
  return { code: isEventlineError(err) ? err.code : fallbackCode, message: errorMessage(err) };
}

/** The DeadLetter record for a record `group` could not process, dead-lettered at `receivedAt` (ms). */
export function deadLetterFor(group: string, origin: DeadLetterOrigin, cause: DeadLetterCause, receivedAt: number): Outgoing<DlqTopicName> {
  const eventId = originId(origin);
  const value: DeadLetter = {
    event_id: eventId,
    occurred_at: origin.timestamp,
    received_at: receivedAt,
    group,
    topic: origin.topic,
    partition: origin.partition,
    offset: Number(origin.offset),
    key: origin.raw.key,
    value: origin.raw.value,
    headers: { ...origin.headers },
    error: cause.message,
    error_code: cause.code,
    attempts: Number(origin.headers[REPLAY_ATTEMPT] ?? 0) + 1,
  };
  return { key: origin.raw.key ? origin.raw.key.toString('utf8') : eventId, record: 'DeadLetter', value };
}

/** The copy a replay appends to the original topic: the original bytes, for `group` only. */
export function replayCopy(letter: DeadLetter, group: string): { key: string | null; value: Buffer | null; headers: Record<string, string> } {
  return {
    key: letter.key ? letter.key.toString('utf8') : null,
    value: letter.value,
    headers: {
      ...letter.headers,
      [REPLAY_FOR]: group,
      [REPLAY_OF]: letter.headers[REPLAY_OF] ?? originId(letter),
      [REPLAY_ATTEMPT]: String(letter.attempts),
    },
  };
}

/** Whether `group` skips a consumed record: a replayed copy meant for another group. */
export function isReplayForAnotherGroup(headers: Readonly<Record<string, string>>, group: string): boolean {
  const target = headers[REPLAY_FOR];
  return target !== undefined && target !== group;
}

/**
 * What the consumer does with a record that failed to decode: skip it, dead-letter it, or — for
 * anything but a decode failure (registry or broker trouble) — nothing here: the batch is retried.
 */
export function onDecodeFailure(err: unknown): { readonly action: 'skip' | 'dead_letter'; readonly reason: string } | null {
  if (!isEventlineError(err, 'decode_failed')) return null;
  const reason = (err.detail as { reason?: string } | undefined)?.reason ?? 'decode';
  return { action: reason === 'unknown_record' ? 'skip' : 'dead_letter', reason };
}

/** What the writer needs from the adapter. */
export interface DeadLetterSink {
  ensureTopics(wanted: readonly { topic: DlqTopicName; partitions: number; config: Readonly<Record<string, string>> }[]): Promise<unknown>;
  register(topic: DlqTopicName): Promise<unknown>;
  appender(): Promise<RecordAppender>;
}

/** Sends dead letters: creates each group's DLQ topic and registers its schema on first use. */
export class DeadLetterWriter {
  private readonly sink: DeadLetterSink;
  private readonly log: Logger;
  private readonly ready = new Set<DlqTopicName>();

  constructor(sink: DeadLetterSink, log: Logger) {
    this.sink = sink;
    this.log = log;
  }

  async send(group: string, origin: DeadLetterOrigin, cause: DeadLetterCause, reason: string): Promise<void> {
    const dlq = dlqTopicFor(group);
    if (!this.ready.has(dlq)) {
      await this.sink.ensureTopics([{ topic: dlq, partitions: dlqSpec.partitions, config: dlqSpec.config }]);
      await this.sink.register(dlq);
      this.ready.add(dlq);
    }
    const appender = await this.sink.appender();
    await appender.append(dlq, [deadLetterFor(group, origin, cause, Date.now())]);
    metrics.deadLetters.inc({ group, topic: origin.topic, reason });
    this.log.error({ group, topic: origin.topic, partition: origin.partition, offset: origin.offset, err: cause.message }, 'record dead-lettered');
  }
}
