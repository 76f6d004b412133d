/**
 * eventline reconcile stripe [--fix] [--json] — compare every subscription Stripe lists with
 * analytics.subscriptions (status, items, MRR); each drift with its likely cause. --fix appends the
 * events Stripe's events API still has and the topic misses (the backfill of the last 30 days).
 * Exits 1 while drifts remain that the run did not (or could not) repair.
 */
import type { Command } from 'commander';
import { EventlineError } from '../../lib/errors.ts';
import { stripeClient } from '../../lib/stripe/client.ts';
import { backfillStripe, STRIPE_EVENT_RETENTION_DAYS } from '../../producers/stripe/backfill.ts';
import { reconcileStripe, type Drift } from '../../producers/stripe/reconcile.ts';
import { line, table } from '../output.ts';
import { withRuntime } from '../runtime.ts';

const DAY = 86_400_000;
const money = (cents: number | null | undefined) => (cents === null || cents === undefined ? '—' : (cents / 100).toFixed(2));

function printDrifts(drifts: readonly Drift[]): void {
  table([
    ['subscription', 'customer', 'drift', 'stripe', 'eventline', 'likely cause', 'backfill'],
    ...drifts.map((d) => [
      d.subscriptionId,
      d.customerId ?? '',
      d.kinds.join(', '),
      d.stripe ? `${d.stripe.status}; ${d.stripe.items}; MRR ${money(d.stripe.mrrCents)}` : '—',
      d.eventline ? `${d.eventline.status}; ${d.eventline.items}; MRR ${money(d.eventline.mrrCents)}` : '—',
      d.cause,
      d.backfillable ? 'can fetch' : `older than ${STRIPE_EVENT_RETENTION_DAYS} days`,
    ]),
  ]);
}

export function registerReconcileCommands(program: Command): void {
  const reconcile = program.command('reconcile').description('compare what Eventline derived with the source of truth');
  reconcile
    .command('stripe')
    .description('list every subscription through Stripe’s API and compare status, items and MRR with analytics.subscriptions')
    .option('--fix', `append the events Stripe still has (about ${STRIPE_EVENT_RETENTION_DAYS} days) that stripe.events.v1 misses`)
    .option('--json', 'one JSON object: the report (and the backfill, with --fix)')
    .action((opts: { fix?: boolean; json?: boolean }) =>
      withRuntime(async (rt) => {
        const { apiKey, apiUrl } = rt.config.stripe;
        if (!apiKey) throw new EventlineError('not_configured', 'STRIPE_API_KEY is not set: a restricted key that reads subscriptions (and events, for --fix) is enough');
        const stripe = stripeClient(apiKey, apiUrl);
        const report = await reconcileStripe(rt, stripe);
        const fix = opts.fix && report.drifts.some((d) => d.backfillable) ? await backfillStripe(rt, stripe, { since: new Date(Date.now() - STRIPE_EVENT_RETENTION_DAYS * DAY) }) : null;
        const unrepaired = report.drifts.filter((d) => !(fix && d.backfillable));
        if (opts.json) {
          line(JSON.stringify({ ...report, backfill: fix }));
        } else {
          line(`Stripe lists ${report.stripeSubscriptions} subscriptions, Eventline knows ${report.eventlineSubscriptions}: ${report.matching} match, ${report.drifts.length} drift${report.drifts.length === 1 ? '' : 's'}`);
          if (report.drifts.length > 0) printDrifts(report.drifts);
          if (fix) {
            line(`backfill: ${fix.listed} events listed since ${fix.since.toISOString()}, ${fix.present} already in stripe.events.v1, ${fix.appended} appended`);
            line('run `eventline reconcile stripe` again once the MRR projection has caught up (`eventline status`)');
          } else if (report.drifts.some((d) => d.backfillable)) {
            line('`eventline reconcile stripe --fix` appends the missing events Stripe still has');
          }
        }
        if (unrepaired.length > 0) process.exitCode = 1;
      }),
    );
}
