/**
 * eventline run: the long-running process — the HTTP server (webhooks, API, dashboard, health)
 * and the consumers (processors, projections, scheduler). `--only` picks components, so the same
 * build runs as one process locally or as separately scaled deployments.
 */
import type { Command } from 'commander';
import { migrate } from '../../lib/migrate.ts';
import { Runtime } from '../../lib/runtime.ts';
import { ProcessorGroup, type ProcessorName } from '../../processors/supervisor.ts';
import { componentNames, components, processorComponents } from '../components.ts';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the HTTP server and the consumers until SIGTERM/SIGINT')
    .option('--only <components>', `comma-separated subset of: ${componentNames.join(', ')}`)
    .option('--no-migrate', 'do not apply pending migrations at start')
    .action(async (opts: { only?: string; migrate: boolean }) => {
      const rt = Runtime.fromEnv('eventline');
      rt.shutdown.installSignalHandlers();
      const wanted = opts.only ? opts.only.split(',').map((s) => s.trim()) : [...componentNames];
      for (const name of wanted) if (!componentNames.includes(name)) throw new Error(`unknown component ${name}; one of ${componentNames.join(', ')}`);
      if (opts.migrate) await migrate(rt.db, rt.log);
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
      rt.log.info({ components: wanted, namespace: rt.config.namespace }, 'eventline ready');
    });
}
