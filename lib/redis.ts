/**
 * Redis: one ioredis client per process. Every key is namespaced (EVENTLINE_NAMESPACE or
 * "eventline") through ioredis' keyPrefix, so callers use short keys like `dispatch:cap:<user>`.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { Names } from './topics.ts';

export type { Redis } from 'ioredis';

const scriptShas = new Map<string, string>();

/**
 * Runs a Lua script by its SHA1 (EVALSHA), sending its text (EVAL) only when the server does not
 * have it cached (after a restart or SCRIPT FLUSH): the hot scripts (the deciders' compare-and-set,
 * the scheduler's claim) run on every batch, and EVAL would send and hash their whole text each
 * time. Keys are prefixed by ioredis as for EVAL.
 */
export async function runScript(client: Redis, script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown> {
  let sha = scriptShas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    scriptShas.set(script, sha);
  }
  try {
    return await client.evalsha(sha, numKeys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(script, numKeys, ...args);
  }
}

/**
 * `reply`'s value, or `fallback` when it has not come `ms` after the call (or failed): for the
 * best-effort reads and writes a request must not wait on (webhook dedupe, message indexes). The
 * deadline is Redis's, not this process's: a timer runs before the I/O of the same event-loop turn,
 * so when this process itself stalled past the deadline (a GC pause, a starved CPU) the reply may
 * already be in the socket. One more turn (setImmediate runs after the poll phase) reads it first,
 * so a busy process is not mistaken for a slow Redis.
 */
export async function answerWithin<T, F>(reply: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  try {
    return await Promise.race([reply, new Promise<F>((resolve) => (timer = setTimeout(() => (immediate = setImmediate(() => resolve(fallback))), ms)))]);
  } catch {
    return fallback;
  } finally {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  }
}

/** Deletes every key of this client's namespace (keyPrefix); returns how many. */
export async function clearNamespace(client: Redis): Promise<number> {
  const prefix = client.options.keyPrefix ?? '';
  let cursor = '0';
  let deleted = 0;
  do {
    // keyPrefix does not apply to SCAN's pattern nor to the keys it returns.
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys.map((k) => k.slice(prefix.length)));
  } while (cursor !== '0');
  return deleted;
}

export function createRedis(config: Pick<Config, 'redis' | 'namespace'>, log: Logger): Redis {
  const redisLog = log.child({ component: 'redis' });
  const client = new Redis(config.redis.url, {
    keyPrefix: `${new Names(config.namespace).redisKey()}:`,
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    connectTimeout: 3000,
    // A command waiting on an unreachable Redis fails instead of hanging its caller.
    commandTimeout: 3000,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  let lastError = '';
  client.on('error', (err: Error) => {
    if (err.message !== lastError) redisLog.warn({ err: err.message }, 'redis connection error');
    lastError = err.message;
  });
  client.on('ready', () => {
    lastError = '';
  });
  return client;
}
