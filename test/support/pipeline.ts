/**
 * The whole Eventline pipeline in-process for end-to-end tests: the HTTP app, the processors with
 * their schedulers, and the projections, on one test environment.
 */
import { runProjection, runVersionedProjection } from '../../lib/projection.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { ProcessorGroup } from '../../processors/supervisor.ts';
import { versionedProjections } from '../../projections/index.ts';
import { preferencesProjection } from '../../projections/preferences/main.ts';
import { startApp, type RunningApp } from './app.ts';

export interface Pipeline {
  readonly app: RunningApp;
  stopProcessors(): Promise<void>;
  startProcessors(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPipeline(rt: Runtime): Promise<Pipeline> {
  const app = await startApp(rt);
  const projections: { stop(): Promise<void> }[] = [await runProjection(rt, preferencesProjection)];
  for (const def of Object.values(versionedProjections)) projections.push(await runVersionedProjection(rt, def, { pollMs: 300 }));
  let group: ProcessorGroup | null = null;
  const startProcessors = async () => {
    group = new ProcessorGroup(rt, ['fraud', 'dunning', 'dispatch'], { timerIntervalMs: 100 });
    await group.start({ watchMs: 500 });
  };
  const stopProcessors = async () => {
    await group?.stop();
    group = null;
  };
  await startProcessors();
  return {
    app,
    startProcessors,
    stopProcessors,
    async stop() {
      await stopProcessors();
      for (const p of projections) await p.stop();
      await app.close();
    },
  };
}
