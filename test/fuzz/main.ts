/**
 * npm run fuzz [-- --requests 10000 --seed <n> --concurrency 16 --warmup 500]
 *
 * Sends generated hostile requests to every route of a real in-process Eventline on the local
 * stack (its own namespace and database, removed afterwards), prints what came back, and exits 1
 * unless every answer was a 4xx, nothing was appended, metric series stayed bounded, the process is
 * healthy and the heap is within 10 % of where it started. Run with --expose-gc (the npm script
 * does) so the heap is compared after a full collection.
 */
import { parseArgs } from 'node:util';
import { formatReport, fuzzProblems, openFuzzEnvironment, runFuzz } from './harness.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '500' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
  },
});
const options = {
  requests: Number(values.requests),
  warmup: Number(values.warmup),
  seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed),
  concurrency: Number(values.concurrency),
};
for (const [name, v] of Object.entries(options)) {
  if (!Number.isInteger(v) || v < 0) {
    console.error(`--${name} must be a whole number`);
    process.exit(2);
  }
}

const env = await openFuzzEnvironment('fuzz');
let problems: string[];
try {
  const report = await runFuzz(env, options);
  console.log(formatReport(report));
  problems = fuzzProblems(report);
} finally {
  await env.close();
}
if (problems.length > 0) {
  console.error(`fuzz: FAILED\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log('fuzz: passed — only 4xx answers, nothing appended, series bounded, healthy, heap steady');
process.exit(0);
