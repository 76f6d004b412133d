/**
 * eventline run: the long-running process — the HTTP server (webhooks, API, dashboard, health)
 * and the consumers (processors, projections, scheduler). `--only` picks components and `--except`
 * leaves some out, so the same build runs as one process, as npm start's two (the HTTP ingress and
 * the consumers), or as separately scaled deployments.
 */
import type { Command } from 'commander';
import express from 'express';
import { healthRoutes } from '../../producers/http/health.ts';
import { startServer } from '../../producers/http/server.ts';
import { migrate } from '../../lib/migrate.ts';
import { Runtime } from '../../lib/runtime.ts';
import { startTracing } from '../../lib/tracing.ts';
import { ProcessorGroup, type ProcessorName } from '../../processors/supervisor.ts';
import { componentNames, components, processorComponents } from '../components.ts';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the HTTP server and the consumers until SIGTERM/SIGINT')
    .option('--only <components>', `comma-separated subset of: ${componentNames.join(', ')}`)
    .option('--except <components>', 'every component but these (comma-separated)')
    .option('--no-migrate', 'do not apply pending migrations at start')
    .action(async (opts: { only?: string; except?: string; migrate: boolean }) => {
      const wanted = selectComponents(opts.only, opts.except);
      const rt = Runtime.fromEnv('eventline');
      rt.shutdown.installSignalHandlers();
      // First in, last out: spans of everything that stops are exported before the process exits.
      const tracing = await startTracing(rt.config, rt.log);
      rt.shutdown.add('tracing', () => tracing.shutdown(), 'connections');
      if (opts.migrate) await migrate(rt.db, rt.log);
      // A missing or wrong EVENTLINE_MASTER_KEY stops the process here, before it serves or consumes anything.
      const keyring = await rt.privacy();
      rt.log.info({ masterKey: keyring.fingerprint }, 'master key verified');
      for (const name of wanted) {
        const start = components[name as keyof typeof components];
        if (!start) continue;
        await start(rt);
        rt.log.info({ component: name }, 'component started');
      }
      const processors = wanted.map((n) => processorComponents[n]).filter((p): p is ProcessorName => p !== undefined);
      if (processors.length > 0) {
        const group = new ProcessorGroup(rt, processors);
        await group.start();
        rt.shutdown.add('processors', () => group.stop());
        rt.log.info({ processors }, 'processors started');
      }
      // A process without the HTTP component still has metrics worth scraping (consumer lag, batches,
      // dead letters, paused processors): with EVENTLINE_METRICS_PORT it serves them, with the probes.
      const metricsPort = rt.config.http.metricsPort;
      if (!wanted.includes('http') && metricsPort !== null) {
        const { host, port } = await startServer(rt, express().disable('x-powered-by').use(healthRoutes(rt)), metricsPort);
        rt.log.info({ host, port }, 'serving /metrics, /healthz and /readyz');
      }
      rt.log.info({ components: wanted, namespace: rt.config.namespace }, 'eventline ready');
    });
}

/** The components a run starts: `--only`'s list, or every one but `--except`'s; unknown names and an empty selection are refused. */
export function selectComponents(only: string | undefined, except: string | undefined): string[] {
  if (only !== undefined && except !== undefined) throw new Error('give --only or --except, not both');
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const named = only !== undefined ? list(only) : except !== undefined ? list(except) : [];
  for (const name of named) if (!componentNames.includes(name)) throw new Error(`unknown component ${name}; one of ${componentNames.join(', ')}`);
  const wanted = only !== undefined ? named : componentNames.filter((c) => !named.includes(c));
  if (wanted.length === 0) throw new Error('no component selected');
  return wanted;
}
