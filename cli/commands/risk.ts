/**
 * eventline risk lists add --list allow|block --kind <kind> --value <v> [--reason <why>] [--by <who>]
 * eventline risk lists remove --list allow|block --kind <kind> --value <v> [--by <who>]
 * eventline risk lists show
 * eventline risk backtest --policy <file.json> [--since <time>] [--json]
 *
 * Allow and block lists for fraud scoring (lib/risk/lists.ts): each change is stored and appended
 * as a RiskListChanged on risk.fraud-scores.v1; running scorers (the fraud processor, POST
 * /v1/risk/assess) use it within EVENTLINE_RISK_LISTS_REFRESH_MS. A bad kind or value exits 1
 * naming the problem, nothing appended.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { isEventlineError } from '../../lib/errors.ts';
import { backtest, policyFrom, type BacktestFact } from '../../lib/risk/backtest.ts';
import { changeList, listKinds, listNames, readLists, RiskLists, type ListKind, type ListName } from '../../lib/risk/lists.ts';
import { defaultFraudPolicy, paymentFacts, scoredTypes } from '../../lib/risk/score.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { readCustomer, readDispute, readStripeEvent } from '../../lib/stripe/index.ts';
import { line, table } from '../output.ts';
import { withRuntime } from '../runtime.ts';

interface ChangeOptions {
  readonly list: string;
  readonly kind: string;
  readonly value: string;
  readonly reason?: string;
  readonly by?: string;
}

function checked(opts: ChangeOptions): { list: ListName; kind: ListKind } | null {
  const problems = [
    ...((listNames as readonly string[]).includes(opts.list) ? [] : [`--list: allow or block, not ${opts.list}`]),
    ...((listKinds as readonly string[]).includes(opts.kind) ? [] : [`--kind: one of ${listKinds.join(', ')}, not ${opts.kind}`]),
  ];
  if (problems.length === 0) return { list: opts.list as ListName, kind: opts.kind as ListKind };
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.exitCode = 1;
  return null;
}

function change(kind: 'added' | 'removed') {
  return (opts: ChangeOptions) => {
    const ok = checked(opts);
    if (!ok) return Promise.resolve();
    return withRuntime(async (rt) => {
      try {
        const event = await changeList(rt.db, rt.kafka, { change: kind, list: ok.list, kind: ok.kind, value: opts.value, reason: opts.reason ?? null, actor: opts.by ?? userInfo().username });
        if (event) line(`${kind} ${event.kind} ${event.value} ${kind === 'added' ? 'to' : 'from'} the ${event.list} list (${event.event_id})`);
        else {
          line(kind === 'added' ? `${ok.kind} ${opts.value} is on the ${ok.list} list already` : `${ok.kind} ${opts.value} is not on the ${ok.list} list`);
          if (kind === 'removed') process.exitCode = 1;
        }
      } catch (err) {
        if (!isEventlineError(err, 'unprocessable')) throw err;
        for (const p of Array.isArray(err.detail) ? err.detail : [err.message]) process.stderr.write(`${String(p)}\n`);
        process.exitCode = 1;
      }
    });
  };
}

/** The stored payments, customers, fraud reports and labels, as the back-test reads them. */
async function backtestFacts(rt: Runtime, since: number | undefined): Promise<BacktestFact[]> {
  const facts: BacktestFact[] = [];
  const from = since === undefined ? {} : { fromTimestamp: since };
  await rt.kafka.readToEnd(
    'stripe.events.v1',
    (r) => {
      if (r.record !== 'StripeEventReceived') return;
      const e = r.value;
      if (scoredTypes.has(e.type)) {
        const p = paymentFacts(e.event_id, e.type, e.occurred_at, readStripeEvent(e.payload).object);
        if (p) facts.push({ kind: 'payment', facts: p });
      } else if (e.type === 'customer.created' || e.type === 'customer.updated') {
        const c = readCustomer(readStripeEvent(e.payload).object);
        if (c) facts.push({ kind: 'customer', at: e.occurred_at, customerId: c.id, customer: { createdAt: c.createdMs, email: c.email, country: c.country } });
      } else if (e.type === 'charge.dispute.created' || e.type === 'radar.early_fraud_warning.created') {
        const d = readDispute(readStripeEvent(e.payload).object);
        if (d?.chargeId && (e.type === 'radar.early_fraud_warning.created' || d.reason === 'fraudulent')) facts.push({ kind: 'fraud_report', at: e.occurred_at, chargeId: d.chargeId });
      }
    },
    from,
  );
  // Labels whenever they came (a dispute months after --since still labels a payment after it).
  await rt.kafka.readToEnd('risk.fraud-scores.v1', (r) => {
    if (r.record === 'PaymentLabeled' && (r.value.label === 'fraudulent' || r.value.label === 'legitimate')) facts.push({ kind: 'label', at: r.value.occurred_at, paymentId: r.value.payment_id, label: r.value.label });
  });
  return facts;
}

