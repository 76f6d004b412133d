/**
 * Dead-letter queues: listing what a consumer group could not process, and replaying it once the
 * cause is fixed. What is dead-lettered, the DeadLetter record and the replayed copy (the original
 * bytes, for that group only) are defined in lib/kafka/dead-letter.ts; this module reads the DLQ
 * topics and keeps which dead letters were replayed in Postgres (public.dlq_replays).
 *
 * Replay is at-least-once: a crash between the append and the ledger row can re-append a record on
 * the next run; consumers deduplicate by event id as they do for any redelivery.
 */
import { EventlineError } from './errors.ts';
import { originId, replayCopy } from './kafka/index.ts';
import type { Runtime } from './runtime.ts';
import { dlqTopicFor, isTopicName, type DeadLetter, type DlqTopicName, type TopicName } from './topics.ts';

export interface DeadLetterEntry {
  readonly group: string;
  readonly dlqPartition: number;
  readonly dlqOffset: string;
  readonly origin: { readonly topic: string; readonly partition: number; readonly offset: number };
  readonly key: string | null;
  readonly errorCode: string;
  readonly error: string;
  readonly attempts: number;
  readonly occurredAt: Date;
  readonly deadLetteredAt: Date;
  readonly replayedAt: Date | null;
  readonly replayedTimes: number;
  readonly letter: DeadLetter;
}

export interface DlqSummary {
  readonly group: string;
  readonly topic: DlqTopicName;
  readonly total: number;
  readonly replayed: number;
  readonly pending: number;
}

/** Consumer groups with a DLQ topic in this namespace. */
export async function dlqGroups(rt: Runtime): Promise<string[]> {
  const groups: string[] = [];
  for (const physical of await rt.kafka.listTopics()) {
    const logical = rt.kafka.names.logicalTopic(physical);
    const m = logical ? /^dlq\.(.+)\.v1$/.exec(logical) : null;
    if (m?.[1]) groups.push(m[1]);
  }
  return groups.sort();
}

async function dlqExists(rt: Runtime, group: string): Promise<boolean> {
  return (await rt.kafka.listTopics()).includes(rt.kafka.names.topic(dlqTopicFor(group)));
}

/** Every dead letter of a group, oldest first, with its replay state. */
export async function listDeadLetters(rt: Runtime, group: string): Promise<DeadLetterEntry[]> {
  if (!(await dlqExists(rt, group))) return [];
  const topic = dlqTopicFor(group);
  const replays = new Map<string, { at: Date; times: number }>();
  const rows = await rt.db.query<{ dlq_partition: number; dlq_offset: string; replayed_at: Date; times: number }>(
    'SELECT dlq_partition, dlq_offset::text, replayed_at, times FROM public.dlq_replays WHERE dlq_topic = $1',
    [topic],
  );
  for (const r of rows.rows) replays.set(`${r.dlq_partition}:${r.dlq_offset}`, { at: r.replayed_at, times: r.times });
  const out: DeadLetterEntry[] = [];
  await rt.kafka.readToEnd(topic, (r) => {
    const v = r.value;
    const replay = replays.get(`${r.partition}:${r.offset}`);
    out.push({
      group,
      dlqPartition: r.partition,
      dlqOffset: r.offset,
      origin: { topic: v.topic, partition: v.partition, offset: v.offset },
      key: v.key ? v.key.toString('utf8') : null,
      errorCode: v.error_code,
      error: v.error,
      attempts: v.attempts,
      occurredAt: new Date(v.occurred_at),
      deadLetteredAt: new Date(v.received_at),
      replayedAt: replay?.at ?? null,
      replayedTimes: replay?.times ?? 0,
      letter: v,
    });
  });
  return out;
}

export async function summarizeDlqs(rt: Runtime): Promise<DlqSummary[]> {
  const out: DlqSummary[] = [];
  for (const group of await dlqGroups(rt)) {
    const topic = dlqTopicFor(group);
    const total = await rt.kafka.recordCount(topic);
    const replayed = Number((await rt.db.query<{ n: string }>('SELECT count(*)::text AS n FROM public.dlq_replays WHERE dlq_topic = $1', [topic])).rows[0]?.n ?? 0);
    out.push({ group, topic, total, replayed, pending: Math.max(0, total - replayed) });
  }
  return out;
}

/** Refuses a replay nobody would consume: a projection version that no longer runs. */
async function checkGroupRuns(rt: Runtime, group: string): Promise<void> {
  const m = /^projection\.(.+)\.v(\d+)$/.exec(group);
  if (!m) return;
  const row = await rt.db.query<{ status: string }>('SELECT status FROM public.projection_versions WHERE projection = $1 AND version = $2', [m[1], Number(m[2])]);
  const status = row.rows[0]?.status;
  if (status === 'retired' || status === 'snapshot') {
    throw new EventlineError(
      'bad_request',
      `${group} is a ${status} projection version and no longer consumes; the versions built after it re-read the original records (see \`eventline dlq list\` for their own groups)`,
    );
  }
}

export interface ReplayOptions {
  /** DLQ offsets to replay (even if replayed before); default: every dead letter not yet replayed. */
  readonly offsets?: readonly string[];
  readonly dryRun?: boolean;
}

/** Re-appends dead letters to their original topics for their group; returns what was (or would be) replayed. */
export async function replayDeadLetters(rt: Runtime, group: string, options: ReplayOptions = {}): Promise<DeadLetterEntry[]> {
  if (!(await dlqExists(rt, group))) throw new EventlineError('not_found', `no dead-letter queue for group ${group} (${dlqTopicFor(group)})`);
  await checkGroupRuns(rt, group);
  const entries = await listDeadLetters(rt, group);
  let chosen: DeadLetterEntry[];
  if (options.offsets && options.offsets.length > 0) {
    const wanted = new Set(options.offsets);
    chosen = entries.filter((e) => wanted.has(e.dlqOffset));
    const missing = [...wanted].filter((o) => !chosen.some((e) => e.dlqOffset === o));
    if (missing.length > 0) throw new EventlineError('not_found', `no dead letter at offset ${missing.join(', ')} of ${dlqTopicFor(group)}`);
  } else {
    chosen = entries.filter((e) => e.replayedAt === null);
  }
  for (const e of chosen) {
    if (!isTopicName(e.origin.topic)) throw new EventlineError('bad_request', `dead letter ${e.dlqOffset} comes from ${e.origin.topic}, which is not an Eventline topic`);
  }
  if (options.dryRun) return chosen;
  const appender = await rt.kafka.appender();
  const topic = dlqTopicFor(group);
  for (const e of chosen) {
    const origin = originId(e.origin);
    await appender.appendRaw(e.origin.topic as TopicName, [replayCopy(e.letter, group)]);
    await rt.db.query(
      `INSERT INTO public.dlq_replays (dlq_topic, dlq_partition, dlq_offset, group_name, origin) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) DO UPDATE SET times = dlq_replays.times + 1, replayed_at = now()`,
      [topic, e.dlqPartition, e.dlqOffset, group, origin],
    );
  }
  return chosen;
}
