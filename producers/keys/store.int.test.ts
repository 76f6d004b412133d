import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { hasScope } from '../../lib/http/auth.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { ApiKeys, parseScopes } from './store.ts';

describe('API keys and the analyst role in a real Postgres', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('keys');
  });
  after(() => t?.cleanup());

  it('given a created key, then it authenticates with its scopes until revoked, and only its hash is stored', async () => {
    const keys = new ApiKeys(t.rt.db, [], 0);
    const { id, key } = await keys.create('billing-service', ['publish', 'read']);
    const principal = await keys.authenticate(key);
    assert.deepEqual(principal, { keyId: id, scopes: ['publish', 'read'] });
    assert.ok(principal && hasScope(principal, 'publish') && !hasScope(principal, 'preferences'));
    const stored = await t.rt.db.query<{ secret_hash: string }>('SELECT secret_hash FROM public.api_keys WHERE id = $1', [id]);
    assert.ok(!key.includes(stored.rows[0]!.secret_hash) && stored.rows[0]!.secret_hash.length === 64);
    assert.equal(await keys.authenticate(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`), null);
    assert.equal(await keys.revoke(id), true);
    assert.equal(await keys.authenticate(key), null);
    assert.equal(await keys.revoke(id), false);
    assert.deepEqual((await keys.list()).map((k) => [k.id, k.revokedAt !== null]), [[id, true]]);
  });

  it('given EVENTLINE_API_KEYS, then those keys have full access without being stored', async () => {
    const keys = new ApiKeys(t.rt.db, ['bootstrap-secret-1'], 0);
    const p = await keys.authenticate('bootstrap-secret-1');
    assert.ok(p && hasScope(p, 'admin') && hasScope(p, 'preferences'));
    assert.equal(await keys.authenticate('bootstrap-secret-2'), null);
  });

  it('given the analyst role, then it reads analytics views and nothing else', async () => {
    await t.rt.db.query("INSERT INTO preferences.user_preferences (user_id, preferences, changed_at, event_id, change, actor) VALUES ('u1', '{\"locale\":\"en-US\",\"unsubscribed\":false}', now(), 'e1', 'updated', 'k')");
    const url = new URL(t.config.database.url);
    url.username = 'eventline_analyst';
    const analyst = new pg.Client({ connectionString: url.toString() });
    await analyst.connect();
    try {
      const rows = await analyst.query('SELECT user_id, locale FROM analytics.user_preferences');
      assert.deepEqual(rows.rows, [{ user_id: 'u1', locale: 'en-US' }]);
      for (const sql of ['SELECT * FROM public.api_keys', 'SELECT * FROM preferences.user_preferences', 'SELECT * FROM public.projection_checkpoints']) {
        await assert.rejects(() => analyst.query(sql), /permission denied/, sql);
      }
      await assert.rejects(() => analyst.query("DELETE FROM analytics.user_preferences WHERE user_id = 'u1'"), /permission denied|cannot delete/);
      await assert.rejects(() => analyst.query('CREATE TABLE analytics.mine (x int)'), /permission denied/);
    } finally {
      await analyst.end();
    }
  });

  it('given the "contacts" and "essential" scopes (as `eventline keys create --scopes` parses them), then a key with them is stored and authenticates with them', async () => {
    const keys = new ApiKeys(t.rt.db, [], 0);
    const { id, key } = await keys.create('auth-service', parseScopes('publish,essential,preferences,contacts'));
    const principal = await keys.authenticate(key);
    assert.deepEqual(principal, { keyId: id, scopes: ['publish', 'essential', 'preferences', 'contacts'] });
    assert.ok(principal && hasScope(principal, 'essential') && hasScope(principal, 'contacts') && !hasScope(principal, 'admin'));
    assert.throws(() => parseScopes('publish,everything'), /unknown: everything/);
  });

  it('given the analyst role, then it cannot create temporary tables, and roles without a grant cannot connect to the database', async () => {
    const url = new URL(t.config.database.url);
    url.username = 'eventline_analyst';
    const analyst = new pg.Client({ connectionString: url.toString() });
    await analyst.connect();
    try {
      await assert.rejects(() => analyst.query('CREATE TEMP TABLE scratch (x int)'), /permission denied to create temporary tables/);
      await assert.rejects(() => analyst.query('CREATE TEMPORARY VIEW v AS SELECT 1'), /permission denied to create temporary tables/);
      assert.equal((await analyst.query('SELECT 1 AS one')).rows[0]?.one, 1, 'it still connects');
    } finally {
      await analyst.end();
    }
    // Any other role of the cluster (PostgreSQL grants CONNECT to PUBLIC by default).
    const role = `eventline_probe_${randomBytes(4).toString('hex')}`;
    await t.rt.db.query(`CREATE ROLE ${role} LOGIN`);
    try {
      url.username = role;
      const stranger = new pg.Client({ connectionString: url.toString() });
      await assert.rejects(() => stranger.connect(), /permission denied for database/);
      await stranger.end().catch(() => undefined);
    } finally {
      await t.rt.db.query(`DROP ROLE ${role}`);
    }
    const owner = await t.rt.db.query<{ connect: boolean; temp: boolean }>("SELECT has_database_privilege(current_user, current_database(), 'CONNECT') AS connect, has_database_privilege(current_user, current_database(), 'TEMP') AS temp");
    assert.deepEqual(owner.rows[0], { connect: true, temp: true }, 'Eventline itself keeps both');
  });
});
