/**
 * eventline privacy export <userId>
 *
 * Personal data (ADR 0018). `export` prints to stdout everything Eventline holds about a user as
 * one JSON document (format eventline.user-export.v1, producers/privacy/export.ts), the same as
 * GET /v1/users/:userId/export. Needs EVENTLINE_MASTER_KEY to open the personal fields. A bad user
 * id exits 1 naming the problem.
 */
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { requestErasure, runErasure } from '../../producers/privacy/erase.ts';
import { exportUser, findSubjects } from '../../producers/privacy/export.ts';
import { migrateTopics } from '../../producers/privacy/migrate.ts';
import { USER_ID } from '../../producers/preferences/route.ts';
import { line } from '../output.ts';
import { withRuntime } from '../runtime.ts';

function validUserId(userId: string): boolean {
  if (USER_ID.test(userId)) return true;
  process.stderr.write('userId must be 1..128 letters, digits or _.:@+-\n');
  process.exitCode = 1;
  return false;
}

export function registerPrivacyCommand(program: Command): void {
  const privacy = program.command('privacy').description("a user's personal data: export or erase it; seal records from before sealing (migrate)");
  privacy
    .command('export <userId>')
    .description('print everything Eventline holds about the user as one JSON document (personal fields opened)')
    .action((userId: string) => {
      if (!validUserId(userId)) return Promise.resolve();
      return withRuntime(async (rt) => {
        line(JSON.stringify(await exportUser(rt, userId), null, 2));
      });
    });

  privacy
    .command('erase <userId>')
    .description("right to be forgotten: destroy the user's data keys, purge their personal data, append a UserErased (idempotent; finishes an interrupted erasure)")
    .action((userId: string) => {
      if (!validUserId(userId)) return Promise.resolve();
      return withRuntime(async (rt) => {
        const requested = await requestErasure(rt, userId, `cli:${userInfo().username}`);
        const done = await runErasure(rt, requested.erasure_id, findSubjects);
        line(JSON.stringify(done, null, 2));
      });
    });

  privacy
    .command('migrate')
    .description('copy every topic into the same topics of another namespace, sealing the personal data of records appended before it was sealed; resumable, run again to copy what was appended since (README: Privacy)')
    .requiredOption('--to <namespace>', 'the namespace to copy into (EVENTLINE_NAMESPACE of the Eventline that will read it)')
    .action((opts: { to: string }) =>
      withRuntime(async (from) => {
        const to = from.forNamespace(opts.to);
        try {
          const done = await migrateTopics(from, to, (m) => line(`${m.topic}: ${m.copied} copied (${m.alreadyCopied} before), ${m.partitions} partitions`));
          line(`${done.reduce((n, m) => n + m.copied, 0)} records copied into namespace ${opts.to}`);
        } finally {
          await to.close();
        }
      }),
    );
}
