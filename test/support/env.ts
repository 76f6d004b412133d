/**
 * An isolated Eventline environment for one test file, on the shared local stack: its own
 * EVENTLINE_NAMESPACE (topics, consumer groups, schema subjects, Redis keys) and its own database,
 * migrated. `cleanup()` removes all of it.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../lib/config.ts';
import { dropDatabase, ensureDatabase } from '../../lib/db.ts';
import { createLogger } from '../../lib/log.ts';
import { migrate } from '../../lib/migrate.ts';
import { clearNamespace } from '../../lib/redis.ts';
import { Runtime } from '../../lib/runtime.ts';

export interface TestEnv {
  readonly namespace: string;
  readonly env: Readonly<Record<string, string>>;
  readonly config: Config;
  readonly rt: Runtime;
  cleanup(): Promise<void>;
}

function baseEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  return out;
}

/** Creates the namespace and the database; `extra` overrides environment variables. */
export async function createTestEnv(label: string, extra: Readonly<Record<string, string>> = {}): Promise<TestEnv> {
  const namespace = `t-${label.toLowerCase().replace(/[^a-z0-9]+/g, '').slice(0, 12)}-${randomBytes(3).toString('hex')}`;
  const base = baseEnv();
  const dbUrl = new URL(base.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/eventline');
  dbUrl.pathname = `/eventline_${namespace.replace(/-/g, '_')}`;
  const env: Record<string, string> = {
    ...base,
    EVENTLINE_NAMESPACE: namespace,
    DATABASE_URL: dbUrl.toString(),
    LOG_LEVEL: base.TEST_LOG_LEVEL ?? 'error',
    // Each test database gets its own master key, as a deployment would (ADR 0018).
    EVENTLINE_MASTER_KEY: randomBytes(32).toString('base64'),
    ...extra,
  };
  const config = loadConfig(env, `test-${label}`);
  await ensureDatabase(config.database.url);
  const rt = new Runtime(config, createLogger(config));
  await migrate(rt.db, rt.log);
  let cleaned = false;
  return {
    namespace,
    env,
    config,
    rt,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      try {
        const topics = await rt.kafka.listTopics();
        await rt.kafka.deleteTopics(topics.filter((t) => t.startsWith(`${namespace}.`)));
        for (const subject of await rt.kafka.registry.subjects(`${namespace}.`)) await rt.kafka.registry.deleteSubject(subject);
        await clearNamespace(rt.redis);
      } finally {
        await rt.close();
        await dropDatabase(config.database.url);
      }
    },
  };
}

/** Polls until `fn` returns a value that is not undefined (never a fixed sleep). */
export async function eventually<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs?: number; intervalMs?: number; what?: string | (() => string) } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const what = typeof options.what === 'function' ? options.what() : (options.what ?? 'a condition');
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}
