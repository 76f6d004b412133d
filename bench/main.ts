/**
 * Eventline benchmarks. Needs the local stack (infra/stack.sh up, or npm start).
 *
 *   npm run bench -- privacy-cost [--customers 2000] [--webhooks 10000] [--concurrency 64]
 *   npm run bench -- stripe-webhooks [--events 20000] [--concurrency 64] [--processes 1,2]
 *   npm run bench -- projection-replay [--sizes 200000,1000000] [--processes 2]
 *   npm run bench -- dispatch-latency [--events 300] [--rate 20]
 *   npm run bench -- state-rebuild [--notifications 100000] [--batch 500]
 *   npm run bench -- dispatch-backlog [--events 50000]
 *   npm run bench -- risk-assess [--rates 100,300] [--seconds 10] [--warmup 2] [--target-p99 20] [--kafka 0]
 *   npm run bench -- webhook-ack [--only npm-start|http|<components>] [--consumers <components>] [--rates 100,500,1000] [--seconds 10] [--warmup 2] [--search 3] [--search-seconds 90]
 *                               [--target-p99 20] [--events 30000] [--rounds 6] [--concurrency 64] [--connections 256] [--kafka 0]
 */
import { dispatchBacklogBench } from './dispatch-backlog.ts';
import { dispatchLatencyBench } from './dispatch-latency.ts';
import { projectionReplayBench } from './projection-replay.ts';
import { riskAssessBench } from './risk-assess.ts';
import { stateRebuildBench } from './state-rebuild.ts';
import { privacyCostBench } from './privacy-cost.ts';
import { stripeWebhooksBench } from './stripe-webhooks.ts';
import { DEFAULT_CLOSED_LOOP_EVENTS, DEFAULT_CLOSED_LOOP_ROUNDS, webhookAckBench } from './webhook-ack.ts';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function text(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function list(name: string, fallback: readonly number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? '').split(',').map(Number) : [...fallback];
}

const scenarios: Record<string, () => Promise<void>> = {
  'dispatch-backlog': () => dispatchBacklogBench({ events: flag('events', 50_000) }),
  'dispatch-latency': () => dispatchLatencyBench({ events: flag('events', 300), perSecond: flag('rate', 20) }),
  'risk-assess': () => riskAssessBench({ rates: list('rates', [100, 300]), seconds: flag('seconds', 10), warmupSeconds: flag('warmup', 2), targetP99Ms: flag('target-p99', 20), kafkaReference: flag('kafka', 1) !== 0 }),
  'privacy-cost': () => privacyCostBench({ customers: flag('customers', 2000), webhooks: flag('webhooks', 10_000), concurrency: flag('concurrency', 64) }),
  'projection-replay': () => projectionReplayBench({ sizes: list('sizes', [200_000, 1_000_000]), processes: list('processes', [2]) }),
  'state-rebuild': () => stateRebuildBench({ notifications: flag('notifications', 100_000), batch: flag('batch', 500) }),
  'stripe-webhooks': () => stripeWebhooksBench({ events: flag('events', 20_000), concurrency: flag('concurrency', 64), processes: list('processes', [1, 2]) }),
  'webhook-ack': () =>
    webhookAckBench({
      rates: list('rates', [100, 500, 1000]),
      only: text('only', 'npm-start'),
      consumers: text('consumers', ''),
      seconds: flag('seconds', 10),
      warmupSeconds: flag('warmup', 2),
      targetP99Ms: flag('target-p99', 20),
      searchSteps: flag('search', 3),
      searchSeconds: flag('search-seconds', 90),
      events: flag('events', DEFAULT_CLOSED_LOOP_EVENTS),
      closedLoopRounds: flag('rounds', DEFAULT_CLOSED_LOOP_ROUNDS),
      concurrency: flag('concurrency', 64),
      connections: flag('connections', 256),
      targetRatio: 0.6,
      kafkaReference: flag('kafka', 1) !== 0,
    }),
};

const name = process.argv[2] ?? '';
const scenario = scenarios[name];
if (!scenario) {
  console.error(`usage: npm run bench -- <${Object.keys(scenarios).join('|')}> [options]`);
  process.exit(2);
}
await scenario();
process.exit(process.exitCode ?? 0);
