/**
 * Exchange rates for the reporting-currency MRR series (analytics.mrr_reporting_daily): a CSV of
 * `date,currency,rate` lines (a header line is skipped) — one unit of `currency` is `rate` units of
 * the reporting currency on that UTC day. Parsed whole before anything is stored: one bad line
 * loads nothing.
 */
import { recordset, recordsetParam, type Db } from './db.ts';
import { EventlineError } from './errors.ts';

export interface FxRate {
  readonly day: string;
  readonly currency: string;
  readonly rate: string;
}

/** The rates of a CSV, or a bad_request naming every bad line. */
export function parseFxCsv(text: string, reportingCurrency: string): FxRate[] {
  const rates = new Map<string, FxRate>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || (i === 0 && /^date\s*,/i.test(line))) return;
    const [day = '', currency = '', rate = '', ...rest] = line.split(',').map((c) => c.trim());
    const at = `line ${i + 1}`;
    const date = /^\d{4}-\d{2}-\d{2}$/.test(day) ? new Date(`${day}T00:00:00Z`) : null;
    if (rest.length > 0) problems.push(`${at}: expected date,currency,rate`);
    else if (!date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== day) problems.push(`${at}: ${JSON.stringify(day)} is not a date (YYYY-MM-DD)`);
    else if (!/^[a-zA-Z]{3}$/.test(currency)) problems.push(`${at}: ${JSON.stringify(currency)} is not a three-letter currency code`);
    else if (currency.toLowerCase() === reportingCurrency) problems.push(`${at}: ${currency} is the reporting currency (its rate is 1)`);
    else if (!/^\d+(\.\d+)?$/.test(rate) || Number(rate) <= 0) problems.push(`${at}: ${JSON.stringify(rate)} is not a positive decimal rate`);
    else {
      const key = `${day}|${currency.toLowerCase()}`;
      if (rates.has(key) && rates.get(key)?.rate !== rate) problems.push(`${at}: a second, different rate for ${currency.toLowerCase()} on ${day}`);
      rates.set(key, { day, currency: currency.toLowerCase(), rate });
    }
  });
  if (problems.length > 0) throw new EventlineError('bad_request', `the rates were not loaded: ${problems.slice(0, 20).join('; ')}${problems.length > 20 ? `; and ${problems.length - 20} more` : ''}`);
  if (rates.size === 0) throw new EventlineError('bad_request', 'the file holds no rates (expected lines of date,currency,rate)');
  return [...rates.values()].sort((a, b) => (a.day === b.day ? (a.currency < b.currency ? -1 : 1) : a.day < b.day ? -1 : 1));
}

/** Stores the rates in one transaction (a rate given again for a day replaces it); returns how many. */
export async function loadFxRates(db: Db, reportingCurrency: string, rates: readonly FxRate[]): Promise<number> {
  await db.transaction(async (client) => {
    await client.query(
      `INSERT INTO public.fx_rates (reporting_currency, day, currency, rate)
       SELECT $1, r.day, r.currency, r.rate FROM ${recordset({ day: 'date', currency: 'text', rate: 'numeric' }, 2)}
       ON CONFLICT (reporting_currency, currency, day) DO UPDATE SET rate = excluded.rate, loaded_at = now()`,
      [reportingCurrency, recordsetParam(rates)],
    );
  });
  return rates.length;
}
