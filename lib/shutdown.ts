/**
 * Graceful shutdown: on SIGTERM or SIGINT, close what does work first (HTTP servers, consumers,
 * schedulers; last registered first), then the connections they used (Kafka, Postgres, Redis),
 * each step bounded by a timeout, then exit. A second signal exits at once.
 */
import type { Logger } from './log.ts';

type Phase = 'work' | 'connections';
type Closer = { name: string; phase: Phase; close: () => Promise<void> };

export class Shutdown {
  private readonly closers: Closer[] = [];
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private running: Promise<void> | null = null;

  constructor(log: Logger, timeoutMs = 15000) {
    this.log = log.child({ component: 'shutdown' });
    this.timeoutMs = timeoutMs;
  }

  /** Registers something to close; within a phase, closers run last-registered first. */
  add(name: string, close: () => Promise<void>, phase: Phase = 'work'): void {
    this.closers.push({ name, phase, close });
  }

  /** Installs the signal handlers; exits the process after closing. */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.running) {
        this.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      this.log.info({ signal }, 'shutting down');
      void this.run().then(() => process.exit(0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  /** Closes everything (idempotent). */
  run(): Promise<void> {
    if (!this.running) this.running = this.closeAll();
    return this.running;
  }

  private async closeAll(): Promise<void> {
    const ordered = [...this.closers].reverse();
    for (const closer of [...ordered.filter((c) => c.phase === 'work'), ...ordered.filter((c) => c.phase === 'connections')]) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          closer.close(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
          }),
        ]);
        this.log.info({ closer: closer.name }, 'closed');
      } catch (err) {
        this.log.error({ closer: closer.name, err: (err as Error).message }, 'close failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
