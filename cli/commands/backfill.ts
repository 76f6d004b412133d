/**
 * eventline backfill stripe --since <date> [--dry-run] — append the Stripe events the topic misses,
 * from Stripe's events API (about 30 days of history), deduplicated by event id.
 */
import type { Command } from 'commander';
import { EventlineError } from '../../lib/errors.ts';
import { stripeClient } from '../../lib/stripe/client.ts';
import { backfillStripe, STRIPE_EVENT_RETENTION_DAYS } from '../../producers/stripe/backfill.ts';
import { line } from '../output.ts';
import { withRuntime } from '../runtime.ts';

const DAY = 86_400_000;

/** An ISO date or time, or a number of days ago ("7d"). */
export function parseSince(text: string, now = Date.now()): Date {
  const days = /^(\d+)d$/.exec(text);
  const since = days ? new Date(now - Number(days[1]) * DAY) : /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(since.getTime())) throw new EventlineError('bad_request', `--since ${text} is not a date: give an ISO date or time (2026-11-01, 2026-11-01T12:00:00Z) or days ago (7d)`);
  if (since.getTime() > now) throw new EventlineError('bad_request', `--since ${text} is in the future`);
  return since;
}

export function registerBackfillCommands(program: Command): void {
  const backfill = program.command('backfill').description('append events a source has that the topics miss');
  backfill
    .command('stripe')
    .description(`page through Stripe's events API (about ${STRIPE_EVENT_RETENTION_DAYS} days of history) and append the events stripe.events.v1 does not hold`)
    .requiredOption('--since <date>', 'ISO date or time, or days ago (7d)')
    .option('--dry-run', 'count what is missing without appending')
    .action((opts: { since: string; dryRun?: boolean }) => {
      const since = parseSince(opts.since);
      return withRuntime(async (rt) => {
        const { apiKey, apiUrl } = rt.config.stripe;
        if (!apiKey) throw new EventlineError('not_configured', 'STRIPE_API_KEY is not set: a restricted key with read access to events is enough');
        if (Date.now() - since.getTime() > STRIPE_EVENT_RETENTION_DAYS * DAY) {
          process.stderr.write(`note: Stripe keeps about ${STRIPE_EVENT_RETENTION_DAYS} days of events; older ones cannot be backfilled from its API\n`);
        }
        const report = await backfillStripe(rt, stripeClient(apiKey, apiUrl), {
          since,
          dryRun: opts.dryRun === true,
          onProgress: (n) => {
            if (process.stderr.isTTY) process.stderr.write(`\rlisted ${n} events`);
          },
        });
        if (process.stderr.isTTY) process.stderr.write('\n');
        const missing = report.listed - report.present - report.skippedMalformed.length;
        line(`Stripe events since ${since.toISOString()}: ${report.listed} listed, ${report.present} already in stripe.events.v1, ${opts.dryRun ? `${missing} missing (dry run: nothing appended)` : `${report.appended} appended`}`);
        if (report.skippedMalformed.length > 0) line(`not appended (not Stripe events): ${report.skippedMalformed.join(', ')}`);
      });
    });
}
