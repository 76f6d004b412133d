/**
 * The dispatch processor going through a backlog of Stripe events (after a restart or an outage):
 * N generated webhooks' events (a third `invoice.paid`, which it folds for the drip sequences that
 * may exit on them; the rest it skips), appended first, then the processor started from the
 * beginning of the topic, timed until its group has committed the end.
 *
 * Compared, in one run, with reading the same topic without handling it (the adapter's readToEnd:
 * decode only) and with Kafka's ConsumerPerformance on the same records.
 */
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { clearNamespace } from '../lib/redis.ts';
import type { StripeEventReceived } from '../lib/topics.ts';
import { ProcessorGroup } from '../processors/supervisor.ts';
import { realisticEvent } from './stripe-webhooks.ts';
import { benchEnv, kafkaConsumerPerf, machine, saveResult } from './support.ts';

export async function dispatchBacklogBench(options: { events: number }): Promise<void> {
  const b = await benchEnv('backlog');
  let group: ProcessorGroup | null = null;
  try {
    await createTopics(b.rt.kafka);
    await registerSchemas(b.rt.kafka);
    const appender = await b.rt.kafka.appender();
    for (let i = 0; i < options.events; i += 2000) {
      const values = Array.from({ length: Math.min(2000, options.events - i) }, (_, k): StripeEventReceived => {
        const payload = realisticEvent(i + k);
        const e = JSON.parse(payload) as { id: string; type: string; created: number; data: { object: { id: string; object: string; customer: string } } };
        return { event_id: e.id, occurred_at: e.created * 1000, received_at: Date.now(), type: e.type, api_version: null, account: null, livemode: false, customer_id: e.data.object.customer, object_id: e.data.object.id, object_type: e.data.object.object, source: 'webhook', payload };
      });
      await appender.append('stripe.events.v1', values.map((value) => ({ key: value.customer_id ?? value.event_id, record: 'StripeEventReceived' as const, value })));
    }
    const ends = await b.rt.kafka.topicOffsets('stripe.events.v1');

    // Reading alone: the same topic, decoded, nothing handled.
    const readStarted = performance.now();
    const read = await b.rt.kafka.readToEnd('stripe.events.v1', () => undefined);
    const readSeconds = (performance.now() - readStarted) / 1000;

    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    group = new ProcessorGroup(b.rt, ['dispatch'], { timerIntervalMs: 1000 });
    await group.start({ watchMs: 60_000 });
    for (;;) {
      const committed = await b.rt.kafka.committedOffsets('processor.dispatch', 'stripe.events.v1');
      if (ends.every((e) => committed.some((c) => c.partition === e.partition && BigInt(c.offset) >= BigInt(e.high)))) break;
      if (performance.now() - started > 600_000) throw new Error('the dispatch processor did not reach the end of the backlog within 10 minutes');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    await group.stop();
    group = null;

    const perf = kafkaConsumerPerf(b.rt.kafka.names.topic('stripe.events.v1'), options.events);
    const result = {
      machine: machine(),
      events: options.events,
      seconds: +seconds.toFixed(2),
      eventsPerSec: Math.round(options.events / seconds),
      cpuMsPerThousand: +(((cpu.user + cpu.system) / 1000 / options.events) * 1000).toFixed(1),
      readOnlySeconds: +readSeconds.toFixed(2),
      readOnlyRecordsPerSec: Math.round(read / readSeconds),
      ratioToReadOnly: +(readSeconds / seconds).toFixed(3),
      kafkaConsumerPerfRecordsPerSec: Math.round(perf.recordsPerSec),
      ratioToKafkaConsumer: +(options.events / seconds / perf.recordsPerSec).toFixed(3),
    };
    console.log(`\nDispatch through a backlog of Stripe events (${result.machine}; ${options.events} events, a third invoice.paid)`);
    console.log(`  dispatch processor       ${result.seconds} s   ${result.eventsPerSec} events/s   CPU ${result.cpuMsPerThousand} ms per 1,000 events (this process)`);
    console.log(`  read only (decode)       ${result.readOnlySeconds} s   ${result.readOnlyRecordsPerSec} records/s   ratio ${result.ratioToReadOnly}`);
    console.log(`  kafka consumer perf      ${result.kafkaConsumerPerfRecordsPerSec} records/s   ratio ${result.ratioToKafkaConsumer}`);
    console.log(`  saved                    ${saveResult('dispatch-backlog', result)}`);
  } finally {
    await group?.stop().catch(() => undefined);
    await clearNamespace(b.rt.redis).catch(() => 0);
    await b.cleanup();
  }
}
