/**
 * Signed Stripe webhooks per second, end to end: HTTP → Stripe-Signature check (stripe SDK) → Avro
 * → Kafka append with acks=all on an idempotent producer → 200. Eventline runs as its own process;
 * this process is the client. Compared with Kafka's ProducerPerformance writing the same number of
 * records of the same size with acks=all to a topic with the same partitions.
 */
import { Agent, request } from 'node:http';
import Stripe from 'stripe';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { event, invoice, stripeId, subscription, type ApiVersion } from '../cli/demo/stripe-objects.ts';
import { recordCount } from '../test/support/consume.ts';
import type { ChildProcess } from 'node:child_process';
import { benchEnv, freePort, kafkaProducerPerf, machine, percentile, saveResult, startEventline, type BenchEnv } from './support.ts';

/** The webhook secret the bench server is started with (STRIPE_WEBHOOK_SECRET). */
export const secret = 'whsec_bench_0123456789abcdefghijklmnopqrstuv';

/** The i-th of a realistic mix of Stripe events (subscription updated, invoice paid or failed) as JSON, ~1.4 KB. */
export function realisticEvent(i: number): string {
  const versions: ApiVersion[] = ['2024-06-20', '2025-03-31.basil', '2025-09-30.clover'];
  const v = versions[i % versions.length]!;
  const customer = `cus_bench${(i * 7919) % 2000}`;
  const created = Math.floor(Date.now() / 1000) - 60;
  const kind = i % 3;
  const object =
    kind === 0
      ? subscription(v, { id: `sub_bench${i % 2000}`, customer, status: 'active', items: [{ unitAmount: 2900, quantity: 1 + (i % 5) }, { unitAmount: 900, interval: 'year' }], created })
      : invoice(v, { id: stripeId('in'), customer, subscription: `sub_bench${i % 2000}`, amountDue: 2900, status: kind === 1 ? 'paid' : 'open', created });
  const type = kind === 0 ? 'customer.subscription.updated' : kind === 1 ? 'invoice.paid' : 'invoice.payment_failed';
  return JSON.stringify(event(v, { type, created, object }));
}

/** POSTs one signed webhook to /webhooks/stripe; resolves with the status code. */
export function post(agent: Agent, port: number, body: string, signature: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/webhooks/stripe', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'stripe-signature': signature } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Closed loop: `concurrency` connections, each sending its next webhook when the last is answered; connection k talks to ports[k mod n]. */
export async function drive(port: number | readonly number[], bodies: readonly string[], concurrency: number): Promise<{ seconds: number; latenciesMs: number[]; failures: number }> {
  const ports = typeof port === 'number' ? [port] : port;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const signatures = bodies.map((payload) => Stripe.webhooks.generateTestHeaderString({ payload, secret }));
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, k) => {
      const target = ports[k % ports.length] as number;
      while (next < bodies.length) {
        const i = next++;
        const t0 = performance.now();
        const status = await post(agent, target, bodies[i]!, signatures[i]!);
        latencies.push(performance.now() - t0);
        if (status !== 200) failures++;
      }
    }),
  );
  agent.destroy();
  return { seconds: (performance.now() - started) / 1000, latenciesMs: latencies.sort((a, b) => a - b), failures };
}

interface IngestRun {
  readonly processes: number;
  readonly webhooksPerSec: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly failures: number;
  readonly appended: number;
}

/**
 * Signed webhooks per second with `processes` Eventline HTTP processes sharing the topic (as a user
 * adds machines behind a load balancer; here the client spreads its connections over them).
 */
async function ingest(b: BenchEnv, processes: number, events: number, concurrency: number, offset: number): Promise<IngestRun> {
  const children: ChildProcess[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < processes; i++) {
      const port = await freePort();
      children.push(await startEventline(b.env, 'http', port));
      ports.push(port);
    }
    const before = await recordCount(b.rt.kafka, 'stripe.events.v1');
    await drive(ports, Array.from({ length: 1000 }, (_, i) => realisticEvent(offset + i)), concurrency);
    const bodies = Array.from({ length: events }, (_, i) => realisticEvent(offset + 1000 + i));
    const run = await drive(ports, bodies, concurrency);
    const appended = (await recordCount(b.rt.kafka, 'stripe.events.v1')) - before - 1000;
    return {
      processes,
      webhooksPerSec: Math.round(events / run.seconds),
      latencyMs: { p50: +percentile(run.latenciesMs, 50).toFixed(2), p99: +percentile(run.latenciesMs, 99).toFixed(2), max: +(run.latenciesMs.at(-1) ?? 0).toFixed(2) },
      failures: run.failures,
      appended,
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
}

export async function stripeWebhooksBench(options: { events: number; concurrency: number; processes: readonly number[] }): Promise<void> {
  const b = await benchEnv('webhooks', { STRIPE_WEBHOOK_SECRET: secret });
  try {
    await createTopics(b.rt.kafka);
    await registerSchemas(b.rt.kafka);
    const runs: IngestRun[] = [];
    for (const [k, processes] of options.processes.entries()) runs.push(await ingest(b, processes, options.events, options.concurrency, k * (options.events + 1000)));
    const first = runs[0] as IngestRun;
    const avgBytes = Math.round(Array.from({ length: 200 }, (_, i) => Buffer.byteLength(realisticEvent(i))).reduce((n, x) => n + x, 0) / 200);

    const perfTopic = `${b.namespace}.bench.producer-perf`;
    const admin = await b.rt.kafka.admin();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: perfTopic, numPartitions: 6, replicationFactor: 1 }] });
    const kafka = kafkaProducerPerf(perfTopic, options.events, avgBytes + 150, { acks: 'all', 'enable.idempotence': 'true' });
    await admin.deleteTopics({ topics: [perfTopic] });

    const result = {
      machine: machine(),
      events: options.events,
      concurrency: options.concurrency,
      avgEventBytes: avgBytes,
      failures: first.failures,
      appended: first.appended,
      webhooksPerSec: first.webhooksPerSec,
      latencyMs: first.latencyMs,
      kafkaProducerPerf: { recordsPerSec: Math.round(kafka.recordsPerSec), p50Ms: kafka.p50Ms, p99Ms: kafka.p99Ms },
      ratioToKafkaProducerPerf: +(first.webhooksPerSec / kafka.recordsPerSec).toFixed(3),
      scaleOut: runs.map((r) => ({ ...r, ratioToOneProcess: +(r.webhooksPerSec / first.webhooksPerSec).toFixed(2) })),
    };
    console.log(`\nstripe webhooks (${result.machine}; ${options.events} signed events of ~${avgBytes} B, ${options.concurrency} concurrent connections, acks=all)`);
    for (const r of result.scaleOut) {
      console.log(`  eventline × ${r.processes}   ${r.webhooksPerSec} webhooks/s (${r.ratioToOneProcess} of one process)   p50 ${r.latencyMs.p50} ms   p99 ${r.latencyMs.p99} ms   failures ${r.failures}   appended ${r.appended}`);
    }
    console.log(`  kafka perf tool ${result.kafkaProducerPerf.recordsPerSec} records/s  p50 ${kafka.p50Ms} ms   p99 ${kafka.p99Ms} ms   (ProducerPerformance, same count and size, acks=all, idempotent)`);
    console.log(`  ratio           ${result.ratioToKafkaProducerPerf} of Kafka's own producer (one process)`);
    console.log(`  saved           ${saveResult('stripe-webhooks', result)}`);
    if (runs.some((r) => r.failures > 0 || r.appended !== options.events)) process.exitCode = 1;
  } finally {
    await b.cleanup();
  }
}
