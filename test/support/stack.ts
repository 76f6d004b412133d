/**
 * Fault injection on the local stack (e2e tests): kill the broker the way a crash would, start it
 * again. Only works on the broker infra/stack.sh started (it needs the pidfile).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from '../../lib/migrate.ts';
import { eventually } from './env.ts';

const pidFile = join(projectRoot, '.infra', 'kafka.pid');

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** SIGKILLs the broker and waits until its port is closed. */
export async function killBroker(): Promise<void> {
  if (!existsSync(pidFile)) throw new Error('this test stops the local broker; start it with infra/stack.sh (npm test does)');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  await eventually(async () => ((await portOpen(9092)) ? undefined : true), { what: 'the broker port to close' });
}

/** Starts the broker again through infra/stack.sh and waits until it serves. */
export function startBroker(): void {
  execFileSync('bash', [join(projectRoot, 'infra', 'stack.sh'), 'up'], { stdio: 'inherit', timeout: 120_000 });
}
