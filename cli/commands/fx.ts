/**
 * eventline fx load <csv> — daily exchange rates into the reporting currency
 * (EVENTLINE_REPORTING_CURRENCY), for analytics.mrr_reporting_daily.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { EventlineError } from '../../lib/errors.ts';
import { loadFxRates, parseFxCsv } from '../../lib/fx.ts';
import { line } from '../output.ts';
import { withRuntime } from '../runtime.ts';

export function registerFxCommands(program: Command): void {
  const fx = program.command('fx').description('exchange rates for the reporting-currency MRR series');
  fx.command('load')
    .description('load daily rates from a CSV of date,currency,rate (1 currency = rate reporting currency); one bad line loads nothing')
    .argument('<csv>', 'the file')
    .action((file: string) =>
      withRuntime(async (rt) => {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          throw new EventlineError('bad_request', `cannot read ${file}: ${(err as Error).message}`);
        }
        const reporting = rt.config.reportingCurrency;
        const rates = parseFxCsv(text, reporting);
        const n = await loadFxRates(rt.db, reporting, rates);
        const currencies = [...new Set(rates.map((r) => r.currency))].join(', ');
        line(`loaded ${n} rates into ${reporting} for ${currencies}, ${rates[0]?.day} to ${rates.at(-1)?.day}`);
      }),
    );
}
