/** Terminal output for CLI commands: plain lines, aligned tables, and a common failure path. */
import { errorMessage, isEventlineError } from '../lib/errors.ts';

export function line(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function table(rows: readonly (readonly (string | number)[])[]): void {
  for (const l of tableLines(rows)) line(l);
}

/** The lines `table` prints. */
export function tableLines(rows: readonly (readonly (string | number)[])[]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

export function fail(err: unknown): never {
  const code = isEventlineError(err) ? ` [${err.code}]` : '';
  process.stderr.write(`eventline: ${errorMessage(err)}${code}\n`);
  process.exit(isEventlineError(err) && (err.code === 'bad_request' || err.code === 'config_invalid') ? 2 : 1);
}
