/**
 * The projection runner: consumes topics and applies each partition batch in ONE Postgres
 * transaction together with the partition's checkpoint, so every record takes effect exactly once
 * whatever crashes, rebalances or redeliveries happen.
 *
 * Per batch:  BEGIN → lock the checkpoint row (FOR UPDATE) → seek instead if the batch starts past
 * it (records missing) → drop records below it (already applied) → apply → advance the checkpoint
 * → COMMIT. The row lock serializes two members that both believe they own a partition (a consumer
 * that lost it in a rebalance): each offset is applied once, by whichever commits first.
 *
 * A record whose application fails for a reason that will not go away (a bug, bad data) is sent to
 * dlq.projection.<name>.v1 and skipped; connection trouble fails the batch so it is retried.
 */
import type { DbClient } from './db.ts';
import { errorMessage, fromDriverError } from './errors.ts';
import {
  activateVersion,
  activeVersion,
  checkpointName,
  createVersion,
  ensureActive,
  finishLoading,
  isLoading,
  resumeOrCreateSideVersion,
  resumeOrCreateVersion,
  groupName,
  type ProjectionVersion,
  type VersionedTables,
} from './projection-versions.ts';
import { deadLetterCause, type Batch, type BatchOutcome, type Incoming, type RunningConsumer, type TopicPartition } from './kafka/index.ts';
import type { Logger } from './log.ts';
import type { Runtime } from './runtime.ts';
import type { AnyTopicName } from './topics.ts';

export interface ProjectionContext {
  readonly log: Logger;
  /** Checkpoint name: the projection's name, with its version when it is being rebuilt. */
  readonly checkpoint: string;
}

export interface Projection<T extends AnyTopicName> {
  /** e.g. "mrr": consumer group projection.mrr, DLQ dlq.projection.mrr.v1. */
  readonly name: string;
  readonly topics: readonly T[];
  /** Applies records (offset order within each partition; never a record twice) inside the transaction. */
  apply(client: DbClient, records: readonly Incoming<T>[], ctx: ProjectionContext): Promise<void>;
}

/**
 * The bulk path of a rebuild. While a new version is loading, batches only store the facts (no
 * derived rows, no reads, no secondary indexes to maintain); once the load has reached the end of
 * the topics as they were when the rebuild started, `finish` derives every read-model row once,
 * from everything loaded, and the version continues batch by batch. The cost of a rebuild is then
 * one pass over the history, whatever its length.
 */
export interface BulkLoad<T extends AnyTopicName> {
  /** Stores the facts of a batch. Idempotent per record, like `apply`. */
  load(client: DbClient, records: readonly Incoming<T>[]): Promise<void>;
  /**
   * Derives every read-model row from the loaded facts, in the caller's transaction (a killed
   * finish is rolled back and runs again); creates the indexes its own reads need first.
   */
  finish(client: DbClient, log: Logger): Promise<void>;
}

/** A projection whose tables are versioned (rebuilt blue/green); `forSchema` binds it to one version. */
export interface VersionedProjection<T extends AnyTopicName> extends VersionedTables {
  readonly topics: readonly T[];
  forSchema(schema: string): Projection<T>;
  /** The bulk path for rebuilds, when the projection has one. */
  bulk?(schema: string): BulkLoad<T>;
}

/**
 * What the versioned (analytics) projections wait for per fetch. Read models for analysts need no
 * millisecond freshness: under a steady stream the broker gathers up to 256 KB or 250 ms, so a
 * projection commits one transaction for many records instead of one for every few, and leaves the
 * CPU to the webhooks' acknowledgements (docs/performance.md).
 */
export const ANALYTICS_FETCH_BYTES = 256 * 1024;

export interface ProjectionOptions {
  /** Checkpoint name (default: the projection name); a rebuild uses its own, e.g. "mrr@v2". */
  readonly checkpoint?: string;
  /** Consumer group (default: projection.<name>). */
  readonly group?: string;
  readonly partitionsConsumedConcurrently?: number;
  readonly maxBytesPerPartition?: number;
  /** Bytes a fetch waits for (at most 250 ms): see ANALYTICS_FETCH_BYTES. Default 1: at once. */
  readonly minBytes?: number;
  /** Called after each committed batch (progress bars, tests). */
  readonly onCommitted?: (info: { topic: AnyTopicName; partition: number; nextOffset: string; applied: number }) => void;
  /** Only apply records received up to this time (ms): the data as it was known then. */
  readonly until?: number;
}

