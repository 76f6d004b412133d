/** API keys for tests, created through the real key store. */
import type { Scope } from '../../lib/http/auth.ts';
import { ApiKeys } from '../../producers/keys/store.ts';
import type { TestEnv } from './env.ts';

export async function createKey(t: TestEnv, scopes: readonly Scope[], name = 'test'): Promise<string> {
  return (await new ApiKeys(t.rt.db, []).create(name, scopes)).key;
}

export function bearer(key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra };
}
