/**
 * Runs the test suite with node:test, tier by tier: unit (*.unit.test.ts, no services), then
 * integration (*.int.test.ts) and end-to-end (*.e2e.test.ts) against the real local stack.
 *
 *   tsx test/run.ts [--tier unit|int|e2e|all] [path filter ...]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../lib/migrate.ts';

const tiers = ['unit', 'int', 'e2e'] as const;
type Tier = (typeof tiers)[number];
const concurrency: Record<Tier, number> = { unit: 2, int: 2, e2e: 1 };
const tierTimeoutMs: Record<Tier, number> = { unit: 5 * 60_000, int: 20 * 60_000, e2e: 30 * 60_000 };
const skipDirs = new Set(['node_modules', '.infra', '.git', 'dist']);

function findTests(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skipDirs.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) findTests(path, out);
    else if (/\.(unit|int|e2e)\.test\.ts$/.test(entry.name)) out.push(relative(projectRoot, path));
  }
  return out;
}

const args = process.argv.slice(2);
const tierArg = args.includes('--tier') ? args[args.indexOf('--tier') + 1] : 'all';
const filters = args.filter((a, i) => a !== '--tier' && args[i - 1] !== '--tier');
const selected: Tier[] = tierArg === 'all' ? [...tiers] : tiers.filter((t) => t === tierArg);
if (selected.length === 0) {
  console.error(`unknown tier ${tierArg}; use unit, int, e2e or all`);
  process.exit(2);
}

const all = findTests(projectRoot).sort();
let failed = false;
for (const tier of selected) {
  const files = all.filter((f) => f.endsWith(`.${tier}.test.ts`) && (filters.length === 0 || filters.some((p) => f.includes(p))));
  if (files.length === 0) continue;
  console.log(`\n== ${tier} tests (${files.length} files)`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    // --test-force-exit: a file whose tests are done exits even if something leaked a connection;
    // --test-timeout: no single test may hang CI.
    ['--import', 'tsx', '--test', '--test-force-exit', `--test-timeout=${tier === 'e2e' ? 600_000 : 180_000}`, `--test-concurrency=${concurrency[tier]}`, '--test-reporter=spec', ...files],
    // A hook that hangs (node:test gives hooks no timeout) must fail the tier, not eat CI's time.
    { cwd: projectRoot, stdio: 'inherit', env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' }, timeout: tierTimeoutMs[tier], killSignal: 'SIGKILL' },
  );
  if (result.error) console.log(`== ${tier} tests did not finish within ${tierTimeoutMs[tier] / 60_000} min: ${result.error.message}`);
  console.log(`== ${tier} tests ${result.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
