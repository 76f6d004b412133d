/**
 * Preloaded into every test file's process (test/run.ts). node:test runs each file in a child that
 * streams its verdicts to the runner over stdout, a pipe; with --test-force-exit the child exits as
 * soon as its tests are done, and a non-blocking pipe (Linux) drops what is still buffered: the run
 * then reports fewer tests than ran, with their names and errors (nodejs/node#64833; seen on Node
 * 24, where a fresh clone's unit tier reported 424 and 428 of 433). Blocking writes leave nothing
 * buffered at exit.
 */
const handle = (process.stdout as unknown as { _handle?: { setBlocking?: (blocking: boolean) => unknown } })._handle;
handle?.setBlocking?.(true);
