/**
 * infra/low-priority.sh, which npm start and the webhook-ack benchmark put the consumers' process
 * under (ADR 0013): the command itself runs (no wrapper left whose pid a pidfile would hold), at
 * nice 19, under SCHED_IDLE where this host lets a process ask for it, with its arguments and exit
 * status untouched.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { statField, statFields } from '../bench/proc-stat.ts';
import { projectRoot } from '../lib/migrate.ts';

const script = join(projectRoot, 'infra', 'low-priority.sh');
const SCHED_OTHER = 0;
const SCHED_IDLE = 5;

function run(args: readonly string[]): Promise<{ pid: number | undefined; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ pid: child.pid, code, stdout, stderr }));
  });
}

/** pid, nice and scheduling policy of a process, from its /proc/<pid>/stat (fields 1, 19 and 41). */
function parseStat(stat: string): { pid: number; nice: number; policy: number } {
  const fields = statFields(stat);
  return { pid: Number(stat.slice(0, stat.indexOf(' '))), nice: statField(fields, 19), policy: statField(fields, 41) };
}

/** Whether this host lets an unprivileged request for SCHED_IDLE through (util-linux's chrt, Linux). */
const idleGranted = spawnSync('chrt', ['--idle', '0', 'true']).status === 0;

describe('infra/low-priority.sh', () => {
  it('runs the command itself at nice 19, under SCHED_IDLE where the host grants it', async () => {
    const { pid, code, stdout } = await run(['cat', '/proc/self/stat']);
    assert.equal(code, 0);
    const stat = parseStat(stdout);
    assert.equal(stat.pid, pid, 'the command replaces the wrapper: the pid npm start records is the command\'s');
    assert.equal(stat.nice, 19);
    assert.equal(stat.policy, idleGranted ? SCHED_IDLE : SCHED_OTHER);
  });

  it('grants SCHED_IDLE on this Linux host, where chrt is installed', () => {
    // The machines Eventline runs on here are Linux with util-linux: the policy must be reachable,
    // or npm start's consumers would quietly fall back to nice alone.
    assert.equal(process.platform, 'linux');
    assert.ok(idleGranted, 'chrt --idle 0 true failed');
  });

  it('passes the arguments through verbatim and returns the command\'s exit status', async () => {
    const { code, stdout } = await run(['sh', '-c', 'printf "%s|" "$@"; exit 7', 'sh', 'two words', '$HOME', '']);
    assert.equal(code, 7);
    assert.equal(stdout, 'two words|$HOME||');
  });

  it('refuses to run without a command', async () => {
    const { code, stderr } = await run([]);
    assert.equal(code, 2);
    assert.match(stderr, /usage: infra\/low-priority\.sh <command>/);
  });
});
