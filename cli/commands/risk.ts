/**
 * eventline risk lists add --list allow|block --kind <kind> --value <v> [--reason <why>] [--by <who>]
 * eventline risk lists remove --list allow|block --kind <kind> --value <v> [--by <who>]
 * eventline risk lists show
 *
 * Allow and block lists for fraud scoring (lib/risk/lists.ts): each change is stored and appended
 * as a RiskListChanged on risk.fraud-scores.v1; running scorers (the fraud processor, POST
 * /v1/risk/assess) use it within EVENTLINE_RISK_LISTS_REFRESH_MS. A bad kind or value exits 1
 * naming the problem, nothing appended.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { isEventlineError } from '../../lib/errors.ts';
import { changeList, listKinds, listNames, readLists, type ListKind, type ListName } from '../../lib/risk/lists.ts';
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

export function registerRiskCommands(program: Command): void {
  const lists = program.command('risk').description('fraud scoring: allow and block lists').command('lists').description('allow and block lists (email, email_domain, card_fingerprint, bin, ip, country, customer)');
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
