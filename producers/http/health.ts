/**
 * GET /healthz (the process answers), GET /readyz (Kafka, the registry, Postgres and Redis answer;
 * and which processors are paused while their state is rebuilt, since when, and who holds the
 * rebuild lease) and GET /metrics (Prometheus). All three stay open without an API key.
 *
 * /metrics serves lib/metrics.ts's registry, whether each readiness dependency answered
 * (eventline_dependency_up, asked at most every 5 s) and, when given, the business metrics read
 * from the analytics views (lib/business-metrics.ts, refreshed at most every 15 s).
 *
 * A paused processor does not make the process unready: webhooks and APIs still take events (a
 * load balancer must keep sending them); `processors` and `paused` say what waits.
 */
import { Router } from 'express';
import type { BusinessMetrics } from '../../lib/business-metrics.ts';
import { guardedStates, pauseStatus } from '../../lib/decider/index.ts';
import { errorMessage } from '../../lib/errors.ts';
import { metricsRegistry } from '../../lib/metrics.ts';
import { ReadinessMetrics } from '../../lib/readiness-metrics.ts';
import type { Runtime } from '../../lib/runtime.ts';

type Check = () => Promise<unknown>;
type CheckResult = { ok: boolean; ms: number; error?: string };

/** How long one answer of the dependencies serves eventline_dependency_up (Prometheus scrapes every 15 s). */
const DEPENDENCY_CHECK_MS = 5000;

async function timed(check: Check, timeoutMs: number): Promise<CheckResult> {
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

export function healthRoutes(runtime: Runtime, extraChecks: Readonly<Record<string, Check>> = {}, business: BusinessMetrics | null = null): Router {
  const router = Router();
  const checks: Record<string, Check> = {
    kafka: () => runtime.kafka.describeCluster(),
    registry: () => runtime.kafka.registry.globalCompatibility(),
    postgres: () => runtime.db.ping(),
    redis: () => runtime.redis.ping(),
    ...extraChecks,
  };
  const runChecks = async (): Promise<Record<string, CheckResult>> => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((n) => timed(checks[n] as Check, 2000)));
    return Object.fromEntries(names.map((n, i) => [n, results[i] as CheckResult]));
  };
  // /metrics is open: however often it is requested, the dependencies are asked at most once per
  // DEPENDENCY_CHECK_MS, and scrapes meanwhile share that answer.
  const readiness = new ReadinessMetrics();
  let dependencyCheck: { at: number; done: Promise<void> } | null = null;
  const checkDependencies = (): Promise<void> => {
    const now = Date.now();
    if (dependencyCheck && now - dependencyCheck.at < DEPENDENCY_CHECK_MS) return dependencyCheck.done;
    const done = runChecks().then((detail) => readiness.record(Object.fromEntries(Object.entries(detail).map(([n, r]) => [n, r.ok]))));
    dependencyCheck = { at: now, done };
    return done;
  };

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: runtime.config.service.name, version: runtime.config.service.version });
  });

  router.get('/readyz', async (_req, res) => {
    const detail = await runChecks();
    const ready = Object.values(detail).every((r) => r.ok);
    const processors = detail.redis?.ok ? await Promise.all(guardedStates.map((p) => pauseStatus(runtime, p))).catch(() => []) : [];
    const paused = processors.filter((p) => p.paused).map((p) => p.processor);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks: detail, processors, paused });
  });

  router.get('/metrics', async (_req, res) => {
    // Both wait on other services: run side by side, the scrape takes the slower of the two.
    await Promise.all([checkDependencies(), business?.refresh()]);
    const registries = [metricsRegistry, readiness.registry, ...(business ? [business.registry] : [])];
    const texts = await Promise.all(registries.map((r) => r.metrics()));
    res.setHeader('content-type', metricsRegistry.contentType);
    res.send(texts.join('\n'));
  });

  return router;
}
