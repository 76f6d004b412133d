/**
 * Bench only: `eventline run --only http --no-migrate` with the append stubbed out. The same
 * runtime, config and HTTP composition (cli/components.ts), but Kafka.appender() hands the routes
 * an appender whose appends resolve at once, without encoding or Kafka. What the webhook-ack
 * benchmark measures against it is the ceiling of the HTTP path (parsing, signature, Redis
 * dedupe, answer). Production has no way to reach this: the appender is a constructor parameter
 * of Runtime that only this file passes.
 *
 * Run by bench/webhook-ack.ts as its own process (node --import tsx bench/stub-append-server.ts,
 * same environment as eventline, PORT set). Over the IPC channel it answers `{ type: 'count' }`
 * with how many records the routes appended, so the benchmark can check every webhook reached
 * the append.
 */
import { components } from '../cli/components.ts';
import { loadConfig } from '../lib/config.ts';
import type { RecordAppender } from '../lib/kafka/index.ts';
import { Runtime } from '../lib/runtime.ts';

let records = 0;
let appends = 0;

const stub: RecordAppender = {
  append: (_topic, list) => {
    appends++;
    records += list.length;
    return Promise.resolve();
  },
  appendMany: (groups) => {
    appends++;
    for (const g of groups) records += g.records.length;
    return Promise.resolve();
  },
  appendRaw: (_topic, list) => {
    appends++;
    records += list.length;
    return Promise.resolve();
  },
  close: () => Promise.resolve(),
};

const rt = new Runtime(loadConfig(process.env, 'eventline'), undefined, { kafka: { openAppender: () => Promise.resolve(stub) } });
rt.shutdown.installSignalHandlers();
await components.http(rt);
rt.log.warn({ components: ['http'], namespace: rt.config.namespace }, 'eventline ready with the append STUBBED OUT (benchmark only)');

process.on('message', (message: unknown) => {
  if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'count') {
    process.send?.({ type: 'count', records, appends });
  }
});
// A benchmark that dies must not leave its server behind.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
