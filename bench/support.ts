/**
 * Shared benchmark plumbing: an isolated namespace and database, Kafka's own perf tools from the
 * same jars the local broker runs, percentiles, and a results file.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../lib/config.ts';
import { dropDatabase, ensureDatabase } from '../lib/db.ts';
import { createLogger } from '../lib/log.ts';
import { migrate, projectRoot } from '../lib/migrate.ts';
import { Runtime } from '../lib/runtime.ts';

export interface BenchEnv {
  readonly namespace: string;
  readonly env: Record<string, string>;
  readonly rt: Runtime;
  cleanup(): Promise<void>;
}

export async function benchEnv(label: string, extra: Record<string, string> = {}): Promise<BenchEnv> {
  const namespace = `bench-${label}-${randomBytes(3).toString('hex')}`;
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) base[k] = v;
  const db = new URL(base.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/eventline');
  db.pathname = `/eventline_${namespace.replace(/-/g, '_')}`;
  const env = { ...base, EVENTLINE_NAMESPACE: namespace, DATABASE_URL: db.toString(), LOG_LEVEL: 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1', EVENTLINE_MASTER_KEY: randomBytes(32).toString('base64'), ...extra };
  const config = loadConfig(env, `bench-${label}`);
  await ensureDatabase(config.database.url);
  const rt = new Runtime(config, createLogger(config));
  await migrate(rt.db, rt.log);
  return {
    namespace,
    env,
    rt,
    async cleanup() {
      try {
        await rt.kafka.deleteTopics((await rt.kafka.listTopics()).filter((t) => t.startsWith(`${namespace}.`)));
        for (const s of await rt.kafka.registry.subjects(`${namespace}.`)) await rt.kafka.registry.deleteSubject(s);
      } finally {
        await rt.close();
        await dropDatabase(config.database.url);
      }
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The node flags `npm start` gives a process running these components (infra/npm-start.sh). */
function eventlineNodeFlags(only: string): string[] {
  return only === 'http' ? [] : ['--max-semi-space-size=128'];
}

/** Starts `eventline run` as a separate process (the benchmark client must not share its event loop). */
export function startEventline(env: Record<string, string>, only: string, port: number): Promise<ChildProcess> {
  return startServerProcess('eventline', [join(projectRoot, 'cli', 'main.ts'), 'run', '--only', only, '--no-migrate'], env, port, false, eventlineNodeFlags(only));
}

/**
 * Starts Eventline as `npm start` does: the HTTP ingress in one process (V8's default young
 * generation) listening on `port`, and every consumer in a second one, at the lowest CPU priority
 * the host grants (infra/low-priority.sh: nice 19 and SCHED_IDLE) and with the consumers' young
 * generation (`consumers`: only these components in it, to split their cost).
 * Resolves once the HTTP process answers; the first is the ingress.
 */
