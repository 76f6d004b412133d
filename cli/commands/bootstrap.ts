/**
 * eventline bootstrap: the last step of `npm start` — prints where everything is. Later steps
 * (the local admin key, the demo dataset) hook in here so that running it again changes nothing.
 */
import type { Command } from 'commander';
import { Runtime } from '../../lib/runtime.ts';
import { line } from '../output.ts';

export function registerBootstrapCommand(program: Command): void {
  program
    .command('bootstrap')
    .description('local first run: print how to reach the dashboard, API and tools (idempotent)')
    .action(async () => {
      const rt = Runtime.forCli();
      try {
        const url = rt.config.http.publicUrl;
        line('');
        line('Eventline is running.');
        line(`  dashboard      ${url}/`);
        line(`  health         ${url}/healthz   ${url}/readyz   ${url}/metrics`);
        line(`  kafka          ${rt.config.kafka.brokers.join(',')}   registry ${rt.config.registry.url}`);
        line(`  logs           .infra/logs/app.log   (npm stop stops everything)`);
      } finally {
        await rt.close();
      }
    });
}
