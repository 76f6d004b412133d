/**
 * eventline replay <projection> [--until <time>] — rebuild a projection from the beginning of its
 * topics into a new version of its tables while the current version keeps serving; when it has
 * caught up, switch the analytics views to it in one transaction. With --until, build a snapshot of
 * the data as it was known at that time (records received up to then) and leave the views alone.
 *
 * eventline projections list | drop <projection> <version>
 */
import type { Command } from 'commander';
import { EventlineError } from '../../lib/errors.ts';
import { buildVersion, type BuildProgress } from '../../lib/projection.ts';
import { dropVersion, listVersions } from '../../lib/projection-versions.ts';
import { Runtime } from '../../lib/runtime.ts';
import { versionedProjections } from '../../projections/index.ts';
import { line, table } from '../output.ts';

function progressLine(p: BuildProgress): string {
  const width = 30;
  const total = p.applied + p.lag;
  const done = total === 0 ? 1 : p.applied / total;
  const bar = '#'.repeat(Math.round(done * width)).padEnd(width, '.');
  return `${p.version.schema} ${p.phase.padEnd(9)} [${bar}] ${Math.round(done * 100)}%  ${Math.round(p.eventsPerSecond)} events/s  lag ${p.lag}`;
}

export function registerReplayCommands(program: Command): void {
  program
    .command('replay <projection>')
    .description(`rebuild a projection into a new version and switch to it when caught up (${Object.keys(versionedProjections).join(', ')}, or all of them at once: all)`)
    .option('--until <time>', 'build a snapshot as known at this ISO time (records received up to then); the views are not switched')
    .option('--keep <n>', 'retired versions to keep after switching (older ones are dropped)', '1')
    .option('--fresh', 'start a new version even when a rebuild of this revision was interrupted (default: continue it)')
    .action(async (name: string, opts: { until?: string; keep: string; fresh?: boolean }) => {
      const names = name === 'all' ? Object.keys(versionedProjections) : [name];
      for (const n of names) {
        if (!versionedProjections[n]) throw new EventlineError('bad_request', `unknown projection ${n}; one of ${Object.keys(versionedProjections).join(', ')}, all`);
      }
      const until = opts.until === undefined ? undefined : new Date(opts.until);
      if (until && Number.isNaN(until.getTime())) throw new EventlineError('bad_request', `--until ${opts.until} is not a date`);
      const rt = Runtime.forCli();
      // One line per projection on a terminal (redrawn in place), a line every 5 s otherwise.
      const tty = process.stdout.isTTY && names.length === 1;
      const lastPrint = new Map<string, number>();
      try {
        // Projections read different topics and write different schemas: they rebuild side by side.
        await Promise.all(
          names.map(async (n) => {
            const def = versionedProjections[n] as (typeof versionedProjections)[string];
            const version = await buildVersion(rt, def, {
              ...(until ? { until } : {}),
              ...(opts.fresh ? { fresh: true } : {}),
              onVersion: (v, resumed) => line(resumed ? `continuing the interrupted rebuild ${v.schema} (phase ${v.phase})` : `building ${v.schema}`),
              onProgress: (p) => {
                if (tty) process.stdout.write(`\r${progressLine(p)}   `);
                else if (Date.now() - (lastPrint.get(n) ?? 0) > 5000 || p.lag === 0) {
                  lastPrint.set(n, Date.now());
                  line(progressLine(p));
                }
              },
            });
            if (tty) process.stdout.write('\n');
            if (until) {
              line(`snapshot ${version.schema} built as of ${until.toISOString()}; query its tables directly (the analytics views still show ${n}'s active version)`);
              return;
            }
            line(`${n} v${version.version} is active: the analytics views now read ${version.schema}`);
            const retired = (await listVersions(rt.db, n)).filter((v) => v.status === 'retired').sort((a, b) => b.version - a.version);
            for (const old of retired.slice(Number(opts.keep))) {
              await dropVersion(rt.db, n, old.version);
              line(`dropped retired ${old.schema}`);
            }
          }),
        );
      } finally {
        await rt.close();
      }
    });

  const projections = program.command('projections').description('projection versions');
  projections
    .command('list')
    .description('every version of every projection, with its status')
    .action(async () => {
      const rt = Runtime.forCli();
      try {
        const rows = (await listVersions(rt.db)).map((v) => [v.projection, v.version, v.schema, v.status, v.revision, v.activatedAt?.toISOString() ?? '', v.until?.toISOString() ?? '']);
        table([['projection', 'version', 'schema', 'status', 'revision', 'activated', 'until'], ...rows]);
      } finally {
        await rt.close();
      }
    });
  projections
    .command('drop <projection> <version>')
    .description('drop a version that is not active (its schema and checkpoints)')
    .action(async (name: string, version: string) => {
      const rt = Runtime.forCli();
      try {
        await dropVersion(rt.db, name, Number(version));
        line(`dropped ${name} v${version}`);
      } finally {
        await rt.close();
      }
    });
}