const pct = (x: number | null) => (x === null ? '—' : x.toFixed(4));

export function registerRiskCommands(program: Command): void {
  const risk = program.command('risk').description('fraud scoring: allow and block lists, policy back-tests');
  risk
    .command('backtest')
    .description('replay the stored payments through a candidate policy and compare it with the current one against the labels; appends nothing')
    .requiredOption('--policy <file>', 'JSON: any of weights, thresholds, newAccountDays, highAmountCents, … (the rest as the current policy)')
    .option('--since <time>', 'only payments from this ISO 8601 time')
    .option('--json', 'print the report as JSON')
    .action((opts: { policy: string; since?: string; json?: boolean }) => {
      const since = opts.since === undefined ? undefined : Date.parse(opts.since);
      if (since !== undefined && Number.isNaN(since)) {
        process.stderr.write(`--since: expected an ISO 8601 time, not ${opts.since}\n`);
        process.exitCode = 1;
        return Promise.resolve();
      }
      let text: string;
      try {
        text = readFileSync(opts.policy, 'utf8');
      } catch (err) {
        process.stderr.write(`--policy: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return Promise.resolve();
      }
      const candidate = policyFrom(text, defaultFraudPolicy);
      if (!candidate.ok) {
        for (const p of candidate.problems) process.stderr.write(`${opts.policy}: ${p}\n`);
        process.exitCode = 1;
        return Promise.resolve();
      }
      return withRuntime(async (rt) => {
        const facts = await backtestFacts(rt, since);
        const report = backtest(facts, defaultFraudPolicy, candidate.policy, await new RiskLists(rt.db).current());
        if (opts.json) return line(JSON.stringify(report, null, 2));
        line(`${report.payments} payments, ${report.fraudulent} labelled fraudulent`);
        const row = (name: string, f: typeof report.current) => [name, String(f.actions.allow), String(f.actions.review), String(f.actions.require_3ds), String(f.actions.block), pct(f.block.precision), pct(f.block.recall), pct(f.review.precision), pct(f.review.recall)];
        table([['policy', 'allow', 'review', 'require_3ds', 'block', 'block precision', 'block recall', 'review precision', 'review recall'], row('current', report.current), row('candidate', report.candidate)]);
      });
    });
  const lists = risk.command('lists').description('allow and block lists (email, email_domain, card_fingerprint, bin, ip, country, customer)');
  lists
    .command('add')
    .description('put a value on the allow or the block list (moving it from the other one)')
    .requiredOption('--list <list>', 'allow or block')
    .requiredOption('--kind <kind>', listKinds.join(', '))
    .requiredOption('--value <value>', 'the email, domain, fingerprint, BIN, IP, country code or customer id')
    .option('--reason <why>', 'why, shown in the factor of every payment it matches')
    .option('--by <who>', 'who (default: the operating-system user)')
    .action(change('added'));
  lists
    .command('remove')
    .description('take a value off a list')
    .requiredOption('--list <list>', 'allow or block')
    .requiredOption('--kind <kind>', listKinds.join(', '))
    .requiredOption('--value <value>', 'the value as it was added')
    .option('--by <who>', 'who (default: the operating-system user)')
    .action(change('removed'));
  lists
    .command('show')
    .description('every entry of both lists')
    .action(() =>
      withRuntime(async (rt) => {
        const rows = await readLists(rt.db);
        table([['list', 'kind', 'value', 'reason', 'added by', 'added at'], ...rows.map((r) => [r.list, r.kind, r.value, r.reason ?? '', r.added_by, r.added_at])]);
      }),
    );
}
