/**
 * The components `eventline run` can start. Each registers its own shutdown with the runtime.
 */
import { runProjection } from '../lib/projection.ts';
import type { Runtime } from '../lib/runtime.ts';
import { buildHttpApp } from '../producers/http/routes.ts';
import { startServer } from '../producers/http/server.ts';
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
} satisfies Record<string, (rt: Runtime) => Promise<void>>;

export type ComponentName = keyof typeof components;
