/**
 * The components `eventline run` can start. Each registers its own shutdown with the runtime.
 */
import { runProjection, runVersionedProjection } from '../lib/projection.ts';
import type { Runtime } from '../lib/runtime.ts';
import type { AnyTopicName } from '../lib/topics.ts';
import { buildHttpApp } from '../producers/http/routes.ts';
import { startServer } from '../producers/http/server.ts';
import { deliveryProjection } from '../projections/delivery/main.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { preferencesProjection } from '../projections/preferences/main.ts';

export const components = {
  http: async (rt: Runtime): Promise<void> => {
    const { app } = buildHttpApp(rt);
    await startServer(rt, app);
  },
  'projection.preferences': async (rt: Runtime): Promise<void> => {
    const running = await runProjection(rt, preferencesProjection);
    rt.shutdown.add('projection.preferences', () => running.stop());
  },
  'projection.mrr': async (rt: Runtime): Promise<void> => {
    const running = await runVersionedProjection(rt, mrrProjection);
    rt.shutdown.add('projection.mrr', () => running.stop());
  },
  'projection.delivery': async (rt: Runtime): Promise<void> => {
    const running = await runVersionedProjection(rt, deliveryProjection);
    rt.shutdown.add('projection.delivery', () => running.stop());
  },
} satisfies Record<string, (rt: Runtime) => Promise<void>>;

export type ComponentName = keyof typeof components;

/** Consumer groups with Kafka-committed offsets, for `eventline status` (versioned projections report their checkpoints). */
export const consumerGroups: readonly { group: string; topics: readonly AnyTopicName[] }[] = [
  { group: 'projection.preferences', topics: ['notify.preference-changes.v1'] },
];
