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
import { benchEnv, freePort, kafkaProducerPerf, machine, percentile, saveResult, startEventline } from './support.ts';

const secret = 'whsec_bench_0123456789abcdefghijklmnopqrstuv';

function realisticEvent(i: number): string {
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

function post(agent: Agent, port: number, body: string, signature: string): Promise<number> {
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

async function drive(port: number, bodies: readonly string[], concurrency: number): Promise<{ seconds: number; latenciesMs: number[]; failures: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const signatures = bodies.map((payload) => Stripe.webhooks.generateTestHeaderString({ payload, secret }));
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const i = next++;
        const t0 = performance.now();
        const status = await post(agent, port, bodies[i]!, signatures[i]!);
        latencies.push(performance.now() - t0);
        if (status !== 200) failures++;
      }
    }),
  );
  agent.destroy();
  return { seconds: (performance.now() - started) / 1000, latenciesMs: latencies.sort((a, b) => a - b), failures };
}

export async function stripeWebhooksBench(options: { events: number; concurrency: number }): Promise<void> {
  const b = await benchEnv('webhooks', { STRIPE_WEBHOOK_SECRET: secret });
  let child: Awaited<ReturnType<typeof startEventline>> | null = null;
  try {
    await createTopics(b.rt.kafka);
    await registerSchemas(b.rt.kafka);
    const port = await freePort();
    child = await startEventline(b.env, 'http', port);
    const warmup = Array.from({ length: 1000 }, (_, i) => realisticEvent(i));
    await drive(port, warmup, options.concurrency);
    const bodies = Array.from({ length: options.events }, (_, i) => realisticEvent(i + 1000));
    const avgBytes = Math.round(bodies.reduce((n, s) => n + Buffer.byteLength(s), 0) / bodies.length);
    const run = await drive(port, bodies, options.concurrency);
    const appended = await recordCount(b.rt.kafka, 'stripe.events.v1');
    const perSec = options.events / run.seconds;

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
      failures: run.failures,
      appended: appended - warmup.length,
      webhooksPerSec: Math.round(perSec),
      latencyMs: { p50: +percentile(run.latenciesMs, 50).toFixed(2), p99: +percentile(run.latenciesMs, 99).toFixed(2), max: +(run.latenciesMs.at(-1) ?? 0).toFixed(2) },
      kafkaProducerPerf: { recordsPerSec: Math.round(kafka.recordsPerSec), p50Ms: kafka.p50Ms, p99Ms: kafka.p99Ms },
      ratioToKafkaProducerPerf: +(perSec / kafka.recordsPerSec).toFixed(3),
    };
    console.log(`\nstripe webhooks (${result.machine}; ${options.events} signed events of ~${avgBytes} B, ${options.concurrency} concurrent connections, acks=all)`);
    console.log(`  eventline       ${result.webhooksPerSec} webhooks/s   p50 ${result.latencyMs.p50} ms   p99 ${result.latencyMs.p99} ms   failures ${run.failures}   appended ${result.appended}`);
    console.log(`  kafka perf tool ${result.kafkaProducerPerf.recordsPerSec} records/s  p50 ${kafka.p50Ms} ms   p99 ${kafka.p99Ms} ms   (ProducerPerformance, same count and size, acks=all, idempotent)`);
    console.log(`  ratio           ${result.ratioToKafkaProducerPerf} of Kafka's own producer`);
    console.log(`  saved           ${saveResult('stripe-webhooks', result)}`);
    if (run.failures > 0 || result.appended !== options.events) process.exitCode = 1;
  } finally {
    child?.kill('SIGTERM');
    await b.cleanup();
  }
}