/** Reads the stored next offsets of a projection (used on assignment and by `eventline status`). */
export async function storedOffsets(
  rt: Runtime,
  checkpoint: string,
): Promise<Map<string, string>> {
  const res = await rt.db.query<{ topic: string; partition: number; next_offset: string | number }>(
    'SELECT topic, partition, next_offset FROM public.projection_checkpoints WHERE projection = $1',
    [checkpoint],
  );
  return new Map(res.rows.map((r) => [`${r.topic}/${r.partition}`, String(r.next_offset)]));
}

export async function runProjection<T extends AnyTopicName>(rt: Runtime, projection: Projection<T>, options: ProjectionOptions = {}): Promise<RunningConsumer> {
  const checkpoint = options.checkpoint ?? projection.name;
  const group = options.group ?? `projection.${projection.name}`;
  const log = rt.log.child({ projection: checkpoint });
  const ctx: ProjectionContext = { log, checkpoint };
  const lowWatermarks = new Map<string, string>();

  async function low(topic: AnyTopicName, partition: number): Promise<string> {
    const key = `${topic}/${partition}`;
    let value = lowWatermarks.get(key);
    if (value === undefined) {
      for (const o of await rt.kafka.topicOffsets(topic)) lowWatermarks.set(`${topic}/${o.partition}`, o.low);
      value = lowWatermarks.get(key) ?? '0';
    }
    return value;
  }

  async function applyWithDeadLetters(client: DbClient, records: readonly Incoming<T>[]): Promise<number> {
    await client.query('SAVEPOINT batch');
    try {
      await projection.apply(client, records, ctx);
      return records.length;
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT batch');
      // Connection errors, serialization failures, deadlocks, admin shutdown: retry the batch.
      if (fromDriverError(err).canRetry) throw err;
      log.warn({ err: errorMessage(err), records: records.length }, 'batch failed; applying record by record');
    }
    let applied = 0;
    for (const record of records) {
      await client.query('SAVEPOINT one');
      try {
        await projection.apply(client, [record], ctx);
        applied++;
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT one');
        if (fromDriverError(err).canRetry) throw err;
        await rt.kafka.deadLetter(group, record, deadLetterCause(err, 'projection_failed'), 'apply');
      }
    }
    return applied;
  }

  async function onBatch(batch: Batch<T>): Promise<BatchOutcome> {
    const next = (BigInt(batch.lastOffset) + 1n).toString();
    let applied = 0;
    const outcome = await rt.db.transaction(async (client): Promise<BatchOutcome> => {
      await client.query(
        'INSERT INTO public.projection_checkpoints (projection, topic, partition, next_offset) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
        [checkpoint, batch.topic, batch.partition, await low(batch.topic, batch.partition)],
      );
      const row = await client.query<{ next_offset: string | number }>(
        'SELECT next_offset FROM public.projection_checkpoints WHERE projection = $1 AND topic = $2 AND partition = $3 FOR UPDATE',
        [checkpoint, batch.topic, batch.partition],
      );
      const expected = BigInt(row.rows[0]?.next_offset ?? 0);
      if (BigInt(batch.firstOffset) > expected) {
        // Records between the checkpoint and this batch were never applied: go back for them.
        return { seek: expected.toString() };
      }
      if (BigInt(batch.lastOffset) < expected) return { commit: expected.toString() };
      const until = options.until;
      const fresh = batch.records.filter(
        (r) => BigInt(r.offset) >= expected && (until === undefined || (r.value as { received_at: number }).received_at <= until),
      );
      applied = fresh.length > 0 ? await applyWithDeadLetters(client, fresh) : 0;
      await client.query(
        'UPDATE public.projection_checkpoints SET next_offset = $4, updated_at = now() WHERE projection = $1 AND topic = $2 AND partition = $3',
        [checkpoint, batch.topic, batch.partition, next],
      );
      return { commit: next };
    });
    if ('commit' in outcome && outcome.commit === next) {
      options.onCommitted?.({ topic: batch.topic, partition: batch.partition, nextOffset: next, applied });
    }
    return outcome;
  }

  return rt.kafka.consume({
    group,
    topics: projection.topics,
    fromBeginning: true,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 2,
    ...(options.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: options.maxBytesPerPartition } : {}),
    ...(options.minBytes !== undefined ? { minBytes: options.minBytes, maxWaitTimeInMs: 250 } : {}),
    onBatch,
    onAssign: async (assigned: readonly TopicPartition[]) => {
      const stored = await storedOffsets(rt, checkpoint);
      const seeks: (TopicPartition & { offset: string })[] = [];
      for (const tp of assigned) {
        const offset = stored.get(`${tp.topic}/${tp.partition}`) ?? (await low(tp.topic, tp.partition));
        seeks.push({ ...tp, offset });
      }
      return seeks;
    },
  });
}