export async function startEventlineAsNpmStart(env: Record<string, string>, port: number, consumers: string | null = null): Promise<[ChildProcess, ChildProcess]> {
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const workers = spawn('bash', [join(projectRoot, 'infra', 'low-priority.sh'), process.execPath, '--max-semi-space-size=128', ...flags, '--import', 'tsx', join(projectRoot, 'cli', 'main.ts'), 'run', ...(consumers === null ? ['--except', 'http'] : ['--only', consumers]), '--no-migrate'], {
    env: { ...env, PORT: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const http = await startEventline(env, 'http', port);
    return [http, workers];
  } catch (err) {
    workers.kill('SIGTERM');
    throw err;
  }
}

/**
 * Starts a Node entry point (with its arguments) as an HTTP server on `port`, with `nodeFlags`
 * (by default those npm start gives the consumers), and resolves once its /healthz answers. `ipc` opens a channel to it
 * (child.send / 'message').
 */
export async function startServerProcess(
  label: string,
  args: readonly string[],
  env: Record<string, string>,
  port: number,
  ipc = false,
  nodeFlags: readonly string[] = ['--max-semi-space-size=128'],
): Promise<ChildProcess> {
  // BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the Eventline process.
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeFlags, ...flags, '--import', 'tsx', ...args], {
    env: { ...env, PORT: String(port) },
    stdio: ipc ? ['ignore', 'ignore', 'inherit', 'ipc'] : ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return child;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${label} did not start within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function kafkaClasspath(): string {
  const file = readdirSync(join(projectRoot, '.infra')).find((f) => /^kafka-[0-9a-f]+\.classpath$/.test(f));
  if (!file) throw new Error('no Kafka classpath in .infra/; run infra/stack.sh up first');
  return readFileSync(join(projectRoot, '.infra', file), 'utf8').trim();
}

export interface ProducerPerf {
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly line: string;
}

/**
 * Kafka's ProducerPerformance with the same record count, size and acks as the scenario. By default
 * as fast as it can; `throughput` caps records per second, and the first `warmupRecords` are left
 * out of the figures (its steady-state line).
 */
export function kafkaProducerPerf(
  topic: string,
  records: number,
  recordSize: number,
  props: Record<string, string>,
  options: { throughput?: number; warmupRecords?: number } = {},
): ProducerPerf {
  const args = [
    '-Xmx512m',
    '-cp',
    kafkaClasspath(),
    `-Dlog4j2.configurationFile=${join(projectRoot, 'infra', 'kafka', 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${join(projectRoot, '.infra', 'logs')}`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--record-size',
    String(recordSize),
    '--throughput',
    String(options.throughput ?? -1),
    ...(options.warmupRecords ? ['--warmup-records', String(options.warmupRecords)] : []),
    '--producer-props',
    'bootstrap.servers=127.0.0.1:9092',
    ...Object.entries(props).map(([k, v]) => `${k}=${v}`),
  ];
  const out = execFileSync('java', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const line = out.trim().split('\n').filter((l) => l.includes('records sent')).pop() ?? '';
  const m = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\).*?([\d.]+) ms max latency, ([\d.]+) ms 50th, [\d.]+ ms 95th, ([\d.]+) ms 99th/.exec(line);
  if (!m) throw new Error(`unexpected ProducerPerformance output: ${out.slice(-500)}`);
  return { recordsPerSec: Number(m[1]), mbPerSec: Number(m[2]), maxMs: Number(m[3]), p50Ms: Number(m[4]), p99Ms: Number(m[5]), line };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function saveResult(name: string, result: object): string {
  const dir = join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ name, at: new Date().toISOString(), ...result }, null, 2)}\n`);
  return file;
}

export function machine(): string {
  const cpus = execFileSync('nproc', { encoding: 'utf8' }).trim();
  return `${cpus} cores, node ${process.version}`;
}

export interface ConsumerPerf {
  readonly recordsPerSec: number;
  readonly fetchRecordsPerSec: number;
  readonly line: string;
}

/** Kafka's ConsumerPerformance reading `records` records of a topic (or of the topics a regex matches) from the beginning. */
export function kafkaConsumerPerf(topic: string | { readonly include: string }, records: number): ConsumerPerf {
  const args = [
    '-Xmx512m',
    '-cp',
    kafkaClasspath(),
    `-Dlog4j2.configurationFile=${join(projectRoot, 'infra', 'kafka', 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${join(projectRoot, '.infra', 'logs')}`,
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    '127.0.0.1:9092',
    ...(typeof topic === 'string' ? ['--topic', topic] : ['--include', topic.include]),
    '--messages',
    String(records),
    '--group',
    `bench-perf-${randomBytes(3).toString('hex')}`,
    '--timeout',
    '60000',
  ];
  const out = execFileSync('java', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const lines = out.trim().split('\n');
  const header = lines.findIndex((l) => l.includes('nMsg.sec'));
  const names = (lines[header] ?? '').split(',').map((x) => x.trim());
  const values = (lines[header + 1] ?? '').split(',').map((x) => x.trim());
  const get = (name: string) => Number(values[names.indexOf(name)]);
  if (header < 0 || Number.isNaN(get('nMsg.sec'))) throw new Error(`unexpected ConsumerPerformance output: ${out.slice(-500)}`);
  return { recordsPerSec: get('nMsg.sec'), fetchRecordsPerSec: get('fetch.nMsg.sec'), line: lines[header + 1] ?? '' };
}

/** Writes a file (a plot) beside the JSON results; returns its path. */
export function saveFile(name: string, content: string): string {
  const dir = join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}
