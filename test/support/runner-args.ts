/**
 * How test/run.ts starts node:test over a tier's files (without the reporters and files).
 *
 * - `--test-force-exit`: a file whose tests are done exits even if something leaked a connection.
 * - `--test-timeout`: no single test may hang CI.
 * - `report-pipe.ts`, preloaded into every file's process: its verdicts reach the runner whole
 *   before that exit (see there).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../../lib/migrate.ts';

export function testRunnerArgs(options: { readonly timeoutMs: number; readonly concurrency: number }): string[] {
  return ['--import', 'tsx', '--import', pathToFileURL(join(projectRoot, 'test/support/report-pipe.ts')).href, '--test', '--test-force-exit', `--test-timeout=${options.timeoutMs}`, `--test-concurrency=${options.concurrency}`];
}
