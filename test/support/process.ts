/** Runs `eventline` as a child process: `run` for fault tests, other commands for their output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../lib/migrate.ts';

/** The node flags every eventline process runs with (cli/eventline.sh): a young generation sized for batches. */
const nodeFlags = ['--max-semi-space-size=128', '--import', 'tsx'];

export function spawnEventline(env: Readonly<Record<string, string>>, only: string): ChildProcess {
  return spawnCommand(env, ['run', '--only', only, '--no-migrate']);
}

/** Starts any `eventline` command in the background (to kill it mid-way). */
export function spawnCommand(env: Readonly<Record<string, string>>, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [...nodeFlags, join(projectRoot, 'cli', 'main.ts'), ...args], { env: { ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Runs one `eventline` command to completion; its exit code and output. */
export function runEventline(env: Readonly<Record<string, string>>, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, join(projectRoot, 'cli', 'main.ts'), ...args], { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
