/**
 * Checks and waits used by infra/stack.sh:
 *
 *   check.ts services                  Postgres and Redis answer; the project's database exists
 *   check.ts registry-db <version>     the registry's database exists; prints its JDBC settings for the shell
 *   check.ts wait                      polls Kafka and the registry until they serve (never a blind sleep)
 *   check.ts drop-registry-db          drops the registry's databases (stack reset)
 *   check.ts wait-app <url>            polls the Eventline process' /readyz until it answers 200
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../lib/config.ts';
import { dropDatabase, ensureDatabase } from '../lib/db.ts';
import { errorMessage } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { projectRoot } from '../lib/migrate.ts';
import { probeKafka, probeRedis, probeRegistry } from '../lib/probes.ts';
import { clearNamespace, createRedis } from '../lib/redis.ts';

const config = loadConfig();
const state = join(projectRoot, '.infra');
const log = createLogger({ ...config, logLevel: 'silent' });

function out(line: string): void {
  process.stderr.write(`stack: ${line}\n`);
}

function registryDbUrl(version: string): URL {
  const url = new URL(config.database.url);
  url.pathname = version.startsWith('2.') ? '/eventline_registry_v2' : '/eventline_registry';
  return url;
}

function pidAlive(name: string): boolean | null {
  const file = join(state, `${name}.pid`);
  if (!existsSync(file)) return null;
  try {
    process.kill(Number(readFileSync(file, 'utf8').trim()), 0);
    return true;
  } catch {
    return false;
  }
}

async function services(): Promise<void> {
  try {
    const result = await ensureDatabase(config.database.url);
    out(`postgres ok (${new URL(config.database.url).host}), database ${new URL(config.database.url).pathname.slice(1)} ${result}`);
  } catch (err) {
    out(`postgres is not reachable at ${new URL(config.database.url).host}: ${errorMessage(err)}`);
    out('  start it (this machine kind: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start),');
    out('  or point DATABASE_URL at a Postgres 13+ where this user may create databases.');
    process.exit(1);
  }
  try {
    await probeRedis(config.redis.url);
    out(`redis ok (${new URL(config.redis.url).host})`);
  } catch (err) {
    out(`redis is not reachable at ${config.redis.url}: ${errorMessage(err)}`);
    out('  start it (this machine kind: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""),');
    out('  or point REDIS_URL at a Redis 6+.');
    process.exit(1);
  }
}

async function registryDb(version: string): Promise<void> {
  const url = registryDbUrl(version);
  await ensureDatabase(url.toString());
  const jdbc = `jdbc:postgresql://${url.hostname}:${url.port || '5432'}${url.pathname}`;
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  process.stdout.write(
    `REGISTRY_JDBC_URL=${quote(jdbc)}\nREGISTRY_DB_USER=${quote(decodeURIComponent(url.username) || 'postgres')}\nREGISTRY_DB_PASSWORD=${quote(decodeURIComponent(url.password) || 'postgres')}\n`,
  );
}

async function waitReady(): Promise<void> {
  const deadline = Date.now() + 180_000;
  const started = Date.now();
  const pending = new Map<string, () => Promise<unknown>>([
    ['kafka', () => probeKafka(config, log)],
    ['registry', () => probeRegistry(config.registry.url, { ensureBackward: true })],
  ]);
  const lastError = new Map<string, string>();
  while (pending.size > 0) {
    for (const name of pending.keys()) {
      if (pidAlive(name) === false) {
        out(`${name} exited during start-up; last lines of its log:`);
        const logFile = join(state, 'logs', name === 'kafka' ? 'kafka.out' : 'registry.log');
        if (existsSync(logFile)) process.stderr.write(readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') + '\n');
        process.exit(1);
      }
    }
    await Promise.all(
      [...pending].map(async ([name, probe]) => {
        try {
          await probe();
          pending.delete(name);
          out(`${name} ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        } catch (err) {
          lastError.set(name, errorMessage(err));
        }
      }),
    );
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      out(`not ready after 180 s: ${[...pending.keys()].map((n) => `${n} (${lastError.get(n) ?? '?'})`).join(', ')}`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function waitApp(url: string): Promise<void> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < 120_000) {
    // npm start runs two processes: the HTTP ingress (app) and the consumers (workers).
    for (const name of ['app', 'workers']) {
      if (pidAlive(name) === false) {
        out(`eventline ${name} exited during start-up; last lines of .infra/logs/${name}.log:`);
        process.stderr.write(readFileSync(join(state, 'logs', `${name}.log`), 'utf8').split('\n').slice(-30).join('\n') + '\n');
        process.exit(1);
      }
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (res.status === 200) {
        out(`eventline ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return;
      }
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = errorMessage(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  out(`eventline not ready after 120 s: ${last}`);
  process.exit(1);
}

async function dropRegistryDb(): Promise<void> {
  for (const v of ['3', '2.']) await dropDatabase(registryDbUrl(v).toString());
}

/** Drops the project's database and its Redis keys (stack reset). */
async function dropData(): Promise<void> {
  await dropDatabase(config.database.url);
  const redis = createRedis(config, log);
  const deleted = await clearNamespace(redis);
  redis.disconnect();
  out(`dropped database ${new URL(config.database.url).pathname.slice(1)} and ${deleted} Redis keys of ${config.namespace ?? 'eventline'}`);
}

const [command, arg] = process.argv.slice(2);
try {
  switch (command) {
    case 'services':
      await services();
      break;
    case 'registry-db':
      await registryDb(arg ?? '3');
      break;
    case 'wait':
      await waitReady();
      break;
    case 'drop-registry-db':
      await dropRegistryDb();
      break;
    case 'drop-data':
      await dropData();
      break;
    case 'wait-app':
      await waitApp(arg ?? `${config.http.publicUrl}/readyz`);
      break;
    default:
      out('usage: check.ts services|registry-db <version>|wait|drop-registry-db');
      process.exit(2);
  }
  process.exit(0);
} catch (err) {
  out(errorMessage(err));
  process.exit(1);
}
