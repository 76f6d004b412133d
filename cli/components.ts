/**
 * The components `eventline run` can start; each registers its own shutdown with the runtime.
 * One process can run all of them (npm start), or each deployment a subset (--only).
 */
import { runProcessor } from '../lib/processor.ts';
import { runProjection, runVersionedProjection } from '../lib/projection.ts';
import type { Runtime } from '../lib/runtime.ts';
import type { AnyTopicName } from '../lib/topics.ts';
import { buildHttpApp } from '../producers/http/routes.ts';
import { startServer } from '../producers/http/server.ts';
import { dispatchProcessor } from '../processors/dispatch/main.ts';
import { dunningProcessor } from '../processors/dunning/main.ts';
import { fraudProcessor } from '../processors/fraud/main.ts';
import { versionedProjections } from '../projections/index.ts';
import { preferencesProjection } from '../projections/preferences/main.ts';

type Component = (rt: Runtime) => Promise<void>;

function projection(name: string): Component {
  return async (rt) => {
    const def = versionedProjections[name];
    if (!def) throw new Error(`no projection ${name}`);
    const running = await runVersionedProjection(rt, def);
    rt.shutdown.add(`projection.${name}`, () => running.stop());
  };
}

export const components = {
  http: async (rt: Runtime): Promise<void> => {
    const { app } = buildHttpApp(rt);
    await startServer(rt, app);
  },
  'projection.preferences': async (rt: Runtime): Promise<void> => {
    const running = await runProjection(rt, preferencesProjection);
    rt.shutdown.add('projection.preferences', () => running.stop());
  },
  'projection.mrr': projection('mrr'),
  'projection.delivery': projection('delivery'),
  'projection.fraud': projection('fraud'),
  'projection.dunning': projection('dunning'),
  'processor.fraud': async (rt: Runtime): Promise<void> => {
    const running = await runProcessor(rt, fraudProcessor(rt));
    rt.shutdown.add('processor.fraud', () => running.stop());
  },
  'processor.dunning': async (rt: Runtime): Promise<void> => {
    const parts = dunningProcessor(rt);
    const running = await runProcessor(rt, parts.processor);
    const timers = parts.scheduler.run(rt.kafka, () => parts.clock.gate());
    rt.shutdown.add('processor.dunning', () => running.stop());
    rt.shutdown.add('scheduler.dunning', () => timers.stop());
  },
  'processor.dispatch': async (rt: Runtime): Promise<void> => {
    const parts = dispatchProcessor(rt);
    const running = await runProcessor(rt, parts.processor);
    const timers = parts.scheduler.run(rt.kafka, () => parts.clock.gate());
    rt.shutdown.add('processor.dispatch', () => running.stop());
    rt.shutdown.add('scheduler.dispatch', () => timers.stop());
  },
} satisfies Record<string, Component>;

export type ComponentName = keyof typeof components;

/** Consumer groups with Kafka-committed offsets, for `eventline status` (versioned projections report their checkpoints). */
export const consumerGroups: readonly { group: string; topics: readonly AnyTopicName[] }[] = [
  { group: 'projection.preferences', topics: ['notify.preference-changes.v1'] },
  { group: 'processor.fraud', topics: ['stripe.events.v1'] },
  { group: 'processor.dunning', topics: ['stripe.events.v1', 'billing.dunning-steps.v1'] },
  { group: 'processor.dispatch', topics: ['notify.dispatch-requests.v1', 'notify.delivery-events.v1'] },
];
