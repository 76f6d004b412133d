/**
 * A Kafka broker of a test's own, for tests that kill the broker: its own ports and data directory,
 * so the test passes whatever else runs (the stack of infra/stack.sh, another checkout's, a Docker
 * one) and never stops a broker someone else started. The same Kafka build as the local stack
 * (the classpath infra/stack.sh resolved through Maven), one KRaft broker+controller, a small heap.
 * The schema registry keeps its schemas in Postgres, not in Kafka: the shared one serves. The jars
 * come from infra/stack.sh kafka-classpath, so this works beside a broker another checkout or
 * docker compose started (whose checkout resolved nothing).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/migrate.ts';
import { eventually } from './env.ts';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A TCP port nobody listens on now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The local stack's Kafka jars: resolved through Maven by infra/stack.sh (once, then cached), even when the broker on 9092 is someone else's. */
function kafkaClasspath(): string {
  return execFileSync('bash', [join(projectRoot, 'infra', 'stack.sh'), 'kafka-classpath'], { encoding: 'utf8', timeout: 600_000 }).trim();
}

export interface OwnBroker {
  /** host:port, for KAFKA_BROKERS. */
  readonly brokers: string;
  /** SIGKILLs the broker (a crash) and waits until its port is closed. */
  kill(): Promise<void>;
  /** Starts it again on the same data and ports, and waits until it serves. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  close(): Promise<void>;
}

/** Formats a data directory and starts a broker on two free ports; resolves once it accepts connections. */
export async function startOwnBroker(): Promise<OwnBroker> {
  const classpath = kafkaClasspath();
  const [port, controller] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'eventline-broker-'));
  const properties = join(dir, 'server.properties');
  const shared = readFileSync(join(projectRoot, 'infra', 'kafka', 'server.properties'), 'utf8');
  writeFileSync(
    properties,
    `${shared
      .split('\n')
      .filter((l) => !/^(controller\.quorum\.voters|listeners|advertised\.listeners)=/.test(l))
      .join('\n')}
controller.quorum.voters=1@127.0.0.1:${controller}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
log.dirs=${join(dir, 'data')}
`,
  );
  const log4j = [`-Dlog4j2.configurationFile=${join(projectRoot, 'infra', 'kafka', 'log4j2.properties')}`, `-Dkafka.logs.dir=${dir}`];
  const clusterId = execFileSync('java', ['-cp', classpath, ...log4j, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' }).trim();
  execFileSync('java', ['-cp', classpath, ...log4j, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties], { stdio: 'ignore' });

  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    child = spawn('java', ['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true', ...log4j, '-cp', classpath, 'kafka.Kafka', properties], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const started = child;
    await eventually(
      async () => {
        if (started.exitCode !== null) throw new Error(`the test broker exited with ${started.exitCode} (logs in ${dir})`);
        return (await portOpen(port)) ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: `the test broker on port ${port}` },
    );
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGKILL');
    await exited;
    await eventually(async () => ((await portOpen(port)) ? undefined : true), { what: 'the test broker port to close' });
  };
  await start();
  return {
    brokers: `127.0.0.1:${port}`,
    kill,
    start,
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
