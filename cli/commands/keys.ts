/**
 * eventline keys create --name <name> --scopes <list> | list | revoke <id>
 *
 * Revoking a key also ends its dashboard sessions at once (they live in Redis, web/session.ts);
 * bearer use of the key stops within the key cache time of running processes (10 s).
 */
import type { Command } from 'commander';
import { scopes } from '../../lib/http/auth.ts';
import { ApiKeys, parseScopes } from '../../producers/keys/store.ts';
import { Sessions } from '../../web/session.ts';
import { line, table } from '../output.ts';
import { withRuntime } from '../runtime.ts';
import type { Runtime } from '../../lib/runtime.ts';

function withKeys<T>(fn: (keys: ApiKeys) => Promise<T>): Promise<T> {
  return withRuntime((rt) => fn(new ApiKeys(rt.db, rt.config.apiKeys)));
}

/** Revokes a key and ends its dashboard sessions; false when there was no active key of that id. */
export async function revokeKey(rt: Runtime, id: string): Promise<boolean> {
  if (!(await new ApiKeys(rt.db, rt.config.apiKeys).revoke(id))) {
    process.stderr.write(`no active key ${id}\n`);
    process.exitCode = 1;
    return false;
  }
  const ended = await new Sessions(rt.redis).endAllOf(id);
  line(`revoked ${id}`);
  if (ended > 0) process.stderr.write(`ended ${ended} dashboard session${ended === 1 ? '' : 's'} of key ${id}\n`);
  return true;
}

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('API keys for the /v1 routes and the dashboard');
  keys
    .command('create')
    .description('create a key; it is printed once and only its hash is stored')
    .requiredOption('-n, --name <name>', 'who or what uses it, e.g. billing-service')
    .option('-s, --scopes <list>', `comma-separated: ${scopes.join(', ')}`, 'read')
    .action((opts: { name: string; scopes: string }) =>
      withKeys(async (k) => {
        const created = await k.create(opts.name, parseScopes(opts.scopes));
        line(created.key);
        process.stderr.write(`key ${created.id} (${opts.name}, scopes ${opts.scopes}); store it now, it is not shown again\n`);
      }),
    );
  keys
    .command('list')
    .description('keys with their scopes and status (never their secrets)')
    .action(() =>
      withKeys(async (k) => {
        const rows = (await k.list()).map((r) => [
          r.id,
          r.name,
          r.scopes.join(','),
          r.createdAt?.toISOString() ?? '',
          r.revokedAt ? `revoked ${r.revokedAt.toISOString()}` : 'active',
          r.lastUsedAt?.toISOString() ?? 'never',
        ]);
        table([['id', 'name', 'scopes', 'created', 'status', 'last used'], ...rows]);
      }),
    );
  keys
    .command('revoke <id>')
    .description('revoke a key: its dashboard sessions end at once, bearer use within 10 s on running processes')
    .action(async (id: string) => {
      await withRuntime((rt) => revokeKey(rt, id));
    });
}
