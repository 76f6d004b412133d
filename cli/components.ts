/**
 * The components `eventline run` can start. Each registers its own shutdown with the runtime.
 */
import { createApp } from '../producers/http/app.ts';
import { healthRoutes } from '../producers/http/health.ts';
import { startServer } from '../producers/http/server.ts';
import type { Runtime } from '../lib/runtime.ts';

export const components = {
  http: async (rt: Runtime): Promise<void> => {
    const app = createApp([healthRoutes(rt)], rt.log);
    await startServer(rt, app);
  },
} satisfies Record<string, (rt: Runtime) => Promise<void>>;

export type ComponentName = keyof typeof components;
