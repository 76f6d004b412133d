/** Runs `eventline run` as a child process for fault tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../lib/migrate.ts';

export function spawnEventline(env: Readonly<Record<string, string>>, only: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'cli', 'main.ts'), 'run', '--only', only, '--no-migrate'], {
    env: { ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
