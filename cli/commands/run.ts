/**
 * eventline run: the long-running process — the HTTP server (webhooks, API, dashboard, health)
 * and the consumers (processors, projections, scheduler). `--only` picks components, so the same
 * build runs as one process locally or as separately scaled deployments.
 */
import type { Command } from 'commander';
import { migrate } from '../../lib/migrate.ts';
import { Runtime } from '../../lib/runtime.ts';
import { components, type ComponentName } from '../components.ts';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the HTTP server and the consumers until SIGTERM/SIGINT')
    .option('--only <components>', `comma-separated subset of: ${Object.keys(components).join(', ')}`)
    .option('--no-migrate', 'do not apply pending migrations at start')
    .action(async (opts: { only?: string; migrate: boolean }) => {
      const rt = Runtime.fromEnv('eventline');
      rt.shutdown.installSignalHandlers();
      const wanted = (opts.only ? opts.only.split(',').map((s) => s.trim()) : Object.keys(components)) as ComponentName[];
      for (const name of wanted) if (!(name in components)) throw new Error(`unknown component ${name}`);
      if (opts.migrate) await migrate(rt.db, rt.log);
      for (const name of wanted) {
        await components[name](rt);
        rt.log.info({ component: name }, 'component started');
      }
      rt.log.info({ components: wanted, namespace: rt.config.namespace }, 'eventline ready');
    });
}
