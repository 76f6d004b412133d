/**
 * Watches the states one processor reads: its own and those it depends on (the customer
 * directory), in order. When a sentinel is missing (Redis lost the state, or a first start), the
 * processor is paused in this process, each missing state is rebuilt — by this instance if it takes
 * the lease, else by the holder, whose death lets the lease lapse within seconds and this instance
 * take over — and the processor resumes once every sentinel is back.
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
  /** The states this processor reads, rebuilt in this order; the last is its own. */
  private readonly specs: readonly RebuildSpec<F>[];
  private readonly options: RebuildOptions;
  private readonly log: Logger;
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(rt: Runtime, specs: RebuildSpec<F> | readonly RebuildSpec<F>[], options: RebuildOptions & { pollMs?: number }) {
    this.rt = rt;
    this.specs = Array.isArray(specs) ? specs : [specs as RebuildSpec<F>];
    this.options = options;
    this.pollMs = options.pollMs ?? 250;
    this.processor = this.specs.at(-1)?.processor ?? 'unknown';
    this.log = rt.log.child({ component: 'state-guard', processor: this.processor });
  }

  private readonly processor: string;

  private async missing(): Promise<RebuildSpec<F>[]> {
    const found = await Promise.all(this.specs.map((s) => this.rt.redis.exists(stateKeys(s.processor).sentinel)));
    return this.specs.filter((_, i) => found[i] !== 1);
  }

  async complete(): Promise<boolean> {
    return (await this.missing()).length === 0;
  }

  /** Makes sure the states are whole (rebuilding them if needed), pausing the processor meanwhile. */
  async ensure(hooks: GuardHooks): Promise<void> {
    const missing = await this.missing();
    if (missing.length === 0) return;
    const pausedAt = Date.now();
    metrics.processorPaused.set({ processor: this.processor }, 1);
    for (const spec of missing) await this.rt.redis.hsetnx(stateKeys(spec.processor).progress, 'paused_at', new Date(pausedAt).toISOString()).catch(() => 0);
    this.log.warn({ missing: missing.map((s) => s.processor) }, 'processor state missing from Redis: paused until it is rebuilt from the topics');
    await hooks.pause();
    for (const spec of missing) {
      while (!this.stopped) {
        try {
          const report = await rebuildUnderLease(this.rt, spec, this.options, this.log);
          if (report) {
            metrics.rebuilds.inc({ processor: spec.processor });
            this.log.warn({ ...report }, 'processor state rebuilt');
          }
        } catch (err) {
          this.log.warn({ state: spec.processor, err: errorMessage(err) }, 'rebuild did not finish; trying again');
        }
        if ((await this.rt.redis.exists(stateKeys(spec.processor).sentinel).catch(() => 0)) === 1) break;
        await new Promise((r) => setTimeout(r, this.pollMs));
      }
    }
    if (this.stopped) return;
    if (!(await this.complete().catch(() => false))) return; // lost again meanwhile: the next check starts over
    metrics.processorPaused.set({ processor: this.processor }, 0);
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
