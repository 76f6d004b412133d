/**
 * Runs generated hostile requests (requests.ts) against a real in-process Eventline app on the real
 * stack, and reports what must hold afterwards: only 4xx answers, no record appended to any topic,
 * metric series bounded whatever the number of requests, the process healthy, the heap back where
 * it started once garbage is collected, and nothing logged at the error level.
 *
 * Used by `npm run fuzz` (test/fuzz/main.ts, 10,000 requests) and by the bounded run inside
 * `npm test` (test/fuzz.e2e.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { createLogger } from '../../lib/log.ts';
import { Runtime } from '../../lib/runtime.ts';
import { Names, type AnyTopicName } from '../../lib/topics.ts';
import { openapiDocument } from '../../producers/http/openapi.ts';
import { ApiKeys } from '../../producers/keys/store.ts';
import { startApp, type RunningApp } from '../support/app.ts';
import { createTestEnv, type TestEnv } from '../support/env.ts';
import { providerEnv, sendgridPrivateKey, stripeSecret, twilioAuthToken } from '../support/providers.ts';
import { documentedRoutes, fuzzCases, type Body, type FuzzCase, type FuzzTarget } from './requests.ts';

/** The heap after the run, once garbage is collected, may exceed the heap before by this fraction. */
export const HEAP_GROWTH_LIMIT = 0.1;
/**
 * New metric series over the whole run, warm-up included. Every label is bounded (route patterns,
 * methods, statuses, rejection reasons), so the count saturates after a few hundred requests
 * whatever the total; a label taken from the request (a path) would add one per distinct request.
 */
export const MAX_NEW_SERIES = 400;
/** Route labels beyond the documented route templates (`unmatched`, /favicon.ico, …). */
export const EXTRA_ROUTE_LABELS = 5;

export interface FuzzEnvironment {
  readonly t: TestEnv;
  readonly rt: Runtime;
  readonly app: RunningApp;
  readonly target: FuzzTarget;
  /** Error- and fatal-level log lines the app wrote, as `msg: err`. */
  readonly errorLogs: string[];
  close(): Promise<void>;
}

/** A fresh namespace and database, every topic and schema, keys of each scope, and the app, logging into memory. */
export async function openFuzzEnvironment(label: string): Promise<FuzzEnvironment> {
  const bodyLimitBytes = 16 * 1024;
  const t = await createTestEnv(label, { ...providerEnv, EVENTLINE_BODY_LIMIT_BYTES: String(bodyLimitBytes), EVENTLINE_MASTER_KEY: randomBytes(32).toString('base64') });
  const errorLogs: string[] = [];
  let rt: Runtime | null = null;
  try {
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const store = new ApiKeys(t.rt.db, []);
    const [publish, read, preferences, admin, revoked] = await Promise.all([
      store.create('fuzz-publish', ['publish']),
      store.create('fuzz-read', ['read']),
      store.create('fuzz-preferences', ['preferences']),
      store.create('fuzz-admin', ['admin']),
      store.create('fuzz-revoked', ['admin']),
    ]);
    await store.revoke(revoked.id);
    const sink = {
      write(line: string) {
        const entry = JSON.parse(line) as { level: string; msg: string; err?: unknown };
        if (entry.level === 'error' || entry.level === 'fatal') errorLogs.push(`${entry.msg}: ${String(entry.err ?? '').split('\n')[0]}`);
      },
    };
    rt = new Runtime(t.config, createLogger({ ...t.config, logLevel: 'warn' }, sink));
    const app = await startApp(rt);
    const target: FuzzTarget = {
      publicUrl: t.config.http.publicUrl,
      bodyLimitBytes,
      toleranceSeconds: t.config.http.webhookToleranceSeconds,
      keys: { publish: publish.key, read: read.key, preferences: preferences.key, admin: admin.key, revoked: revoked.key },
      stripeSecret,
      sendgridKey: sendgridPrivateKey,
      twilioToken: twilioAuthToken,
      routes: documentedRoutes(openapiDocument() as { paths: Record<string, Record<string, unknown>> }),
    };
    const running = rt;
    return {
      t,
      rt,
      app,
      target,
      errorLogs,
      async close() {
        await app.close();
        await running.close();
        await t.cleanup();
      },
    };
  } catch (err) {
    await rt?.close();
    await t.cleanup();
    throw err;
  }
}