/** Records between a checkpoint and the end of its topics (sum over partitions). */
export async function projectionLag(rt: Runtime, checkpoint: string, topics: readonly AnyTopicName[]): Promise<number> {
  const stored = await storedOffsets(rt, checkpoint);
  let lag = 0n;
  for (const topic of topics) {
    for (const o of await rt.kafka.topicOffsets(topic)) {
      const next = BigInt(stored.get(`${topic}/${o.partition}`) ?? o.low);
      if (BigInt(o.high) > next) lag += BigInt(o.high) - next;
    }
  }
  return Number(lag);
}

export interface BuildProgress {
  readonly version: ProjectionVersion;
  readonly applied: number;
  readonly lag: number;
  readonly eventsPerSecond: number;
  /** loading: facts only (bulk); finishing: deriving the read models once; live: batch by batch. */
  readonly phase: 'loading' | 'finishing' | 'live';
}

/**
 * Binds a versioned projection to a version being built: while the version is loading, batches go
 * to the bulk load; once it is live, to `apply`. The check and the batch share one transaction and
 * the lock the finish takes, so whichever process finishes, every record lands on one side of it.
 */
function buildingProjection<T extends AnyTopicName>(def: VersionedProjection<T>, version: ProjectionVersion): Projection<T> {
  const live = def.forSchema(version.schema);
  const bulk = def.bulk?.(version.schema);
  if (!bulk || version.phase === 'live') return live;
  let loading = true;
  return {
    name: live.name,
    topics: live.topics,
    async apply(client, records, ctx) {
      if (loading) loading = await isLoading(client, version.projection, version.version);
      if (loading) await bulk.load(client, records);
      else await live.apply(client, records, ctx);
    },
  };
}

/** The end offsets of the topics now: a bulk load has caught up when its checkpoints reach them. */
async function endOffsets(rt: Runtime, topics: readonly AnyTopicName[]): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const topic of topics) for (const o of await rt.kafka.topicOffsets(topic)) out.set(`${topic}/${o.partition}`, BigInt(o.high));
  return out;
}

async function reached(rt: Runtime, checkpoint: string, targets: Map<string, bigint>, low: Map<string, bigint>): Promise<boolean> {
  const stored = await storedOffsets(rt, checkpoint);
  for (const [key, target] of targets) {
    const at = stored.get(key);
    if ((at === undefined ? (low.get(key) ?? 0n) : BigInt(at)) < target) return false;
  }
  return true;
}

/**
 * Builds a new version of a projection from the beginning of its topics while the active version
 * keeps serving, and (unless `until` is given) activates it once it has caught up: the analytics
 * views switch in one transaction. Running processes notice and continue on the new version.
 *
 * A projection with a bulk path loads its facts first and derives its read models once (see
 * BulkLoad). A rebuild that was killed is continued: its version, checkpoints and phase are in
 * Postgres, so the next `buildVersion` (this process or another) picks them up where they were.
 */
