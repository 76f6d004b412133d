/**
 * The test runner itself: every verdict of every file reaches the report. Under --test-force-exit
 * with files run two at a time, Node 24 dropped the last verdicts of some files (nodejs/node#64833):
 * 1,158–1,186 of these 1,200 tests were reported in three runs without report-pipe.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../lib/migrate.ts';
import { testRunnerArgs } from './support/runner-args.ts';

describe('the test runner', () => {
  it('given 30 files of 40 quick tests with long names run two at a time, then all 1,200 verdicts are reported, and the failing one among them fails the run by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventline-runner-'));
    try {
      const name = 'x'.repeat(1500);
      const files = Array.from({ length: 30 }, (_, i) => {
        const file = join(dir, `f${i}.test.mjs`);
        const tests = Array.from({ length: 40 }, (_, j) => `test('f${i} t${j} ${name}', () => { ${i === 29 && j === 39 ? "throw new Error('the last one fails');" : ''} });`);
        writeFileSync(file, `import { test } from 'node:test';\n${tests.join('\n')}\n`);
        return file;
      });
      // A runner of its own, not a child of this one (node:test marks its children in the environment).
      const env = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const run = spawnSync(process.execPath, [...testRunnerArgs({ timeoutMs: 60_000, concurrency: 2 }), '--test-reporter=spec', ...files], { cwd: projectRoot, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const count = (label: string) => Number(/^ℹ (\w+) (\d+)$/m.exec(run.stdout.split('\n').filter((l) => l.startsWith(`ℹ ${label} `)).join('\n'))?.[2]);
      assert.equal(count('tests'), 1200, 'every test reported');
      assert.equal(count('pass'), 1199);
      assert.equal(count('fail'), 1);
      assert.match(run.stdout, /✖ f29 t39 x+/, 'the failing test is named');
      assert.notEqual(run.status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
