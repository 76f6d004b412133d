/**
 * eventline bootstrap: the last step of `npm start`. Creates a local admin API key once when no key
 * exists at all (kept in .infra/admin.key), loads the demo dataset once, and prints where everything
 * is. Running it again changes nothing.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { projectRoot } from '../../lib/migrate.ts';
import { Runtime } from '../../lib/runtime.ts';
import { ApiKeys } from '../../producers/keys/store.ts';
import { settle, simulateDeliveries } from '../demo/deliveries.ts';
import { loadDemo } from '../demo/load.ts';
import { line } from '../output.ts';

const adminKeyFile = join(projectRoot, '.infra', 'admin.key');

async function ensureLocalAdminKey(rt: Runtime): Promise<string> {
  const keys = new ApiKeys(rt.db, rt.config.apiKeys);
  if (rt.config.apiKeys.length > 0) return 'from EVENTLINE_API_KEYS';
  if ((await keys.count()) > 0) {
    return existsSync(adminKeyFile) ? `${readFileSync(adminKeyFile, 'utf8').trim()}   (.infra/admin.key)` : 'existing keys (eventline keys list)';
  }
  const created = await keys.create('local-admin', ['admin']);
  mkdirSync(join(projectRoot, '.infra'), { recursive: true });
  writeFileSync(adminKeyFile, `${created.key}\n`, { mode: 0o600 });
  chmodSync(adminKeyFile, 0o600);
  return `${created.key}   (new; also in .infra/admin.key)`;
}

export function registerBootstrapCommand(program: Command): void {
  program
    .command('bootstrap')
    .description('local first run: admin key once, demo data once, then print how to reach everything (idempotent)')
    .action(async () => {
      const rt = Runtime.forCli();
      try {
        const url = rt.config.http.publicUrl;
        const adminKey = await ensureLocalAdminKey(rt);
        let demo = 'off (EVENTLINE_DEMO=off)';
        if (rt.config.demo) {
          const started = Date.now();
          const result = await loadDemo(rt);
          if (result.loaded) {
            await settle(rt);
            const delivered = await simulateDeliveries(rt);
            demo = `loaded ${result.stripeEvents} Stripe events through the webhook, then provider events for ${delivered.emails} emails and ${delivered.sms} SMS in the outbox (${((Date.now() - started) / 1000).toFixed(1)} s)`;
          } else demo = `not loaded: ${result.reason}`;
        }
        line('');
        line('Eventline is running.');
        line(`  dashboard      ${url}/`);
        line(`  admin API key  ${adminKey}`);
        line(`  demo data      ${demo}`);
        line(`  API            ${url}/openapi.json   (Authorization: Bearer <key>)`);
        line(`  webhooks       ${url}/webhooks/stripe   ${url}/webhooks/sendgrid   ${url}/webhooks/twilio/status`);
        line(`  secrets        .infra/dev.env (local webhook secrets; set the real ones in the environment)`);
        line(`  health         ${url}/healthz   ${url}/readyz   ${url}/metrics`);
        line(`  kafka          ${rt.config.kafka.brokers.join(',')}   registry ${rt.config.registry.url}`);
        line(`  logs           .infra/logs/app.log (HTTP), .infra/logs/workers.log (consumers)   (npm stop stops everything)`);
      } finally {
        await rt.close();
      }
    });
}
