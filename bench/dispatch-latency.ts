/**
 * Latency from a signed Stripe webhook (invoice.payment_failed) to the dispatch decision for the
 * payment-failed notice: webhook → stripe.events.v1 → dunning (opens the case, day-0 timer) →
 * billing.dunning-steps.v1 → dunning → notify.dispatch-requests.v1 → dispatch (decides, sends to
 * the local outbox) → notify.dispatches.v1, where this process observes it. Six Kafka hops, each
 * acks=all. Compared with Kafka's own EndToEndLatency tool (one produce → consume hop, acks=all).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Stripe from 'stripe';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { projectRoot } from '../lib/migrate.ts';
import { notificationIdFor } from '../notify/index.ts';
import { stepEventId } from '../processors/dunning/decide.ts';
import { customer, event, invoice, subscription } from '../cli/demo/stripe-objects.ts';
import { benchEnv, freePort, kafkaClasspath, machine, percentile, saveResult, startEventline } from './support.ts';

const secret = 'whsec_bench_latency_0123456789abcdefghij';

function kafkaEndToEnd(topic: string, records: number): { p50: number; p99: number; avg: number } {
  const out = execFileSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      kafkaClasspath(),
      `-Dlog4j2.configurationFile=${join(projectRoot, 'infra', 'kafka', 'log4j2.properties')}`,
      `-Dkafka.logs.dir=${join(projectRoot, '.infra', 'logs')}`,
      'org.apache.kafka.tools.EndToEndLatency',
      '--bootstrap-server',
      '127.0.0.1:9092',
      '--topic',
      topic,
      '--num-records',
      String(records),
      '--producer-acks',
      'all',
      '--record-size',
      '1024',
    ],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  const avg = /Avg latency: ([\d.]+) ms/.exec(out);
  const pct = /50th = ([\d.]+), 99th = ([\d.]+)/.exec(out);
  if (!avg || !pct) throw new Error(`unexpected EndToEndLatency output: ${out.slice(-400)}`);
  return { avg: Number(avg[1]), p50: Number(pct[1]), p99: Number(pct[2]) };
}

export async function dispatchLatencyBench(options: { events: number; perSecond: number }): Promise<void> {
  const b = await benchEnv('latency', { STRIPE_WEBHOOK_SECRET: secret });
  let child: Awaited<ReturnType<typeof startEventline>> | null = null;
  try {
    await createTopics(b.rt.kafka);
    await registerSchemas(b.rt.kafka);
    const port = await freePort();
    child = await startEventline(b.env, 'http,processor.dunning,processor.dispatch', port);
    const post = async (e: Record<string, unknown>) => {
      const payload = JSON.stringify(e);
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) }, body: payload });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
    };
    const v = '2025-09-30.clover';
    const now = Math.floor(Date.now() / 1000);
    const customers = Math.max(1, Math.ceil(options.events / 5));
    for (let c = 0; c < customers; c++) {
      await post(event(v, { type: 'customer.created', created: now - 7200, object: customer({ id: `cus_lat${c}`, email: `lat${c}@example.com`, created: now - 7200, userId: `user_lat${c}` }) }));
      await post(event(v, { type: 'customer.subscription.created', created: now - 7100, object: subscription(v, { id: `sub_lat${c}`, customer: `cus_lat${c}`, status: 'active', items: [{ unitAmount: 4900 }], created: now - 7100 }) }));
    }

    const sentAt = new Map<string, number>();
    const observed = new Map<string, number>();
    const consumer = await b.rt.kafka.consume({
      group: 'bench.observer',
      topics: ['notify.dispatches.v1'],
      fromBeginning: true,
      maxWaitTimeInMs: 20,
      onBatch: async (batch) => {
        const t = performance.now();
        for (const r of batch.records) if (sentAt.has(r.value.notification_id) && !observed.has(r.value.notification_id)) observed.set(r.value.notification_id, t);
        return { commit: (BigInt(batch.lastOffset) + 1n).toString() };
      },
    });
    await consumer.joined;
    const interval = 1000 / options.perSecond;
    const started = performance.now();
    for (let i = 0; i < options.events; i++) {
      const wait = started + i * interval - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const inv = `in_lat${i}`;
      sentAt.set(notificationIdFor(stepEventId(inv, 'day_0')), performance.now());
      await post(event(v, { type: 'invoice.payment_failed', created: Math.floor(Date.now() / 1000), object: invoice(v, { id: inv, customer: `cus_lat${i % customers}`, subscription: `sub_lat${i % customers}`, amountDue: 4900, status: 'open', created: now }) }));
    }
    const deadline = Date.now() + 60_000;
    while (observed.size < sentAt.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    const latencies = [...observed].map(([id, t]) => t - (sentAt.get(id) ?? t)).sort((a, c) => a - c);

    const kafkaTopic = `${b.namespace}.bench.e2e-latency`;
    const admin = await b.rt.kafka.admin();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: kafkaTopic, numPartitions: 1, replicationFactor: 1 }] });
    const kafka = kafkaEndToEnd(kafkaTopic, 2000);
    await admin.deleteTopics({ topics: [kafkaTopic] });

    const result = {
      machine: machine(),
      events: options.events,
      perSecond: options.perSecond,
      observed: latencies.length,
      latencyMs: { p50: +percentile(latencies, 50).toFixed(1), p99: +percentile(latencies, 99).toFixed(1), max: +(latencies.at(-1) ?? 0).toFixed(1) },
      kafkaHops: 6,
      kafkaEndToEndLatencyMs: kafka,
      ratioP50ToOneKafkaHop: +(percentile(latencies, 50) / kafka.p50).toFixed(1),
    };
    console.log(`\nwebhook → dispatch decision (${result.machine}; ${options.events} invoice.payment_failed webhooks at ${options.perSecond}/s; outbox provider)`);
    console.log(`  eventline          p50 ${result.latencyMs.p50} ms   p99 ${result.latencyMs.p99} ms   max ${result.latencyMs.max} ms   (${latencies.length}/${options.events} observed, 6 Kafka hops)`);
    console.log(`  kafka e2e latency  p50 ${kafka.p50} ms   p99 ${kafka.p99} ms   (EndToEndLatency, 1 hop, acks=all, 1 KiB)`);
    console.log(`  ratio              p50 = ${result.ratioP50ToOneKafkaHop} × one Kafka hop`);
    console.log(`  saved              ${saveResult('dispatch-latency', result)}`);
    if (latencies.length < options.events) process.exitCode = 1;
  } finally {
    child?.kill('SIGTERM');
    await b.cleanup();
  }
}
