/**
 * Runs the test suite with node:test, tier by tier: unit (*.unit.test.ts, no services), then
 * integration (*.int.test.ts) and end-to-end (*.e2e.test.ts) against the real local stack.
 *
 *   tsx test/run.ts [--tier unit|int|e2e|all] [path filter ...]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { projectRoot } from '../lib/migrate.ts';
import { testRunnerArgs } from './support/runner-args.ts';

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
// Each tier's report is also written to a file, so the failures (with their errors) are repeated at
// the very end: a CI log is read from its tail, where a later tier's output would bury them.
const reports = mkdtempSync(join(tmpdir(), 'eventline-tests-'));
const recaps: string[] = [];
for (const tier of selected) {
  const files = all.filter((f) => f.endsWith(`.${tier}.test.ts`) && (filters.length === 0 || filters.some((p) => f.includes(p))));
  if (files.length === 0) continue;
  console.log(`\n== ${tier} tests (${files.length} files)`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [...testRunnerArgs({ timeoutMs: tier === 'e2e' ? 600_000 : 180_000, concurrency: concurrency[tier] }), '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=spec', `--test-reporter-destination=${join(reports, `${tier}.txt`)}`, ...files],
    // A hook that hangs (node:test gives hooks no timeout) must fail the tier, not eat CI's time.
    { cwd: projectRoot, stdio: 'inherit', env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' }, timeout: tierTimeoutMs[tier], killSignal: 'SIGKILL' },
  );
  if (result.error) console.log(`== ${tier} tests did not finish within ${tierTimeoutMs[tier] / 60_000} min: ${result.error.message}`);
  console.log(`== ${tier} tests ${result.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (result.status !== 0) {
    failed = true;
    recaps.push(failureRecap(tier, join(reports, `${tier}.txt`)));
  }
}
for (const recap of recaps) console.log(recap);
rmSync(reports, { recursive: true, force: true });
process.exit(failed ? 1 : 0);

/**
 * The failing tests of a tier with their errors (stack frames left out), from its report file: each
 * "✖" line and what the spec reporter printed under it. (The report's own closing "failing tests"
 * list may be cut short by --test-force-exit, so it is not relied on.)
 */
function failureRecap(tier: Tier, file: string): string {
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    // No report: the tier died before writing one; its own output above says why.
  }
  const out: string[] = [];
  for (let i = 0; i < lines.length && out.length < 400; i++) {
    if (!lines[i]!.includes('✖ ') || lines[i]!.includes('failing tests:')) continue;
    out.push(lines[i]!);
    for (let j = i + 1, kept = 0; j < lines.length && kept < 40 && !/[✔✖▶ℹ] /.test(lines[j]!); j++) {
      if (/^\s+at /.test(lines[j]!) || lines[j]!.trim() === '') continue;
      out.push(lines[j]!);
      kept++;
    }
  }
  return `\n== ${tier} tests FAILED on node ${process.version}; the failures again:\n${out.length ? out.join('\n') : '(no failing test in the report: see the tier\'s output above)'}`;
}
