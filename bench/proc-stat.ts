/**
 * /proc/<pid>/stat, read the one way the benchmarks and their tests need it (man 5 proc). The
 * command name (field 2) may hold spaces and parentheses, so the fields are split after its closing
 * parenthesis: field n of the manual is `fields[n - 3]` (field 3, the state, is `fields[0]`).
 */
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
