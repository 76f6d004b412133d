/**
 * Replay throughput of every versioned projection together, at several history sizes in one run:
 * a realistic Stripe history (and the records the processors would have written from it) is
 * appended, then every projection is rebuilt into a fresh version at once, exactly as
 * `eventline replay` does (bulk load, one finishing derivation, then batch by batch).
 *
 * Compared, per size, with Kafka's ConsumerPerformance reading the same topics and with a plain
 * batched Postgres upsert of the same rows (every row the rebuild leaves in its tables, upserted in
 * 1,000-row batches into copies of those tables with the same keys and indexes). The ratio that
 * matters is against the lower of the two, and it must not fall as the history grows.
 */
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import type { Outgoing } from '../lib/kafka/index.ts';
import { buildVersion, type BuildProgress } from '../lib/projection.ts';
import { listVersions, type ProjectionVersion } from '../lib/projection-versions.ts';
import type { AnyTopicName } from '../lib/topics.ts';
import { versionedProjections } from '../projections/index.ts';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { stripeRecords } from '../test/support/stripe-records.ts';
import { recordCount } from '../test/support/consume.ts';
import { runEventline } from '../test/support/process.ts';
import { processorRecords } from './processor-records.ts';
import { lineChart } from './plot.ts';
import { dashboardData } from '../web/data.ts';
import { benchEnv, kafkaConsumerPerf, machine, percentile, saveResult, saveFile, type BenchEnv } from './support.ts';

/** Customers per generated chunk: each chunk is a time-sorted history of its own (see docs/performance.md). */
const CHUNK_CUSTOMERS = 8000;

interface SizeResult {
  readonly stripeEvents: number;
  readonly records: number;
  readonly customers: number;
  readonly appendSeconds: number;
  readonly replaySeconds: number;
  readonly loadSeconds: number;
  readonly finishSeconds: number;
  readonly recordsPerSec: number;
  readonly rows: number;
  readonly kafkaConsumerPerf: { readonly recordsPerSec: number; readonly seconds: number };
  readonly postgresUpsert: { readonly rowsPerSec: number; readonly seconds: number };
  readonly ratioToKafkaConsumer: number;
  readonly ratioToPostgresUpsert: number;
  readonly ratioToLower: number;
  readonly tables: Record<string, number>;
  /** Seconds until each projection's version had caught up (they rebuild side by side). */
  readonly perProjection: Record<string, number>;
  /** The same rebuild by N `eventline replay all` processes sharing each version's consumer group. */
  /** p95 milliseconds of each analytics view and of the dashboard's data, with this dataset loaded. */
  readonly analyticsP95Ms: Record<string, number>;
  /** EXPLAIN ANALYZE of each dashboard query slower than 20 ms at p95: where its time goes. */
  readonly slowPlans: Record<string, string>;
  readonly scaleOut: readonly { readonly processes: number; readonly seconds: number; readonly ratioToOneProcess: number; readonly identical: boolean; readonly differing: readonly string[] }[];
}

/**
 * Query latency with the dataset loaded: every analytics view read whole (up to 1,000 rows) and
 * counted, and the dashboard's data (the queries behind GET /v1/dashboard), 20 times each; p95.
 */
