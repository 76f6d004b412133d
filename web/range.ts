/**
 * The dashboard's date range: whole UTC months, both ends inclusive, as `YYYY-MM` (what an
 * `<input type="month">` gives and what the URL keeps). Month arithmetic on month numbers, not on
 * Date: Date.UTC reads years 0 to 99 as 1900 to 1999.
 */
import { EventlineError } from '../lib/errors.ts';

export interface MonthRange {
  /** First month shown, `YYYY-MM`. */
  readonly from: string;
  /** Last month shown, `YYYY-MM` (inclusive). */
  readonly to: string;
}

/** Without `from`, the range is this many months ending at `to` (the dashboard's twelve-month bridge). */
export const DEFAULT_MONTHS = 12;
/** Ten years: the bridge, the chart and the daily series stay a size a page can hold. */
export const MAX_MONTHS = 120;

// Year 0001 to 9999: Postgres has no year 0 (`'0000-01-01'::date` is an error, not an empty range).
const MONTH = /^(?!0000)(\d{4})-(0[1-9]|1[0-2])$/;
const FIRST = 12; // 0001-01

const number = (month: string): number => Number(month.slice(0, 4)) * 12 + Number(month.slice(5, 7)) - 1;
const text = (n: number): string => `${String(Math.floor(n / 12)).padStart(4, '0')}-${String((n % 12) + 1).padStart(2, '0')}`;

/** How many months a range holds, both ends counted. */
export const monthsIn = (range: MonthRange): number => number(range.to) - number(range.from) + 1;

function parameter(name: 'from' | 'to', value: unknown): string | undefined {
  // Absent or empty (a form's blank field) means the default; a repeated parameter is an array.
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !MONTH.test(value)) throw new EventlineError('bad_request', `${name} must be a month as YYYY-MM (0001-01 to 9999-12)`);
  return value;
}

/**
 * The range asked for by `?from=&to=`, defaults filled in: `to` is the later of the current UTC
 * month and `from`; `from` is DEFAULT_MONTHS months ending at `to`. Throws bad_request for a month
 * that is not `YYYY-MM`, `from` after `to`, or more than MAX_MONTHS months.
 */
export function monthRange(fromParam: unknown, toParam: unknown, now: Date): MonthRange {
  const asked = { from: parameter('from', fromParam), to: parameter('to', toParam) };
  const current = number(now.toISOString().slice(0, 7));
  const to = asked.to ?? text(Math.max(current, asked.from === undefined ? current : number(asked.from)));
  const from = asked.from ?? text(Math.max(FIRST, number(to) - DEFAULT_MONTHS + 1));
  const range = { from, to };
  if (number(from) > number(to)) throw new EventlineError('bad_request', `from (${from}) must not be after to (${to})`);
  if (monthsIn(range) > MAX_MONTHS) throw new EventlineError('bad_request', `from ${from} to ${to} spans ${monthsIn(range)} months; at most ${MAX_MONTHS} (10 years)${asked.to === undefined ? ' (to defaults to the current month)' : ''}`);
  return range;
}
