/**
 * Topics, offsets and groups through the kafkajs admin client: creating topics (and waiting for
 * their leaders), reading offsets, resetting a group, the cluster probe, and reading a topic to
 * its end with a throwaway group.
 */
import { randomUUID } from 'node:crypto';
import type { Admin as KafkaAdmin, Kafka as KafkaJs } from 'kafkajs';
import { EventlineError, errorMessage } from '../errors.ts';
import { topicSpecs, type AnyTopicName, type Names, type TopicName } from '../topics.ts';
import type { ConsumerOptions, Incoming, RunningConsumer, TopicCreation } from './types.ts';

/** Connects an admin client (bounded retries: an admin call fails rather than hangs while Kafka is down). */
export async function openAdmin(client: KafkaJs): Promise<KafkaAdmin> {
  const admin = client.admin({ retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 } });
  try {
    await admin.connect();
  } catch (err) {
    throw new EventlineError('kafka_unavailable', `cannot connect the admin client: ${errorMessage(err)}`, { cause: err });
  }
  return admin;
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

/** The default partition count and config of a fixed topic. */
export function defaultTopicSpec(topic: TopicName): { topic: TopicName; partitions: number; config: Readonly<Record<string, string>> } {
  const spec = topicSpecs[topic];
  return { topic, partitions: spec.partitions, config: spec.config };
}

/** Creates missing topics (and grows partition counts that are too small). */
export async function ensureTopics(
  admin: KafkaAdmin,
  names: Names,
  wanted: readonly { topic: AnyTopicName; partitions: number; config?: Readonly<Record<string, string>> }[],
): Promise<TopicCreation[]> {
  const existing = new Set(await retryRetriable(() => admin.listTopics()));
  const toCreate = wanted.filter((w) => !existing.has(names.topic(w.topic)));
  if (toCreate.length > 0) {
    await admin.createTopics({
      // kafkajs' own wait retries LEADER_NOT_AVAILABLE only; a new topic can also answer
      // UNKNOWN_TOPIC_OR_PARTITION for a moment, so this waits below instead.
      waitForLeaders: false,
      topics: toCreate.map((w) => ({
        topic: names.topic(w.topic),
        numPartitions: w.partitions,
        replicationFactor: -1,
        configEntries: Object.entries(w.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  if (toCreate.length > 0) await waitForLeaders(admin, toCreate.map((w) => ({ topic: names.topic(w.topic), partitions: w.partitions })));
  const out: TopicCreation[] = toCreate.map((w) => ({ topic: names.topic(w.topic), partitions: w.partitions, action: 'created' }));
  const present = wanted.filter((w) => existing.has(names.topic(w.topic)));
  if (present.length > 0) {
    const meta = await retryRetriable(() => admin.fetchTopicMetadata({ topics: present.map((w) => names.topic(w.topic)) }));
    const grow: { topic: string; count: number }[] = [];
    for (const w of present) {
      const physical = names.topic(w.topic);
      const count = meta.topics.find((t) => t.name === physical)?.partitions.length ?? 0;
      if (count < w.partitions) grow.push({ topic: physical, count: w.partitions });
      out.push({ topic: physical, partitions: Math.max(count, w.partitions), action: count < w.partitions ? 'partitions_added' : 'exists' });
    }
    if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow });
  }
  return out;
}

/** Polls metadata until every partition of the topics has a leader (30 s at most). */
async function waitForLeaders(admin: KafkaAdmin, topics: readonly { topic: string; partitions: number }[]): Promise<void> {
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
export async function listTopics(admin: KafkaAdmin, names: Names): Promise<string[]> {
  const prefix = names.namespace ? `${names.namespace}.` : '';
  return (await admin.listTopics()).filter((t) => t.startsWith(prefix) && !t.startsWith('__'));
}

/** Deletes topics by physical name (test and benchmark namespaces clean up after themselves). */
export async function deleteTopics(admin: KafkaAdmin, physical: readonly string[]): Promise<void> {
  await admin.deleteTopics({ topics: [...physical], timeout: 10000 });
}

/** Earliest and end offsets of every partition of a topic. */
export async function topicOffsets(admin: KafkaAdmin, names: Names, topic: AnyTopicName): Promise<{ partition: number; low: string; high: string }[]> {
  const offsets = await retryRetriable(() => admin.fetchTopicOffsets(names.topic(topic)));
  return offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high })).sort((a, b) => a.partition - b.partition);
}

/** Offsets a group has committed in Kafka, per partition ('-1' when none). */
export async function committedOffsets(admin: KafkaAdmin, names: Names, group: string, topic: AnyTopicName): Promise<{ partition: number; offset: string }[]> {
  const res = await retryRetriable(() => admin.fetchOffsets({ groupId: names.group(group), topics: [names.topic(topic)] }));
  return (res[0]?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset }));
}

/** Moves a consumer group (with no running members) back to the start of a topic. */
export async function resetOffsets(admin: KafkaAdmin, names: Names, group: string, topic: AnyTopicName): Promise<void> {
  await admin.resetOffsets({ groupId: names.group(group), topic: names.topic(topic), earliest: true });
}

/** Broker count and controller: a cheap readiness probe. */
export async function describeCluster(admin: KafkaAdmin): Promise<{ brokers: number; controller: number | null }> {
  const cluster = await admin.describeCluster();
  return { brokers: cluster.brokers.length, controller: cluster.controller };
}

/**
 * Reads a topic from its beginning (or from the first record at or after `fromTimestamp`) up to
 * its end as of the call, partition by partition in offset order, with a throwaway consumer group
 * that is deleted afterwards. Returns how many records were handed to `each`.
 */
export interface ReadOptions {
  /** Start at the first record at or after this time (ms), per partition. */
  readonly fromTimestamp?: number;
  /** Read only the record at this partition and offset (none when retention removed it). */
  readonly at?: { readonly partition: number; readonly offset: string };
  /** Start each partition listed here at this offset (the others from their beginning). */
  readonly fromOffsets?: ReadonlyMap<number, bigint>;
}

export async function readToEnd<T extends AnyTopicName>(
  ctx: { readonly admin: KafkaAdmin; readonly names: Names; consume(options: ConsumerOptions<T>): Promise<RunningConsumer> },
  topic: T,
  each: (record: Incoming<T>) => Promise<void> | void,
  options: ReadOptions = {},
): Promise<number> {
  const { admin, names } = ctx;
  const physical = names.topic(topic);
  const ends = new Map((await topicOffsets(admin, names, topic)).map((o) => [o.partition, { start: BigInt(o.low), end: BigInt(o.high) }]));
  if (options.at) {
    // One record: its partition only, from its offset to the next (if it is still in the log).
    const range = ends.get(options.at.partition);
    const offset = BigInt(options.at.offset);
    ends.clear();
    if (range && offset >= range.start && offset < range.end) ends.set(options.at.partition, { start: offset, end: offset + 1n });
  }
  for (const [partition, offset] of options.fromOffsets ?? []) {
    const range = ends.get(partition);
    if (range && offset > range.start) range.start = offset;
  }
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
  const consumer = await ctx.consume({
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
    await admin.deleteGroups([names.group(group)]).catch(() => undefined);
  }
  return count;
}
