/**
 * The processors of one process. Each runs under its own state guard: before it starts, and
 * whenever Redis loses its state, it is paused, the states it reads (the customer directory, then
 * its own) are rebuilt from the topics (by this instance or another, under a lease), and it
 * resumes — a processor whose state is whole keeps running meanwhile.
 */
import { EntityStore, pauseStatus, StateGuard, statefulProcessors, type PauseStatus, type RebuildSpec, type StatefulProcessor } from '../lib/decider/index.ts';
import { runProcessor } from '../lib/processor.ts';
import type { Runtime } from '../lib/runtime.ts';
import { directoryRebuild } from './customers/directory.ts';
import { dispatchProcessor, type DispatchOptions } from './dispatch/main.ts';
import { dunningProcessor } from './dunning/main.ts';
import { fraudProcessor } from './fraud/main.ts';

type Stoppable = { stop(): Promise<void> };
export const processorNames = statefulProcessors;
export type ProcessorName = StatefulProcessor;

interface Built {
  readonly rebuild: RebuildSpec<never>;
  start(): Promise<Stoppable[]>;
}

function build(rt: Runtime, name: ProcessorName, timerIntervalMs: number, dispatch: DispatchOptions): Built {
  switch (name) {
    case 'fraud': {
      const parts = fraudProcessor(rt);
      return { rebuild: parts.rebuild as unknown as RebuildSpec<never>, start: async () => [await runProcessor(rt, parts.processor)] };
    }
    case 'dunning': {
      const parts = dunningProcessor(rt);
      return {
        rebuild: parts.rebuild as unknown as RebuildSpec<never>,
        start: async () => [await runProcessor(rt, parts.processor), parts.scheduler.run(rt.kafka, () => parts.clock.gate(), { intervalMs: timerIntervalMs })],
      };
    }
    case 'dispatch': {
      const parts = dispatchProcessor(rt, dispatch);
      return {
        rebuild: parts.rebuild as unknown as RebuildSpec<never>,
        start: async () => [await runProcessor(rt, parts.processor), parts.scheduler.run(rt.kafka, () => parts.clock.gate(), { intervalMs: timerIntervalMs })],
      };
    }
    default: {
      const _exhaustive: never = name;
      return _exhaustive;
    }
  }
}

class Supervised {
  private readonly built: Built;
  readonly guard: StateGuard<never>;
  private running: Stoppable[] = [];
  private stopped = false;

  constructor(rt: Runtime, name: ProcessorName, timerIntervalMs: number, dispatch: DispatchOptions) {
    this.built = build(rt, name, timerIntervalMs, dispatch);
    const r = rt.config.rebuild;
    // Every processor reads the customer directory: it is whole before the processor's own state.
    const states = [directoryRebuild(new EntityStore(rt.redis)) as unknown as RebuildSpec<never>, this.built.rebuild];
    this.guard = new StateGuard(rt, states, { leaseMs: r.leaseMs, batch: r.batch, throttleMs: r.throttleMs });
  }

  readonly hooks = {
    pause: async () => {
      const running = this.running;
      this.running = [];
      for (const r of running) await r.stop();
    },
    resume: async () => {
      if (this.running.length > 0 || this.stopped) return;
      this.running = await this.built.start();
    },
  };

  async start(watchMs: number): Promise<void> {
    await this.guard.ensure(this.hooks);
    await this.hooks.resume();
    this.guard.watch(this.hooks, watchMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.guard.stop();
    await this.hooks.pause();
  }
}

export class ProcessorGroup {
  private readonly rt: Runtime;
  private readonly names: readonly ProcessorName[];
  private readonly timerIntervalMs: number;
  private readonly dispatch: DispatchOptions;
  private supervised: Supervised[] = [];

  /** `dispatch.providers`: other providers than the configuration's (tests: a push sender trusting a local push service). */
  constructor(rt: Runtime, names: readonly ProcessorName[], options: { timerIntervalMs?: number; dispatch?: DispatchOptions } = {}) {
    this.rt = rt;
    this.names = names;
    this.timerIntervalMs = options.timerIntervalMs ?? 250;
    this.dispatch = options.dispatch ?? {};
  }

  /**
   * Starts every processor once its state is whole (each rebuilt if needed, concurrently), and keeps
   * watching. Resolves when all run; one still waiting for a rebuild does not hold the others back.
   */
  async start(options: { watchMs?: number } = {}): Promise<void> {
    this.supervised = this.names.map((n) => new Supervised(this.rt, n, this.timerIntervalMs, this.dispatch));
    await Promise.all(this.supervised.map((s) => s.start(options.watchMs ?? 5000)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.supervised.map((s) => s.stop()));
    this.supervised = [];
  }
}

/** Each processor's pause state, as any process sees it in Redis. */
export async function processorStatus(rt: Runtime, names: readonly ProcessorName[] = processorNames): Promise<PauseStatus[]> {
  return Promise.all(names.map((n) => pauseStatus(rt, n)));
}
