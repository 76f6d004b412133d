/**
 * eventline providers — the message providers behind dispatch:
 *   status           each provider's circuit, recent delivery success rate, the prices in force
 *   prices <file>    installs an SMS price table (validated; running dispatchers read it within a minute)
 */
import type { Command } from 'commander';
import { CircuitBreakers } from '../../processors/dispatch/circuit.ts';
import { providersFor } from '../../processors/dispatch/providers.ts';
import { PriceBook, readPriceTable, SuccessRates } from '../../processors/dispatch/routing.ts';
import { line, table } from '../output.ts';
import { withRuntime } from '../runtime.ts';

const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
const ago = (ms: number | null, now: number) => (ms === null ? '-' : `${Math.round((now - ms) / 1000)} s ago`);

export function registerProvidersCommands(program: Command): void {
  const providers = program.command('providers').description('message providers: circuits, success rates, prices');
  providers
    .command('status')
    .description('each provider: its circuit (shared by every instance), calls and failures in the window, delivery success over 24 h, and SMS prices per segment')
    .option('--json', 'machine-readable')
    .option('--countries <list>', 'price columns for these destination countries', 'US,GB,DE,FR,IN')
    .action((opts: { json?: boolean; countries: string }) =>
      withRuntime(async (rt) => {
        const configured = providersFor(rt.config, rt.db);
        const list = [
          { channel: 'email', name: configured.email.name },
          ...(configured.emailSecondary ? [{ channel: 'email', name: configured.emailSecondary.name }] : []),
          { channel: 'sms', name: configured.sms.name },
          ...(configured.smsSecondary ? [{ channel: 'sms', name: configured.smsSecondary.name }] : []),
        ];
        const breakers = new CircuitBreakers(rt.redis);
        const rates = new SuccessRates(rt.redis);
        const book = new PriceBook(rt.db);
        await book.refresh();
        const prices = book.current();
        const countries = opts.countries.split(',').map((c) => c.trim().toUpperCase()).filter(Boolean);
        const now = Date.now();
        const rows = await Promise.all(
          list.map(async (p) => {
            const circuit = await breakers.status(p.name, now);
            const delivery = await rates.rate(p.name, now);
            const perCountry = Object.fromEntries(countries.map((c) => [c, prices.providers[p.name]?.[c] ?? prices.providers[p.name]?.['*'] ?? null]));
            return { channel: p.channel, provider: p.name, circuit: circuit.state, since: circuit.since, open_until: circuit.openUntil, window_calls: circuit.calls, window_failures: circuit.failures, delivered_24h: delivery.delivered, failed_24h: delivery.failed, success_rate_24h: delivery.rate, prices_micros: p.channel === 'sms' ? perCountry : null };
          }),
        );
        if (opts.json) {
          line(JSON.stringify({ currency: prices.currency, providers: rows }, null, 2));
          return;
        }
        table([
          ['channel', 'provider', 'circuit', 'changed', 'calls/failures (window)', 'success 24h', ...countries.map((c) => `${c} ${prices.currency}/segment`)],
          ...rows.map((r) => [
            r.channel,
            r.provider,
            r.circuit + (r.open_until ? ` (probe in ${Math.max(0, Math.round((r.open_until - now) / 1000))} s)` : ''),
            ago(r.since, now),
            `${r.window_calls}/${r.window_failures}`,
            `${pct(r.success_rate_24h)} of ${r.delivered_24h + r.failed_24h}`,
            ...countries.map((c) => (r.prices_micros && r.prices_micros[c] != null ? (r.prices_micros[c] / 1e6).toFixed(4) : '-')),
          ]),
        ]);
      }),
    );
  providers
    .command('prices')
    .description('install an SMS price table (JSON as processors/dispatch/prices/sms.json: currency, and per provider millionths per segment by ISO country, * for the rest); a bad file installs nothing')
    .argument('<file>', 'the price table')
    .action((file: string) =>
      withRuntime(async (rt) => {
        const table = readPriceTable(file);
        await PriceBook.install(rt.db, table, file);
        const n = Object.values(table.providers).reduce((sum, p) => sum + Object.keys(p).length, 0);
        line(`installed ${n} prices in ${table.currency} for ${Object.keys(table.providers).join(', ')}; running dispatchers use them within a minute`);
      }),
    );
}
