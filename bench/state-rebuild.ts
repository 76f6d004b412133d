/**
 * Redis-loss recovery of the dispatch processor: N notifications (default 100,000), each a request
 * on notify.dispatch-requests.v1 and a `sent` outcome on notify.dispatches.v1, then the generic
 * rebuild (lib/decider) folds both topics into Redis under the lease, exactly as after a flush.
 *
 * Compared, in one run, with reading the same topics without folding (the adapter's readToEnd:
 * decode only) — so the ratio is the cost of the fold and its Redis writes — and with Kafka's
 * ConsumerPerformance on the same records.
 */
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { rebuildUnderLease, stateKeys } from '../lib/decider/index.ts';
import { clearNamespace } from '../lib/redis.ts';
import type { NotificationDispatched } from '../lib/topics.ts';
import { dispatchProcessor } from '../processors/dispatch/main.ts';
import { notificationRequest } from '../notify/index.ts';
import { benchEnv, kafkaConsumerPerf, machine, saveResult } from './support.ts';

export async function stateRebuildBench(options: { notifications: number; batch: number }): Promise<void> {
  const b = await benchEnv('rebuild', { EVENTLINE_REBUILD_BATCH: String(options.batch) });
  try {
    await createTopics(b.rt.kafka);
    await registerSchemas(b.rt.kafka);
    const appender = await b.rt.kafka.appender();
    const at = Date.now() - 3_600_000;
    const appendStarted = performance.now();
    for (let i = 0; i < options.notifications; i += 2000) {
      const requests = Array.from({ length: Math.min(2000, options.notifications - i) }, (_, k) =>
        notificationRequest({ source: `bench:${i + k}`, userId: `user_${(i + k) % 20_000}`, template: 'receipt', category: 'billing', priority: 'HIGH', data: { amount_due: 4900, currency: 'usd' }, requestedBy: 'bench', at: at + i + k }),
      );
      const outcomes = requests.map(
        (r): NotificationDispatched => ({
          event_id: `${r.notification_id}:sent:email:1`,
          occurred_at: r.occurred_at,
          received_at: r.occurred_at,
          notification_id: r.notification_id,
          user_id: r.user_id,
          template: r.template,
          category: r.category,
          priority: r.priority,
          channel: 'email',
          status: 'sent',
          reason: null,
          provider: 'sendgrid',
          provider_message_id: `msg_${r.notification_id}`,
          attempt: 1,
          deferred_until: null,
          locale: 'en-US',
          digest_id: null,
          request_event_id: r.event_id,
          seq: 1,
          fallback: ['sms'],
          due_at: null,
          digest_date: null,
          cap_date: '2026-12-01',
          destination_country: null,
          price_micros: null,
          price_currency: null,
          route_reason: null, template_version: null, experiment: null, variant: null,
        }),
      );
      await appender.appendMany([
        { topic: 'notify.dispatch-requests.v1', records: requests.map((value) => ({ key: value.user_id, record: 'NotificationRequested' as const, value })) },
        { topic: 'notify.dispatches.v1', records: outcomes.map((value) => ({ key: value.notification_id, record: 'NotificationDispatched' as const, value })) },
      ]);
    }
    const appendSeconds = (performance.now() - appendStarted) / 1000;
    const records = options.notifications * 2;

    // Reading alone: the same topics, decoded, nothing folded.
    const readStarted = performance.now();
    let read = 0;
    for (const topic of ['notify.dispatches.v1', 'notify.dispatch-requests.v1'] as const) read += await b.rt.kafka.readToEnd(topic, () => undefined);
    const readSeconds = (performance.now() - readStarted) / 1000;

    await clearNamespace(b.rt.redis);
    const parts = dispatchProcessor(b.rt);
    const started = performance.now();
    const report = await rebuildUnderLease(b.rt, parts.rebuild, { leaseMs: b.rt.config.rebuild.leaseMs, batch: options.batch, throttleMs: 0 }, b.rt.log);
    const seconds = (performance.now() - started) / 1000;
    if (!report || (await b.rt.redis.exists(stateKeys('dispatch').sentinel)) !== 1) throw new Error('the rebuild did not complete');
    const memory = String(await b.rt.redis.info('memory')).match(/used_memory_human:(\S+)/)?.[1] ?? '?';

    const perf = kafkaConsumerPerf(b.rt.kafka.names.topic('notify.dispatches.v1'), options.notifications);
    const result = {
      machine: machine(),
      notifications: options.notifications,
      records,
      batch: options.batch,
      appendSeconds: +appendSeconds.toFixed(1),
      rebuildSeconds: +seconds.toFixed(1),
      factsPerSec: Math.round(report.facts / seconds),
      readOnlySeconds: +readSeconds.toFixed(1),
      readOnlyRecordsPerSec: Math.round(read / readSeconds),
      ratioToReadOnly: +(readSeconds / seconds).toFixed(3),
      kafkaConsumerPerfRecordsPerSec: Math.round(perf.recordsPerSec),
      ratioToKafkaConsumer: +(report.facts / seconds / perf.recordsPerSec).toFixed(3),
      redisUsedMemory: memory,
    };
    console.log(`\nDispatch state rebuild after a Redis loss (${result.machine}; ${options.notifications} notifications = ${records} records, batches of ${options.batch})`);
    console.log(`  rebuild (fold + Redis)   ${result.rebuildSeconds} s   ${result.factsPerSec} records/s   Redis now ${memory}`);
    console.log(`  read only (decode)       ${result.readOnlySeconds} s   ${result.readOnlyRecordsPerSec} records/s   ratio ${result.ratioToReadOnly}`);
    console.log(`  kafka consumer perf      ${result.kafkaConsumerPerfRecordsPerSec} records/s   ratio ${result.ratioToKafkaConsumer}`);
    console.log(`  saved                    ${saveResult('state-rebuild', result)}`);
  } finally {
    await clearNamespace(b.rt.redis).catch(() => 0);
    await b.cleanup();
  }
}
