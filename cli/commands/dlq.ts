/**
 * eventline dlq list [group] [--json] | replay <group> [--offset <n...>] [--dry-run]
 */
import type { Command } from 'commander';
import { dlqGroups, listDeadLetters, replayDeadLetters, summarizeDlqs, type DeadLetterEntry } from '../../lib/dlq.ts';
import { EventlineError } from '../../lib/errors.ts';
import { line, table } from '../output.ts';
import { withRuntime } from '../runtime.ts';

const origin = (e: DeadLetterEntry) => `${e.origin.topic}:${e.origin.partition}:${e.origin.offset}`;
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function asJson(e: DeadLetterEntry): Record<string, unknown> {
  return {
    group: e.group,
    offset: e.dlqOffset,
    origin: origin(e),
    key: e.key,
    error_code: e.errorCode,
    error: e.error,
    attempts: e.attempts,
    occurred_at: e.occurredAt.toISOString(),
    dead_lettered_at: e.deadLetteredAt.toISOString(),
    replayed_at: e.replayedAt?.toISOString() ?? null,
    replayed_times: e.replayedTimes,
  };
}

export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('records consumer groups could not process: list them, replay them once the cause is fixed');
  dlq
    .command('list [group]')
    .description('without a group: every dead-letter queue with its counts; with one: its dead letters, oldest first')
    .option('--json', 'one JSON object per line')
    .action((group: string | undefined, opts: { json?: boolean }) =>
      withRuntime(async (rt) => {
        if (!group) {
          const summaries = await summarizeDlqs(rt);
          if (opts.json) for (const s of summaries) line(JSON.stringify(s));
          else if (summaries.length === 0) line('no dead-letter queues: every record was processed');
          else table([['group', 'topic', 'dead letters', 'replayed', 'pending'], ...summaries.map((s) => [s.group, s.topic, s.total, s.replayed, s.pending])]);
          return;
        }
        if (!(await dlqGroups(rt)).includes(group)) throw new EventlineError('not_found', `no dead-letter queue for group ${group}; groups with one: ${(await dlqGroups(rt)).join(', ') || 'none'}`);
        const entries = await listDeadLetters(rt, group);
        if (opts.json) {
          for (const e of entries) line(JSON.stringify(asJson(e)));
          return;
        }
        table([
          ['offset', 'origin', 'key', 'error code', 'attempts', 'dead-lettered', 'replayed', 'error'],
          ...entries.map((e) => [e.dlqOffset, origin(e), e.key ?? '', e.errorCode, e.attempts, e.deadLetteredAt.toISOString(), e.replayedAt ? `${e.replayedAt.toISOString()} (${e.replayedTimes}×)` : 'no', clip(e.error, 80)]),
        ]);
      }),
    );
  dlq
    .command('replay <group>')
    .description('re-append dead letters to their original topics for this group only (the others already processed the originals)')
    .option('--offset <offsets...>', 'DLQ offsets to replay (also ones replayed before); default: every dead letter not yet replayed')
    .option('--dry-run', 'show what would be replayed')
    .action((group: string, opts: { offset?: string[]; dryRun?: boolean }) =>
      withRuntime(async (rt) => {
        for (const o of opts.offset ?? []) if (!/^\d+$/.test(o)) throw new EventlineError('bad_request', `--offset ${o} is not an offset`);
        const replayed = await replayDeadLetters(rt, group, { ...(opts.offset ? { offsets: opts.offset } : {}), dryRun: opts.dryRun === true });
        for (const e of replayed) line(`${opts.dryRun ? 'would replay' : 'replayed'} ${e.dlqOffset}  ${origin(e)}  ${e.errorCode}`);
        line(`${replayed.length} dead letter${replayed.length === 1 ? '' : 's'} ${opts.dryRun ? 'would be' : ''} replayed for ${group}`.replace('  ', ' '));
      }),
    );
}
