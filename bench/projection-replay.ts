/**
 * MRR projection throughput: replay a realistic Stripe history (default 200k events) from
 * stripe.events.v1 into a fresh projection version, exactly as `eventline replay mrr` does
 * (transaction per partition batch with the checkpoint, order-independent recompute).
 * Compared with Kafka's ConsumerPerformance reading the same topic, and Postgres' batched insert
 * rate (multi-row unnest inserts of comparable rows) on the same machine.
 */
import { randomBytes } from 'node:crypto';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { buildVersion } from '../lib/projection.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { stripeRecords } from '../test/support/stripe-records.ts';
import { recordCount } from '../test/support/consume.ts';
import { benchEnv, kafkaConsumerPerf, machine, saveResult } from './support.ts';

async function postgresInsertRate(b: Awaited<ReturnType<typeof benchEnv>>, rows: number): Promise<number> {
  const table = `bench_insert_${randomBytes(3).toString('hex')}`;
  await b.rt.db.query(`CREATE TABLE public.${table} (id text, created_at timestamptz, event_id text, customer_id text, state jsonb, PRIMARY KEY (id, created_at, event_id))`);
  const state = JSON.stringify({ subscription_id: 'sub_x', customer_id: 'cus_x', currency: 'usd', status: 'active', items: [{ unit_amount: '4900/1', interval: 'month', interval_count: 1, metered: false, currency: 'usd', quantity: 1 }], embedded_coupons: [], discount_ids: [] });
  const started = performance.now();
  for (let i = 0; i < rows; i += 500) {
    const n = Math.min(500, rows - i);
    await b.rt.db.transaction((c) =>
      c.query(`INSERT INTO public.${table} SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[])`, [
        Array.from({ length: n }, (_, k) => `sub_${i + k}`),
        Array.from({ length: n }, () => new Date()),
        Array.from({ length: n }, (_, k) => `evt_${i + k}`),
        Array.from({ length: n }, (_, k) => `cus_${(i + k) % 8000}`),
        Array.from({ length: n }, () => state),
      ]),
    );
  }
  const perSec = rows / ((performance.now() - started) / 1000);
  await b.rt.db.query(`DROP TABLE public.${table}`);
  return perSec;
}

export async function projectionReplayBench(options: { events: number }): Promise<void> {
  const b = await benchEnv('replay');
  try {
    await createTopics(b.rt.kafka);
    await registerSchemas(b.rt.kafka);
    const customers = Math.max(50, Math.round(options.events / 25));
    const history = stripeHistory({ customers, seed: 2026, from: Date.UTC(2025, 0, 1) / 1000, to: Date.UTC(2026, 10, 1) / 1000 }).slice(0, options.events);
    const appender = await b.rt.kafka.appender();
    const appendStarted = performance.now();
    for (let i = 0; i < history.length; i += 5000) await appender.append('stripe.events.v1', stripeRecords(history.slice(i, i + 5000)));
    const appendSeconds = (performance.now() - appendStarted) / 1000;
    const total = await recordCount(b.rt.kafka, 'stripe.events.v1');
    const subscriptionEvents = history.filter((e) => String(e.type).startsWith('customer.subscription.')).length;

    const started = performance.now();
    const version = await buildVersion(b.rt, mrrProjection, { activate: false });
    const seconds = (performance.now() - started) / 1000;
    const movements = (await b.rt.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${version.schema}.movements`)).rows[0]?.n ?? 0;
    const eventsPerSec = total / seconds;

    const kafka = kafkaConsumerPerf(b.rt.kafka.names.topic('stripe.events.v1'), total);
    const pgRowsPerSec = await postgresInsertRate(b, subscriptionEvents);

    const result = {
      machine: machine(),
      events: total,
      customers,
      subscriptionEvents,
      movements,
      appendSeconds: +appendSeconds.toFixed(1),
      replaySeconds: +seconds.toFixed(1),
      eventsPerSec: Math.round(eventsPerSec),
      kafkaConsumerPerf: { recordsPerSec: Math.round(kafka.recordsPerSec), fetchRecordsPerSec: Math.round(kafka.fetchRecordsPerSec) },
      postgresBatchedInsertRowsPerSec: Math.round(pgRowsPerSec),
      ratioToKafkaConsumer: +(eventsPerSec / kafka.recordsPerSec).toFixed(3),
      subscriptionRowsPerSec: Math.round(subscriptionEvents / seconds),
      ratioRowsToPostgresInsert: +(subscriptionEvents / seconds / pgRowsPerSec).toFixed(3),
    };
    console.log(`\nMRR projection replay (${result.machine}; ${total} Stripe events, ${customers} customers, ${subscriptionEvents} subscription events → ${movements} movements)`);
    console.log(`  eventline replay      ${result.eventsPerSec} events/s   (${result.replaySeconds} s, transaction per batch with its checkpoint)`);
    console.log(`  kafka consumer perf   ${result.kafkaConsumerPerf.recordsPerSec} records/s   ratio ${result.ratioToKafkaConsumer}`);
    console.log(`  postgres inserts      ${result.postgresBatchedInsertRowsPerSec} rows/s (500-row unnest batches)   eventline writes ${result.subscriptionRowsPerSec} subscription rows/s, ratio ${result.ratioRowsToPostgresInsert}`);
    console.log(`  saved                 ${saveResult('projection-replay', result)}`);
  } finally {
    await b.cleanup();
  }
}