export interface FuzzOptions {
  readonly requests: number;
  readonly warmup: number;
  readonly seed: number;
  readonly concurrency: number;
}

export interface Failure {
  readonly category: string;
  readonly request: string;
  readonly answer: string;
}

export interface FuzzReport {
  readonly options: FuzzOptions;
  readonly durationMs: number;
  readonly sent: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly byCategory: Readonly<Record<string, number>>;
  readonly failures: readonly Failure[];
  readonly failureCount: number;
  readonly gcForced: boolean;
  /** Before the warm-up, for the record; the bound applies from after it. */
  readonly heapInitial: number;
  readonly heapBefore: number;
  readonly heapAfter: number;
  readonly series: { readonly initial: number; readonly beforeRun: number; readonly after: number };
  readonly routeLabels: readonly string[];
  readonly routeLabelBound: number;
  readonly topicsBefore: Readonly<Record<string, number>>;
  readonly topicsAfter: Readonly<Record<string, number>>;
  readonly health: { readonly healthz: number; readonly readyz: number };
  readonly errorLogs: readonly string[];
}

type Outcome = { readonly status: number; readonly detail: string } | { readonly status: 'error'; readonly detail: string };

function materialize(body: Body): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(body.length, body.fill);
}

function sendHttp(host: string, port: number, agent: Agent, c: Extract<FuzzCase, { kind: 'http' }>): Promise<Outcome> {
  return new Promise((resolve) => {
    const body = c.body === undefined ? undefined : materialize(c.body);
    let req;
    try {
      req = request({ host, port, agent, method: c.method, path: c.path, headers: { ...c.headers, ...(body ? { 'content-length': String(body.length) } : {}) }, timeout: 20_000 });
    } catch (err) {
      resolve({ status: 'error', detail: `not sent: ${(err as Error).message}` });
      return;
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        if (size < 600) chunks.push(d);
        size += d.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, detail: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
      res.on('error', (err) => resolve({ status: 'error', detail: `while reading the answer: ${err.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (err) => resolve({ status: 'error', detail: err.message }));
    req.end(body);
  });
}

function sendRaw(host: string, port: number, bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let received = '';
    socket.setTimeout(20_000, () => socket.destroy(new Error('no answer within 20 s')));
    socket.on('data', (d: Buffer) => {
      if (received.length < 600) received += d.toString('latin1');
    });
    socket.on('close', () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve(m ? { status: Number(m[1]), detail: received.split('\r\n')[0] ?? '' } : { status: 'error', detail: `connection closed without an answer${received ? `: ${received.slice(0, 80)}` : ''}` });
    });
    socket.on('error', () => undefined); // 'close' follows and decides
    socket.end(bytes);
  });
}

function describe(c: FuzzCase): string {
  if (c.kind === 'raw') return `raw ${JSON.stringify(c.bytes.toString('latin1').slice(0, 100))}`;
  const body = c.body === undefined ? '' : Buffer.isBuffer(c.body) ? ` body ${JSON.stringify(c.body.toString('latin1').slice(0, 120))}` : ` body ${c.body.length} bytes of ${String.fromCharCode(c.body.fill)}`;
  return `${c.method} ${c.path.slice(0, 200)} headers ${JSON.stringify(c.headers).slice(0, 200)}${body}`;
}

/** `count` cases from `arbitrary`, generated a batch at a time just before they are sent (timestamps stay fresh). */
function* cases(arbitrary: fc.Arbitrary<FuzzCase>, count: number, seed: number): Generator<FuzzCase> {
  const batch = 200;
  for (let i = 0; i * batch < count; i++) yield* fc.sample(arbitrary, { numRuns: Math.min(batch, count - i * batch), seed: (seed + i) | 0 });
}

interface Tally {
  sent: number;
  byStatus: Record<string, number>;
  byCategory: Record<string, number>;
  failures: Failure[];
  failureCount: number;
}

async function send(env: FuzzEnvironment, all: Iterable<FuzzCase>, concurrency: number, tally: Tally): Promise<void> {
  const { hostname, port } = new URL(env.app.url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const iterator = all[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      const c = next.value;
      const outcome = c.kind === 'raw' ? await sendRaw(hostname, Number(port), c.bytes) : await sendHttp(hostname, Number(port), agent, c);
      tally.sent++;
      tally.byStatus[String(outcome.status)] = (tally.byStatus[String(outcome.status)] ?? 0) + 1;
      tally.byCategory[c.category] = (tally.byCategory[c.category] ?? 0) + 1;
      if (outcome.status === 'error' || outcome.status < 400 || outcome.status >= 500) {
        tally.failureCount++;
        if (tally.failures.length < 25) tally.failures.push({ category: c.category, request: describe(c), answer: `${outcome.status} ${outcome.detail}` });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
}

/** A full garbage collection: `global.gc` under --expose-gc, else the same function fetched through V8's flags. */
function garbageCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

async function settledHeap(gc: (() => void) | null): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    // Let finalizers and closed sockets' callbacks run between collections.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

/** Metric series (a histogram's buckets, sum and count are one series) and the values of every `route` label of the HTTP metrics. */
async function metricSeries(url: string): Promise<{ series: Set<string>; routes: Set<string> }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const histograms = new Set([...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1]));
  const series = new Set<string>();
  const routes = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+\S+/.exec(line);
    if (!m?.[1]) continue;
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    const name = histograms.has(family) ? family : m[1];
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].filter((l) => l[1] !== 'le');
    series.add(`${name}{${labels.map((l) => `${l[1]}=${l[2]}`).join(',')}}`);
    if (name.startsWith('eventline_http_request')) for (const l of labels) if (l[1] === 'route' && l[2] !== undefined) routes.add(l[2]);
  }
  return { series, routes };
}

/** Record counts of every topic of the namespace (a topic created by a request would show up too). */
export async function topicCounts(t: TestEnv): Promise<Record<string, number>> {
  const names = new Names(t.config.namespace);
  const logical = (await t.rt.kafka.listTopics()).map((p) => names.logicalTopic(p) ?? p).sort();
  return Object.fromEntries(await Promise.all(logical.map(async (n) => [n, await t.rt.kafka.recordCount(n as AnyTopicName)] as const)));
}

export async function runFuzz(env: FuzzEnvironment, options: FuzzOptions): Promise<FuzzReport> {
  const arbitrary = fuzzCases(env.target);
  const gc = garbageCollector();
  const initial = await metricSeries(env.app.url);
  const topicsBefore = await topicCounts(env.t);
  const tally: Tally = { sent: 0, byStatus: {}, byCategory: {}, failures: [], failureCount: 0 };
  const heapInitial = await settledHeap(gc);
  // Warm-up: every code path is loaded, compiled and its caches filled before the heap is measured.
  const warm: Tally = { sent: 0, byStatus: {}, byCategory: {}, failures: [], failureCount: 0 };
  await send(env, cases(arbitrary, options.warmup, options.seed ^ 0x5eed), options.concurrency, warm);
  const beforeRun = await metricSeries(env.app.url);
  const heapBefore = await settledHeap(gc);
  const started = Date.now();
  await send(env, cases(arbitrary, options.requests, options.seed), options.concurrency, tally);
  const durationMs = Date.now() - started;
  const heapAfter = await settledHeap(gc);
  const afterwards = await metricSeries(env.app.url);
  const topicsAfter = await topicCounts(env.t);
  const health = { healthz: (await fetch(`${env.app.url}/healthz`)).status, readyz: (await fetch(`${env.app.url}/readyz`)).status };
  const templates = new Set(env.target.routes.map((r) => r.template)).size;
  return {
    options,
    durationMs,
    sent: tally.sent,
    byStatus: tally.byStatus,
    byCategory: tally.byCategory,
    failures: [...warm.failures, ...tally.failures].slice(0, 25),
    failureCount: warm.failureCount + tally.failureCount,
    gcForced: gc !== null,
    heapInitial,
    heapBefore,
    heapAfter,
    series: { initial: initial.series.size, beforeRun: beforeRun.series.size, after: afterwards.series.size },
    routeLabels: [...afterwards.routes].sort(),
    routeLabelBound: templates + EXTRA_ROUTE_LABELS,
    topicsBefore,
    topicsAfter,
    health,
    errorLogs: [...env.errorLogs],
  };
}

/** What went wrong, one sentence each; empty when the run proves everything it should. */
export function fuzzProblems(report: FuzzReport, heapGrowthLimit = HEAP_GROWTH_LIMIT): string[] {
  const problems: string[] = [];
  if (report.failureCount > 0) problems.push(`${report.failureCount} answers were not 4xx, e.g. ${report.failures.slice(0, 3).map((f) => `[${f.category}] ${f.request} → ${f.answer}`).join(' | ')}`);
  if (JSON.stringify(report.topicsAfter) !== JSON.stringify(report.topicsBefore)) problems.push(`topics changed: before ${JSON.stringify(report.topicsBefore)}, after ${JSON.stringify(report.topicsAfter)}`);
  const grown = report.series.after - report.series.initial;
  if (grown > MAX_NEW_SERIES) problems.push(`${grown} new metric series (bound ${MAX_NEW_SERIES})`);
  if (report.routeLabels.length > report.routeLabelBound) problems.push(`${report.routeLabels.length} route labels (bound ${report.routeLabelBound}): ${report.routeLabels.slice(0, 20).join(' ')}`);
  const leaked = report.routeLabels.filter((l) => l.includes('%') || l.includes('fz'));
  if (leaked.length > 0) problems.push(`route labels carry request paths: ${leaked.slice(0, 5).join(' ')}`);
  if (report.health.healthz !== 200 || report.health.readyz !== 200) problems.push(`unhealthy afterwards: /healthz ${report.health.healthz}, /readyz ${report.health.readyz}`);
  if (report.heapAfter > report.heapBefore * (1 + heapGrowthLimit)) {
    problems.push(`heap grew from ${mb(report.heapBefore)} to ${mb(report.heapAfter)} (limit +${Math.round(heapGrowthLimit * 100)} %)`);
  }
  if (report.errorLogs.length > 0) problems.push(`${report.errorLogs.length} error-level log lines, e.g. ${report.errorLogs.slice(0, 3).join(' | ')}`);
  return problems;
}

function mb(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

function rows(counts: Readonly<Record<string, number>>): string[] {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `    ${k.padEnd(22)} ${n.toLocaleString('en-US').padStart(7)}`);
}

export function formatReport(report: FuzzReport): string {
  const { options } = report;
  const growth = ((report.heapAfter / report.heapBefore - 1) * 100).toFixed(1);
  const appended = Object.keys(report.topicsAfter).reduce((n, k) => n + (report.topicsAfter[k] ?? 0) - (report.topicsBefore[k] ?? 0), 0);
  return [
    `fuzz: seed ${options.seed}, ${report.sent.toLocaleString('en-US')} requests after a warm-up of ${options.warmup.toLocaleString('en-US')}, ${options.concurrency} at a time, ${(report.durationMs / 1000).toFixed(1)} s (${Math.round(report.sent / (report.durationMs / 1000))}/s)`,
    '  answers by status:',
    ...rows(report.byStatus),
    '  requests by what is wrong with them:',
    ...rows(report.byCategory),
    `  heap used${report.gcForced ? ' after a forced full GC' : ' (no GC could be forced)'}: before ${mb(report.heapBefore)}, after ${mb(report.heapAfter)} (${Number(growth) >= 0 ? '+' : ''}${growth} %, limit +${Math.round(HEAP_GROWTH_LIMIT * 100)} %); ${mb(report.heapInitial)} before the warm-up`,
    `  metric series: ${report.series.initial} at start, ${report.series.beforeRun} after the warm-up, ${report.series.after} at the end (bound: ${MAX_NEW_SERIES} new); route labels ${report.routeLabels.length} (bound ${report.routeLabelBound})`,
    `  topics: ${Object.keys(report.topicsAfter).length}, ${appended} records appended (${Object.keys(report.topicsAfter).length === Object.keys(report.topicsBefore).length ? 'no topic created' : 'topics created!'})`,
    `  afterwards: /healthz ${report.health.healthz}, /readyz ${report.health.readyz}; error-level log lines ${report.errorLogs.length}`,
    ...(report.failures.length > 0 ? ['  answers that were not 4xx:', ...report.failures.map((f) => `    [${f.category}] ${f.request}\n      → ${f.answer}`)] : []),
  ].join('\n');
}
