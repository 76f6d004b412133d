/**
 * Watches one processor's state. When its sentinel is missing (Redis lost the state, or a first
 * start), the processor is paused in this process, the state is rebuilt — by this instance if it
 * takes the lease, else by the holder, whose death lets the lease lapse within seconds and this
 * instance take over — and the processor resumes once the sentinel is back.
 */
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { metrics } from '../metrics.ts';
import type { Runtime } from '../runtime.ts';
import { rebuildUnderLease, stateKeys, type RebuildOptions, type RebuildSpec } from './rebuild.ts';

export interface GuardHooks {
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export class StateGuard<F> {
  private readonly rt: Runtime;
  private readonly spec: RebuildSpec<F>;
  private readonly options: RebuildOptions;
  private readonly log: Logger;
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(rt: Runtime, spec: RebuildSpec<F>, options: RebuildOptions & { pollMs?: number }) {
    this.rt = rt;
    this.spec = spec;
    this.options = options;
    this.pollMs = options.pollMs ?? 250;
    this.log = rt.log.child({ component: 'state-guard', processor: spec.processor });
  }

  async complete(): Promise<boolean> {
    return (await this.rt.redis.exists(stateKeys(this.spec.processor).sentinel)) === 1;
  }

  /** Makes sure the state is whole (rebuilding it if needed), pausing the processor meanwhile. */
  async ensure(hooks: GuardHooks): Promise<void> {
    if (await this.complete()) return;
    const keys = stateKeys(this.spec.processor);
    const pausedAt = Date.now();
    metrics.processorPaused.set({ processor: this.spec.processor }, 1);
    await this.rt.redis.hsetnx(keys.progress, 'paused_at', new Date(pausedAt).toISOString()).catch(() => 0);
    this.log.warn({}, 'processor state missing from Redis: paused until it is rebuilt from the topics');
    await hooks.pause();
    while (!this.stopped) {
      try {
        const report = await rebuildUnderLease(this.rt, this.spec, this.options, this.log);
        if (report) {
          metrics.rebuilds.inc({ processor: this.spec.processor });
          this.log.warn({ ...report }, 'processor state rebuilt');
        }
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'rebuild did not finish; trying again');
      }
      if (await this.complete().catch(() => false)) break;
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
    if (this.stopped) return;
    metrics.processorPaused.set({ processor: this.spec.processor }, 0);
    this.log.warn({ pausedSeconds: (Date.now() - pausedAt) / 1000 }, 'processor resumed');
    await hooks.resume();
  }

  /** Checks every `intervalMs` while the process runs. */
  watch(hooks: GuardHooks, intervalMs: number): void {
    this.timer = setInterval(() => {
      if (this.running || this.stopped) return;
      this.running = this.ensure(hooks)
        .catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'state check failed'))
        .finally(() => {
          this.running = null;
        });
    }, intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
