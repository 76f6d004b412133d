/**
 * eventline replay <projection> [--until <time>] — rebuild a projection from the beginning of its
 * topics into a new version of its tables while the current version keeps serving; when it has
 * caught up, switch the analytics views to it in one transaction. With --until, build a snapshot of
 * the data as it was known at that time (records received up to then) and leave the views alone.
 *
 * eventline replay mrr --policy <file> — build (or bring up to date) a side version with other
 * MRR policy settings next to the live one; the views are not switched.
 *
 * eventline projections list | drop <projection> <version> | activate <projection> <version>
 * eventline projections compare mrr <a> <b> — two versions' monthly bridges and every
 * customer-month that differs.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { EventlineError } from '../../lib/errors.ts';
import { buildVersion, type BuildProgress } from '../../lib/projection.ts';
import { activeVersion, dropVersion, getVersion, listVersions, type ProjectionVersion } from '../../lib/projection-versions.ts';
import { compareVersions, type BridgeMonth } from '../../projections/mrr/compare.ts';
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
    .option('--policy <file>', 'mrr only: build a side version with the MRR policy settings in this JSON file (docs/analytics.md); the views are not switched')
    .action(async (name: string, opts: { until?: string; keep: string; fresh?: boolean; policy?: string }) => {
      const names = name === 'all' ? Object.keys(versionedProjections) : [name];
      for (const n of names) {
        if (!versionedProjections[n]) throw new EventlineError('bad_request', `unknown projection ${n}; one of ${Object.keys(versionedProjections).join(', ')}, all`);
      }
      const until = opts.until === undefined ? undefined : new Date(opts.until);
      if (until && Number.isNaN(until.getTime())) throw new EventlineError('bad_request', `--until ${opts.until} is not a date`);
      let side: Record<string, unknown> | undefined;
      if (opts.policy !== undefined) {
        const parse = names.length === 1 ? versionedProjections[names[0] as string]?.parseSettings : undefined;
        if (!parse) throw new EventlineError('bad_request', `--policy applies to one projection that takes settings (mrr), not ${name}`);
        if (until) throw new EventlineError('bad_request', '--policy and --until do not go together: a side version follows the topic to its end');
        side = parse(readJsonFile(opts.policy));
      }
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
              ...(side ? { side } : {}),
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
            if (side) {
              const active = await activeVersion(rt.db, n);
              line(`side version ${version.schema} (v${version.version}) is up to date with ${JSON.stringify(side)}; the analytics views still show v${active?.version ?? '?'}`);
              line(`compare: eventline projections compare ${n} ${active?.version ?? '<active>'} ${version.version}; switch: eventline projections activate ${n} ${version.version}`);
              return;
            }
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
        const rows = (await listVersions(rt.db)).map((v) => [v.projection, v.version, v.schema, v.status, v.revision, v.activatedAt?.toISOString() ?? '', v.until?.toISOString() ?? '', v.settings ? JSON.stringify(v.settings) : '']);
        table([['projection', 'version', 'schema', 'status', 'revision', 'activated', 'until', 'settings'], ...rows]);
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

  projections
    .command('activate <projection> <version>')
    .description('bring a side or retired version up to date and switch the analytics views to it')
    .action(async (name: string, version: string) => {
      const def = versionedProjections[name];
      if (!def) throw new EventlineError('bad_request', `unknown projection ${name}; one of ${Object.keys(versionedProjections).join(', ')}`);
      const rt = Runtime.forCli();
      try {
        const v = await versionOf(rt, name, version);
        if (v.status === 'active') {
          line(`${name} v${v.version} is already active`);
          return;
        }
        if (v.status === 'snapshot') throw new EventlineError('conflict', `${v.schema} is a snapshot (as of ${v.until?.toISOString()}); it cannot be activated`);
        if (v.revision !== def.revision) throw new EventlineError('conflict', `${v.schema} was built by revision ${v.revision} of ${name}, this code is revision ${def.revision}: running processes would rebuild it at once; build a side version again`);
        const activated = await buildVersion(rt, def, { existing: v, maxLag: 0 });
        line(`${name} v${activated.version} is active: the analytics views now read ${activated.schema}${activated.settings ? ` (settings ${JSON.stringify(activated.settings)})` : ''}`);
      } finally {
        await rt.close();
      }
    });
  projections
    .command('compare <projection> <a> <b>')
    .description('mrr: the monthly bridge of two versions and every customer-month whose MRR differs, before any switch')
    .option('--limit <n>', 'customer-months listed at most', '100')
    .option('--json', 'print the comparison as JSON')
    .action(async (name: string, a: string, b: string, opts: { limit: string; json?: boolean }) => {
      if (name !== 'mrr') throw new EventlineError('bad_request', `compare is for the mrr projection, not ${name}`);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new EventlineError('bad_request', `--limit ${opts.limit} is not a positive whole number`);
      const rt = Runtime.forCli();
      try {
        const [va, vb] = [await versionOf(rt, name, a), await versionOf(rt, name, b)];
        const result = await compareVersions(rt.db, va.schema, vb.schema, { limit });
        if (opts.json) {
          line(JSON.stringify({ a: { ...describe(va), bridge: result.a.bridge }, b: { ...describe(vb), bridge: result.b.bridge }, differing_customer_months: result.differingCustomerMonths, differing_customers: result.differingCustomers, differences: result.differences }, null, 2));
          return;
        }
        for (const [v, rows] of [[va, result.a.bridge], [vb, result.b.bridge]] as const) {
          line(`${v.schema} (${v.status}${v.settings ? `, ${JSON.stringify(v.settings)}` : ', default settings'}): monthly bridge, cents`);
          table([['month', 'currency', 'new', 'expansion', 'reactivation', 'contraction', 'churn', 'net new', 'mrr at end'], ...rows.map(bridgeRow)]);
          line();
        }
        line(`${result.differingCustomerMonths} customer-months differ (${result.differingCustomers} customers)${result.differingCustomerMonths > result.differences.length ? `; the first ${result.differences.length}` : ''}:`);
        if (result.differences.length > 0) table([['customer', 'currency', 'month', `mrr v${va.version}`, `mrr v${vb.version}`, 'difference'], ...result.differences.map((d) => [d.customerId, d.currency, d.month, d.aCents, d.bCents, d.bCents - d.aCents])]);
      } finally {
        await rt.close();
      }
    });
}

function bridgeRow(r: BridgeMonth): (string | number)[] {
  return [r.month, r.currency, r.newCents, r.expansionCents, r.reactivationCents, r.contractionCents, r.churnCents, r.netNewCents, r.mrrEndCents];
}

function describe(v: ProjectionVersion): Record<string, unknown> {
  return { version: v.version, schema: v.schema, status: v.status, settings: v.settings };
}

/** A version given on the command line: a number, or `active`. */
async function versionOf(rt: Runtime, name: string, text: string): Promise<ProjectionVersion> {
  const v = text === 'active' ? await activeVersion(rt.db, name) : /^\d+$/.test(text) ? await getVersion(rt.db, name, Number(text)) : undefined;
  if (v === undefined) throw new EventlineError('bad_request', `version ${text} is neither a number nor active`);
  if (v === null) throw new EventlineError('not_found', `${name} has no version ${text}`);
  return v;
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EventlineError('bad_request', `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EventlineError('bad_request', `${file} is not JSON: ${(err as Error).message}`);
  }
}