async function analyticsLatency(b: BenchEnv): Promise<{ p95: Record<string, number>; slowPlans: Record<string, string> }> {
  const views = (await b.rt.db.query<{ table_name: string }>("SELECT table_name FROM information_schema.views WHERE table_schema = 'analytics' ORDER BY table_name")).rows.map((r) => r.table_name);
  const queries: [string, () => Promise<unknown>][] = [];
  for (const v of views) {
    queries.push([`${v} (rows)`, () => b.rt.db.query(`SELECT * FROM analytics.${v} LIMIT 1000`)]);
    queries.push([`${v} (count)`, () => b.rt.db.query(`SELECT count(*) FROM analytics.${v}`)]);
  }
  const currencies = (await b.rt.db.query<{ currency: string }>('SELECT DISTINCT currency FROM analytics.customer_mrr')).rows.map((r) => r.currency);
  for (const c of currencies) queries.push([`dashboard (${c})`, () => dashboardData(b.rt.db, c)]);
  // Each of the dashboard's queries on its own (the first line of its SQL names it): what a slow
  // dashboard is made of.
  const timed = new Map<string, number[]>();
  const statements = new Map<string, { sql: string; values?: unknown[] }>();
  const timing = new Proxy(b.rt.db, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
      return async (sql: string, values?: unknown[]) => {
        const started = performance.now();
        const res = await target.query(sql, values);
        const name = `dashboard query: ${sql.split('\n')[0]?.trim().slice(0, 70)}`;
        timed.set(name, [...(timed.get(name) ?? []), performance.now() - started]);
        statements.set(name, { sql, values });
        return res;
      };
    },
  });
  for (let i = 0; i < 21; i++) await dashboardData(timing, currencies[0]);
  const out: Record<string, number> = {};
  for (const [name, run] of queries) {
    await run();
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await run();
      times.push(performance.now() - started);
    }
    out[name] = +percentile(times.sort((a, c) => a - c), 95).toFixed(1);
  }
  const slowPlans: Record<string, string> = {};
  for (const [name, times] of timed) {
    out[name] = +percentile(times.slice(1).sort((a, c) => a - c), 95).toFixed(1);
    const statement = statements.get(name);
    if (statement && (out[name] ?? 0) > 20) {
      const plan = await b.rt.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.sql}`, statement.values);
      slowPlans[name] = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    }
  }
  return { p95: out, slowPlans };
}

/** Each table of a version as one digest of its rows in a fixed order. */
async function digests(b: BenchEnv, versions: readonly ProjectionVersion[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of versions) {
    for (const { tablename } of (await b.rt.db.query<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename', [v.schema])).rows) {
      const res = await b.rt.db.query<{ d: string | null }>(`SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS d FROM ${v.schema}.${tablename} t`);
      out[`${v.projection}.${tablename}`] = res.rows[0]?.d ?? '';
    }
  }
  return out;
}

/** Rebuilds every projection again with `processes` concurrent `eventline replay all`; their time and whether the tables came out identical. */
async function replayByProcesses(b: BenchEnv, processes: number, reference: Record<string, string>): Promise<{ seconds: number; identical: boolean; differing: string[] }> {
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: processes }, () => runEventline(b.env, ['replay', 'all'])));
  const seconds = (performance.now() - started) / 1000;
  for (const run of runs) if (run.code !== 0) throw new Error(`eventline replay all exited ${run.code}: ${run.stderr.slice(-500)}`);
  const active = (await listVersions(b.rt.db)).filter((v) => v.status === 'active');
  const mine = await digests(b, active);
  const differing = Object.keys(reference).filter((table) => mine[table] !== reference[table]);
  return { seconds, identical: differing.length === 0 && Object.keys(mine).length > 0, differing };
}

async function appendDataset(b: BenchEnv, events: number): Promise<{ stripeEvents: number; customers: number }> {
  const appender = await b.rt.kafka.appender();
  const from = Date.UTC(2025, 0, 1) / 1000;
  const to = Date.UTC(2026, 10, 1) / 1000;
  let appended = 0;
  let customers = 0;
  for (let chunk = 0; appended < events; chunk++) {
    const history = stripeHistory({ customers: CHUNK_CUSTOMERS, seed: 2026 + chunk, from, to, prefix: `c${chunk}x` }).slice(0, events - appended);
    customers += CHUNK_CUSTOMERS;
    for (let i = 0; i < history.length; i += 5000) await appender.append('stripe.events.v1', stripeRecords(history.slice(i, i + 5000)));
    const derived = processorRecords(history, { seed: 2026 + chunk, receivedAt: Date.now() });
    for (const [topic, records] of Object.entries(derived) as [AnyTopicName, Outgoing<AnyTopicName>[]][]) {
      for (let i = 0; i < records.length; i += 5000) await appender.append(topic, records.slice(i, i + 5000));
    }
    appended += history.length;
  }
  return { stripeEvents: appended, customers };
}

/** Every row of a version's tables, upserted again in 1,000-row batches into copies with the same keys and indexes. */
async function postgresUpsert(b: BenchEnv, versions: readonly ProjectionVersion[]): Promise<{ rows: number; seconds: number; tables: Record<string, number> }> {
  let rows = 0;
  let seconds = 0;
  const tables: Record<string, number> = {};
  await b.rt.db.query('CREATE SCHEMA IF NOT EXISTS bench_copy');
  for (const v of versions) {
    const names = (await b.rt.db.query<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename', [v.schema])).rows.map((r) => r.tablename);
    for (const table of names) {
      const copy = `bench_copy.${v.schema}_${table}`;
      await b.rt.db.query(`CREATE TABLE ${copy} (LIKE ${v.schema}.${table} INCLUDING ALL)`);
      const keyed = (await b.rt.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_index WHERE indrelid = '${copy}'::regclass AND indisunique`)).rows[0]?.n ?? 0;
      const conflict = keyed > 0 ? 'ON CONFLICT DO NOTHING' : '';
      // Read through a cursor (one pass; keyset or OFFSET pages would rescan), upsert on another connection.
      await b.rt.db.transaction(async (reader) => {
        await reader.query(`DECLARE rows NO SCROLL CURSOR FOR SELECT to_json(t)::text AS j FROM ${v.schema}.${table} t`);
        for (;;) {
          const page = await reader.query<{ j: string }>('FETCH 1000 FROM rows');
          if (page.rows.length === 0) break;
          const json = `[${page.rows.map((r) => r.j).join(',')}]`;
          const started = performance.now();
          const res = await b.rt.db.transaction((c) => c.query(`INSERT INTO ${copy} SELECT * FROM json_populate_recordset(NULL::${copy}, $1::json) ${conflict}`, [json]));
          seconds += (performance.now() - started) / 1000;
          rows += res.rowCount ?? 0;
          tables[`${v.projection}.${table}`] = (tables[`${v.projection}.${table}`] ?? 0) + (res.rowCount ?? 0);
        }
      });
    }
  }
  await b.rt.db.query('DROP SCHEMA bench_copy CASCADE');
  return { rows, seconds, tables };
}

