/**
 * What the benchmarks read of a process from /proc/<pid>/stat (man 5 proc): its CPU time and its
 * CPU priority. The
 * command name (field 2) may hold spaces and parentheses, so the fields are split after its closing
 * parenthesis: field n of the manual is `fields[n - 3]` (field 3, the state, is `fields[0]`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
}

/** The fields of a live process's stat; null once it is gone (or off Linux). */
export function readStatFields(pid: number): string[] | null {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Field n (1-based, as the manual numbers them; n ≥ 3). */
export function statField(fields: readonly string[], n: number): number {
  return Number(fields[n - 3]);
}

/** USER_HZ, the unit of the stat's times: asked of the system once, when first needed. */
let clockTicks: number | null = null;
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** A process's CPU time (user + system, all threads) so far; null once it is gone. */
export function processCpuMs(pid: number): number | null {
  const fields = readStatFields(pid);
  // utime and stime are fields 14 and 15.
  return fields ? ((statField(fields, 14) + statField(fields, 15)) * 1000) / ticksPerSecond() : null;
}

const policyNames: Readonly<Record<number, string>> = { 0: 'SCHED_OTHER', 3: 'SCHED_BATCH', 5: 'SCHED_IDLE' };

/** A process's CPU priority as the kernel holds it ("nice 19, SCHED_IDLE"); null off Linux. */
export function cpuPriorityOf(pid: number): string | null {
  const fields = readStatFields(pid);
  if (!fields) return null;
  const policy = statField(fields, 41);
  return `nice ${statField(fields, 19)}, ${policyNames[policy] ?? `policy ${policy}`}`;
}
