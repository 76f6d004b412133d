/**
 * The whole Eventline pipeline in-process for end-to-end tests: the HTTP app, the processors with
 * their schedulers, and the projections, on one test environment.
 */
import { runProcessor } from '../../lib/processor.ts';
import { runProjection, runVersionedProjection } from '../../lib/projection.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { dispatchProcessor } from '../../processors/dispatch/main.ts';
import { dunningProcessor } from '../../processors/dunning/main.ts';
import { fraudProcessor } from '../../processors/fraud/main.ts';
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
  let processors: { stop(): Promise<void> }[] = [];
  const startProcessors = async () => {
    const dunning = dunningProcessor(rt);
    const dispatch = dispatchProcessor(rt);
    processors = [
      await runProcessor(rt, fraudProcessor(rt)),
      await runProcessor(rt, dunning.processor),
      dunning.scheduler.run(rt.kafka, () => dunning.clock.gate(), { intervalMs: 100 }),
      await runProcessor(rt, dispatch.processor),
      dispatch.scheduler.run(rt.kafka, () => dispatch.clock.gate(), { intervalMs: 100 }),
    ];
  };
  const stopProcessors = async () => {
    for (const p of processors) await p.stop();
    processors = [];
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
