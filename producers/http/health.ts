/**
 * GET /healthz (the process answers), GET /readyz (Kafka, the registry, Postgres and Redis answer;
 * and which processors are paused while their state is rebuilt, since when, and who holds the
 * rebuild lease) and GET /metrics (Prometheus). All three stay open without an API key.
 *
 * A paused processor does not make the process unready: webhooks and APIs still take events (a
 * load balancer must keep sending them); `processors` and `paused` say what waits.
 */
import { Router } from 'express';
import { guardedStates, pauseStatus } from '../../lib/decider/index.ts';
import { errorMessage } from '../../lib/errors.ts';
import { metricsRegistry } from '../../lib/metrics.ts';
import type { Runtime } from '../../lib/runtime.ts';

type Check = () => Promise<unknown>;

async function timed(check: Check, timeoutMs: number): Promise<{ ok: boolean; ms: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - started), error: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(runtime: Runtime, extraChecks: Readonly<Record<string, Check>> = {}): Router {
  const router = Router();
  const checks: Record<string, Check> = {
    kafka: () => runtime.kafka.describeCluster(),
    registry: () => runtime.kafka.registry.globalCompatibility(),
    postgres: () => runtime.db.ping(),
    redis: () => runtime.redis.ping(),
    ...extraChecks,
  };

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: runtime.config.service.name, version: runtime.config.service.version });
  });

  router.get('/readyz', async (_req, res) => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((n) => timed(checks[n] as Check, 2000)));
    const detail = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    const ready = results.every((r) => r.ok);
    const processors = detail.redis?.ok ? await Promise.all(guardedStates.map((p) => pauseStatus(runtime, p))).catch(() => []) : [];
    const paused = processors.filter((p) => p.paused).map((p) => p.processor);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks: detail, processors, paused });
  });

  router.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', metricsRegistry.contentType);
    res.send(await metricsRegistry.metrics());
  });

  return router;
}