export async function buildVersion<T extends AnyTopicName>(
  rt: Runtime,
  def: VersionedProjection<T>,
  options: {
    until?: Date;
    activate?: boolean;
    maxLag?: number;
    /** A new version even when one with this revision is still building (default: continue it). */
    fresh?: boolean;
    /** Build (or bring up to date) a side version with these validated settings; never activated. */
    side?: Record<string, unknown>;
    /** Bring this existing version up to date (then activate it, unless `activate` is false). */
    existing?: ProjectionVersion;
    onVersion?: (version: ProjectionVersion, resumed: boolean) => void;
    onProgress?: (p: BuildProgress) => void;
  } = {},
): Promise<ProjectionVersion> {
  const bulk = def.bulk !== undefined;
  const chosen = options.existing
    ? { version: options.existing, resumed: true }
    : options.side
      ? await resumeOrCreateSideVersion(rt.db, def, options.side, { bulk })
      : options.until || options.fresh
        ? { version: await createVersion(rt.db, def, { ...(options.until ? { until: options.until } : {}), bulk }), resumed: false }
        : await resumeOrCreateVersion(rt.db, def, { bulk });
  let version = chosen.version;
  options.onVersion?.(version, chosen.resumed);
  const checkpoint = checkpointName(version);
  const log = rt.log.child({ projection: checkpoint });
  let applied = 0;
  const started = Date.now();
  const targets = await endOffsets(rt, def.topics);
  const low = new Map<string, bigint>();
  for (const topic of def.topics) for (const o of await rt.kafka.topicOffsets(topic)) low.set(`${topic}/${o.partition}`, BigInt(o.low));
  let phase: BuildProgress['phase'] = version.phase;
  const consumer = await runProjection(rt, buildingProjection(def, version), {
    checkpoint,
    group: groupName(version),
    ...(phase === 'loading' ? { partitionsConsumedConcurrently: 3 } : {}),
    ...(options.until ? { until: options.until.getTime() } : {}),
    onCommitted: (info) => {
      applied += info.applied;
    },
  });
  // A new version's tables start empty, and the planner keeps treating them as tiny until they
  // are analyzed: per-batch lookups then scan whole tables, and a rebuild slows down as it grows.
  // Analyze each time the applied count doubles (O(log n) times, O(n) work in all).
  let analyzedAt = 1000;
  const analyze = async (): Promise<void> => {
    if (applied < analyzedAt) return;
    analyzedAt = applied * 2;
    const tables = await rt.db.query<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1', [version.schema]);
    for (const t of tables.rows) await rt.db.query(`ANALYZE ${version.schema}.${t.tablename}`);
  };
  const report = async (): Promise<number> => {
    await analyze();
    const lag = await projectionLag(rt, checkpoint, def.topics);
    const seconds = Math.max(0.001, (Date.now() - started) / 1000);
    options.onProgress?.({ version, applied, lag, eventsPerSecond: applied / seconds, phase });
    return lag;
  };
  try {
    while (phase === 'loading') {
      await report();
      if (await reached(rt, checkpoint, targets, low)) {
        phase = 'finishing';
        await report();
        const loadedAt = Date.now();
        const loader = def.bulk?.(version.schema);
        const finished = loader ? await finishLoading(rt.db, def, version.version, (client) => loader.finish(client, log)) : false;
        log.info({ applied, finishMs: Date.now() - loadedAt, finishedHere: finished }, 'bulk load finished');
        phase = 'live';
        version = { ...version, phase: 'live' };
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    for (;;) {
      const lag = await report();
      if (lag <= (options.until ? 0 : (options.maxLag ?? 0))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await consumer.stop();
  }
  if (options.until || options.side || options.activate === false) return version;
  return activateVersion(rt.db, def, version.version);
}

/**
 * Runs a versioned projection for as long as the process lives: consumes into the active version,
 * switches when another version becomes active (a replay finished), and, when this code's revision
 * differs from the active version's, rebuilds into a new version first — the old one keeps serving
 * until the new one has caught up.
 */
export async function runVersionedProjection<T extends AnyTopicName>(rt: Runtime, def: VersionedProjection<T>, options: { pollMs?: number } = {}): Promise<{ stop(): Promise<void> }> {
  const log = rt.log.child({ projection: def.name });
  let current: { version: ProjectionVersion; consumer: RunningConsumer } | null = null;
  let stopped = false;
  let building: Promise<unknown> | null = null;

  async function follow(version: ProjectionVersion): Promise<void> {
    if (current?.version.version === version.version) return;
    if (current) await current.consumer.stop();
    const consumer = await runProjection(rt, def.forSchema(version.schema), { checkpoint: checkpointName(version), group: groupName(version), minBytes: ANALYTICS_FETCH_BYTES });
    current = { version, consumer };
    log.info({ version: version.version, schema: version.schema }, 'projecting into version');
  }

  async function tick(): Promise<void> {
    const active = (await activeVersion(rt.db, def.name)) ?? (await ensureActive(rt.db, def));
    if (active.revision !== def.revision) {
      if (!building) {
        log.warn({ active: active.version, activeRevision: active.revision, revision: def.revision }, 'projection definition changed: rebuilding into a new version');
        building = buildVersion(rt, def, { maxLag: 100 })
          .catch((err: unknown) => log.error({ err: errorMessage(err) }, 'rebuild failed'))
          .finally(() => {
            building = null;
          });
      }
      return;
    }
    await follow(active);
  }

  await tick();
  const timer = setInterval(() => {
    if (!stopped) tick().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'checking the active version failed'));
  }, options.pollMs ?? 5000);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (current) await current.consumer.stop();
    },
  };
}
