/**
 * Eventline benchmarks. Needs the local stack (infra/stack.sh up, or npm start).
 *
 *   npm run bench -- stripe-webhooks [--events 20000] [--concurrency 64]
 *   npm run bench -- projection-replay [--events 200000]
 *   npm run bench -- dispatch-latency [--events 300] [--rate 20]
 *   npm run bench -- state-rebuild [--notifications 100000] [--batch 500]
 */
import { dispatchLatencyBench } from './dispatch-latency.ts';
import { projectionReplayBench } from './projection-replay.ts';
import { stateRebuildBench } from './state-rebuild.ts';
import { stripeWebhooksBench } from './stripe-webhooks.ts';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const scenarios: Record<string, () => Promise<void>> = {
  'dispatch-latency': () => dispatchLatencyBench({ events: flag('events', 300), perSecond: flag('rate', 20) }),
  'projection-replay': () => projectionReplayBench({ events: flag('events', 200_000) }),
  'state-rebuild': () => stateRebuildBench({ notifications: flag('notifications', 100_000), batch: flag('batch', 500) }),
  'stripe-webhooks': () => stripeWebhooksBench({ events: flag('events', 20_000), concurrency: flag('concurrency', 64) }),
};

const name = process.argv[2] ?? '';
const scenario = scenarios[name];
if (!scenario) {
  console.error(`usage: npm run bench -- <${Object.keys(scenarios).join('|')}> [options]`);
  process.exit(2);
}
await scenario();
process.exit(process.exitCode ?? 0);
