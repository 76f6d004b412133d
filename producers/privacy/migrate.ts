/**
 * `eventline privacy migrate --to <namespace>`: records appended before personal data was sealed
 * (ADR 0018) hold it in plain text, and a Kafka log cannot be rewritten in place. The migration
 * copies every topic of the current namespace into the same topics of a new namespace, record by
 * record in offset order, through the serde, which seals what is not sealed yet (values already
 * sealed are copied as they are). Keys, headers and partition counts are kept, so each record lands
 * on the partition of the same number, in the same order.
 *
 * Resumable: each copy carries the header `eventline-migrated-from: <partition>:<offset>`; a run
 * starts each partition after the source offset its target partition's last record names. Running
 * it again copies only what was appended since. The procedure (README "Privacy"): run it while
 * Eventline serves, stop Eventline, run it again (it copies the tail), start Eventline with
 * EVENTLINE_NAMESPACE set to the new namespace and rebuild the projections (`eventline replay
 * all`; the processors rebuild their state in the new namespace by themselves), then delete the
 * old namespace's topics: only then are the plain copies gone.
 */
import type { Runtime } from '../../lib/runtime.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { EventlineError } from '../../lib/errors.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import { topicNames, type TopicName } from '../../lib/topics.ts';

export const MIGRATED_FROM = 'eventline-migrated-from';
const BATCH = 500;

export interface TopicMigration {
  readonly topic: TopicName;
  readonly partitions: number;
  /** Records copied by this run. */
  readonly copied: number;
  /** Records a run before this one had copied already. */
  readonly alreadyCopied: number;
}

/** Where each target partition's copy stands: the next source offset to copy. */
async function resumePoints(to: Runtime, topic: TopicName): Promise<{ points: Map<number, bigint>; copied: number }> {
  const points = new Map<number, bigint>();
  let copied = 0;
  for (const o of await to.kafka.topicOffsets(topic)) {
    const high = BigInt(o.high);
    if (high <= BigInt(o.low)) continue;
    copied += Number(high - BigInt(o.low));
    let from: string | undefined;
    await to.kafka.readToEnd(topic, (r) => void (from = r.headers[MIGRATED_FROM]), { at: { partition: o.partition, offset: (high - 1n).toString() } });
    const m = from === undefined ? null : /^(\d+):(\d+)$/.exec(from);
    if (!m || Number(m[1]) !== o.partition) {
      throw new EventlineError('conflict', `${to.kafka.names.topic(topic)} partition ${o.partition} holds records that are not copies of ${topic} (no ${MIGRATED_FROM} header on its last record): migrate into a new namespace`);
    }
    points.set(o.partition, BigInt(m[2] as string) + 1n);
  }
  return { points, copied };
}

/** Copies every topic of `from`'s namespace into `to`'s, sealing as it goes. */
export async function migrateTopics(from: Runtime, to: Runtime, progress: (m: TopicMigration) => void = () => undefined): Promise<TopicMigration[]> {
  if ((from.config.namespace ?? '') === (to.config.namespace ?? '')) throw new EventlineError('bad_request', 'migrate into another namespace than the one read (--to)');
  // The same partition counts as the source, so a key lands on the partition of the same number.
  const partitions = new Map<TopicName, number>();
  const existing = new Set(await from.kafka.listTopics());
  for (const topic of topicNames) {
    if (existing.has(from.kafka.names.topic(topic))) partitions.set(topic, (await from.kafka.topicOffsets(topic)).length);
  }
  await createTopics(to.kafka, Object.fromEntries(partitions));
  await registerSchemas(to.kafka);
  const appender = await to.kafka.appender();
  const out: TopicMigration[] = [];
  for (const [topic, count] of partitions) {
    const { points, copied: alreadyCopied } = await resumePoints(to, topic);
    let batch: Incoming<TopicName>[] = [];
    let copied = 0;
    const flush = async () => {
      const records = batch;
      batch = [];
      const headers = (r: Incoming<TopicName>) => ({ ...r.headers, [MIGRATED_FROM]: `${r.partition}:${r.offset}` });
      // One append per run of records of the same kind, in order: ours re-encoded (and so sealed), another service's copied byte for byte.
      for (let i = 0; i < records.length; ) {
        const external = records[i]?.record === 'external';
        let j = i;
        while (j < records.length && (records[j]?.record === 'external') === external) j++;
        const run = records.slice(i, j);
        if (external) await appender.appendRaw(topic, run.map((r) => ({ key: r.key, value: r.raw.value, headers: headers(r) })));
        else await appender.append(topic, run.map((r) => ({ key: r.key ?? '', record: r.record, value: r.value, headers: headers(r) })) as never);
        copied += run.length;
        i = j;
      }
    };
    await from.kafka.readToEnd(
      topic,
      async (r) => {
        batch.push(r);
        if (batch.length >= BATCH) await flush();
      },
      { fromOffsets: points },
    );
    await flush();
    const m = { topic, partitions: count, copied, alreadyCopied };
    progress(m);
    out.push(m);
  }
  return out;
}
