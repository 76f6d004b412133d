/**
 * The processors of one process, run as a group under the state guard: before they start, and
 * whenever Redis loses their state, they are paused, the state is rebuilt from the topics, and
 * they resume.
 */
import { runProcessor } from '../lib/processor.ts';
import type { Runtime } from '../lib/runtime.ts';
import { dispatchProcessor } from './dispatch/main.ts';
import { dunningProcessor } from './dunning/main.ts';
import { fraudProcessor } from './fraud/main.ts';
import { StateGuard } from './recovery.ts';

type Stoppable = { stop(): Promise<void> };
export type ProcessorName = 'fraud' | 'dunning' | 'dispatch';

const starters: Record<ProcessorName, (rt: Runtime, timerIntervalMs: number) => Promise<Stoppable[]>> = {
  fraud: async (rt) => [await runProcessor(rt, fraudProcessor(rt))],
  dunning: async (rt, interval) => {
    const parts = dunningProcessor(rt);
    return [await runProcessor(rt, parts.processor), parts.scheduler.run(rt.kafka, () => parts.clock.gate(), { intervalMs: interval })];
  },
  dispatch: async (rt, interval) => {
    const parts = dispatchProcessor(rt);
    return [await runProcessor(rt, parts.processor), parts.scheduler.run(rt.kafka, () => parts.clock.gate(), { intervalMs: interval })];
  },
};

export class ProcessorGroup {
  private readonly rt: Runtime;
  private readonly guard: StateGuard;
  private readonly names: readonly ProcessorName[];
  private readonly timerIntervalMs: number;
  private running: Stoppable[] = [];

  constructor(rt: Runtime, names: readonly ProcessorName[], options: { timerIntervalMs?: number } = {}) {
    this.rt = rt;
    this.names = names;
    this.guard = new StateGuard(rt);
    this.timerIntervalMs = options.timerIntervalMs ?? 250;
  }

  /** Makes sure the state is complete (rebuilding it if needed), starts the processors, and keeps watching. */
  async start(options: { watchMs?: number } = {}): Promise<void> {
    const pause = () => this.pause();
    const resume = () => this.resume();
    await this.guard.ensure(pause, resume);
    if (this.running.length === 0) await this.resume();
    this.guard.watch(pause, resume, options.watchMs ?? 5000);
  }

  async pause(): Promise<void> {
    const running = this.running;
    this.running = [];
    for (const r of running) await r.stop();
  }

  async resume(): Promise<void> {
    if (this.running.length > 0) return;
    for (const n of this.names) this.running.push(...(await starters[n](this.rt, this.timerIntervalMs)));
  }

  async stop(): Promise<void> {
    await this.guard.stop();
    await this.pause();
  }
}
