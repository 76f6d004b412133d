/**
 * One-shot readiness probes for the services Eventline needs, used by infra/ while starting the
 * stack. The running process uses its long-lived clients instead (see producers/http/health.ts).
 */
import { Redis } from 'ioredis';
import type { Config } from './config.ts';
import { EventlineError } from './errors.ts';
import { Kafka } from './kafka/index.ts';
import type { Logger } from './log.ts';
import { Registry } from './registry.ts';

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EventlineError('timeout', `${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Kafka answers metadata requests and has an active controller. */
export async function probeKafka(config: Pick<Config, 'kafka' | 'registry' | 'namespace' | 'logLevel'>, log: Logger): Promise<void> {
  const kafka = new Kafka({ ...config, logLevel: 'silent' }, log);
  try {
    const cluster = await withDeadline(kafka.describeCluster(), 5000, 'kafka');
    if (cluster.brokers < 1 || cluster.controller === null) throw new EventlineError('kafka_unavailable', 'no controller elected yet');
  } finally {
    await kafka.close();
  }
}

/** The registry serves the Confluent API; optionally makes sure its global rule is BACKWARD. */
export async function probeRegistry(url: string, options: { ensureBackward?: boolean } = {}): Promise<string> {
  const registry = new Registry(url);
  let level = await withDeadline(registry.globalCompatibility(), 5000, 'registry');
  if (options.ensureBackward && level !== 'BACKWARD') {
    const res = await fetch(`${url}/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    if (!res.ok) throw new EventlineError('registry_unavailable', `could not set global compatibility: ${res.status}`);
    level = await registry.globalCompatibility();
  }
  return level;
}

export async function probeRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await withDeadline(client.connect(), 3000, 'redis');
    await withDeadline(client.ping(), 2000, 'redis');
  } finally {
    client.disconnect();
  }
}