async function runSize(events: number, processes: readonly number[]): Promise<SizeResult> {
  const b = await benchEnv('replay');
  try {
    await createTopics(b.rt.kafka);
    await registerSchemas(b.rt.kafka);
    const appendStarted = performance.now();
    const { stripeEvents, customers } = await appendDataset(b, events);
    const appendSeconds = (performance.now() - appendStarted) / 1000;
    const defs = Object.values(versionedProjections);
    const topics = [...new Set(defs.flatMap((d) => d.topics))];
    const counts = new Map<AnyTopicName, number>();
    for (const t of topics) counts.set(t, await recordCount(b.rt.kafka, t));
    const records = [...counts.values()].reduce((a, n) => a + n, 0);

    let loadedAt = 0;
    let liveAt = 0;
    const started = performance.now();
    const perProjection: Record<string, number> = {};
    const versions = await Promise.all(
      defs.map(async (def) => {
        const version = await buildVersion(b.rt, def, {
          onProgress: (p: BuildProgress) => {
            if (def.name !== 'mrr') return;
            if (p.phase === 'finishing' && loadedAt === 0) loadedAt = performance.now();
            if (p.phase === 'live' && liveAt === 0) liveAt = performance.now();
          },
        });
        perProjection[def.name] = +((performance.now() - started) / 1000).toFixed(1);
        return version;
      }),
    );
    const replaySeconds = (performance.now() - started) / 1000;

    // ConsumerPerformance reading every replayed topic at once: the time Kafka's own client needs.
    const pattern = topics.map((t) => b.rt.kafka.names.topic(t).replaceAll('.', '\\.')).join('|');
    const kafkaRate = kafkaConsumerPerf({ include: `^(${pattern})$` }, records).recordsPerSec;
    const kafkaSeconds = records / kafkaRate;
    const pg = await postgresUpsert(b, versions);
    const pgRate = pg.rows / pg.seconds;
    const { p95: analyticsP95Ms, slowPlans } = await analyticsLatency(b);
    const reference = await digests(b, versions);
    const scaleOut = [];
    // --processes 0 leaves the scale-out run out.
    for (const n of processes.filter((p) => p > 1)) {
      const r = await replayByProcesses(b, n, reference);
      scaleOut.push({ processes: n, seconds: +r.seconds.toFixed(1), ratioToOneProcess: +(replaySeconds / r.seconds).toFixed(2), identical: r.identical, differing: r.differing });
    }
    // Both ratios compare times for the same work: reading these records, writing these rows.
    const ratioToKafkaConsumer = kafkaSeconds / replaySeconds;
    const ratioToPostgresUpsert = pg.seconds / replaySeconds;
    return {
      stripeEvents,
      records,
      customers,
      appendSeconds: +appendSeconds.toFixed(1),
      replaySeconds: +replaySeconds.toFixed(1),
      loadSeconds: +(((loadedAt || performance.now()) - started) / 1000).toFixed(1),
      finishSeconds: +(((liveAt || loadedAt) - loadedAt) / 1000).toFixed(1),
      recordsPerSec: Math.round(records / replaySeconds),
      rows: pg.rows,
      kafkaConsumerPerf: { recordsPerSec: Math.round(kafkaRate), seconds: +kafkaSeconds.toFixed(1) },
      postgresUpsert: { rowsPerSec: Math.round(pgRate), seconds: +pg.seconds.toFixed(1) },
      ratioToKafkaConsumer: +ratioToKafkaConsumer.toFixed(3),
      ratioToPostgresUpsert: +ratioToPostgresUpsert.toFixed(3),
      // "The lower of" the two baselines is the slower one: the replay must reach half of it.
      ratioToLower: +Math.max(ratioToKafkaConsumer, ratioToPostgresUpsert).toFixed(3),
      tables: pg.tables,
      perProjection,
      analyticsP95Ms,
      slowPlans,
      scaleOut,
    };
  } finally {
    await b.cleanup();
  }
}

