/**
 * The bounded run of the HTTP fuzz inside `npm test` (test/fuzz/: `npm run fuzz` sends 10,000):
 * generated malformed, forged, oversized, deeply nested, wrongly encoded and wrongly authenticated
 * requests across every route of a real in-process app on the real stack.
 *
 * The heap is compared after a full garbage collection, forced through V8's flags since the test
 * runner does not pass --expose-gc; the warm-up first loads and compiles every code path the
 * requests reach, so what remains after the run is what the run kept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatReport, fuzzProblems, openFuzzEnvironment, runFuzz, type FuzzEnvironment } from './fuzz/harness.ts';

describe('hostile requests across every route', () => {
  let env: FuzzEnvironment;
  before(async () => {
    env = await openFuzzEnvironment('fuzz');
  });
  after(() => env?.close());

  it('given 1,500 generated hostile requests, then every answer is a 4xx, nothing is appended, metric series stay bounded, the process stays healthy and its heap steady', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const report = await runFuzz(env, { requests: 1500, warmup: 500, seed, concurrency: 16 });
    console.log(formatReport(report));
    assert.ok(report.gcForced, 'a full garbage collection could be forced before measuring the heap');
    assert.equal(report.sent, 1500);
    assert.deepEqual(fuzzProblems(report), [], `seed ${seed} (npm run fuzz -- --seed ${seed} replays it)`);
  });
});