export async function projectionReplayBench(options: { sizes: readonly number[]; processes: readonly number[] }): Promise<void> {
  const results: SizeResult[] = [];
  for (const events of options.sizes) {
    const r = await runSize(events, options.processes);
    results.push(r);
    console.log(`\nreplay of every projection (${machine()}; ${r.stripeEvents} Stripe events, ${r.customers} customers, ${r.records} records in all topics)`);
    console.log(`  eventline replay        ${r.recordsPerSec} records/s   ${r.replaySeconds} s (mrr: load ${r.loadSeconds} s, finish ${r.finishSeconds} s; caught up after ${Object.entries(r.perProjection).map(([n, sec]) => `${n} ${sec} s`).join(', ')})`);
    console.log(`  kafka consumer perf     ${r.kafkaConsumerPerf.recordsPerSec} records/s   ${r.kafkaConsumerPerf.seconds} s   ratio ${r.ratioToKafkaConsumer}`);
    console.log(`  postgres upsert         ${r.postgresUpsert.rowsPerSec} rows/s   ${r.postgresUpsert.seconds} s for the same ${r.rows} rows   ratio ${r.ratioToPostgresUpsert}`);
    console.log(`  ratio to the lower      ${r.ratioToLower}`);
    const slowest = Object.entries(r.analyticsP95Ms).sort(([, a], [, c]) => c - a);
    console.log(`  analytics p95           slowest ${slowest.slice(0, 8).map(([q, ms]) => `${q} ${ms} ms`).join(', ')} (${slowest.length} queries)`);
    for (const [q, plan] of Object.entries(r.slowPlans)) console.log(`  plan of ${q}:\n${plan.replace(/^/gm, '      ')}`);
    for (const x of r.scaleOut) {
      console.log(`  ${x.processes} processes            ${x.seconds} s (${x.ratioToOneProcess} × one process), tables ${x.identical ? 'identical' : `DIFFERENT: ${x.differing.join(', ')}`}`);
      if (!x.identical) process.exitCode = 1;
    }
  }
  const plot = saveFile(
    'projection-replay.svg',
    lineChart({
      title: 'Replay of every projection: throughput against history size',
      xLabel: 'Stripe events in the history',
      yLabel: 'records per second',
      series: [
        { name: 'eventline replay', points: results.map((r) => [r.stripeEvents, r.recordsPerSec]) },
        { name: 'kafka ConsumerPerformance', points: results.map((r) => [r.stripeEvents, r.kafkaConsumerPerf.recordsPerSec]) },
        { name: 'postgres upsert (rows/s)', points: results.map((r) => [r.stripeEvents, r.postgresUpsert.rowsPerSec]) },
      ],
    }),
  );
  console.log(`\n  plot   ${plot}`);
  console.log(`  saved  ${saveResult('projection-replay', { machine: machine(), chunkCustomers: CHUNK_CUSTOMERS, sizes: results, plot })}`);
  const first = results[0];
  const last = results[results.length - 1];
  if (first && last && results.length > 1) console.log(`  ratio to the lower, smallest → largest history: ${first.ratioToLower} → ${last.ratioToLower}`);
}
