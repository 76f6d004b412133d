import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { recordCount } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { requestErasure } from './erase.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { runEventline } from '../../test/support/process.ts';

/** The privacy routes' and commands' answers to bad input: a 4xx or exit 1, and nothing erased or appended. */
describe('privacy routes and commands, bad input', () => {
  let t: TestEnv;
  let app: RunningApp;
  let admin: string;
  let reader: string;

  before(async () => {
    t = await createTestEnv('privacy-input');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    admin = await createKey(t, ['admin']);
    reader = await createKey(t, ['read', 'publish', 'preferences']);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  it('given no key, a key without admin, a bad user id or an unknown erasure, then 401, 403, 400 and 404 with a JSON error, and nothing erased', async () => {
    const cases: [string, string, Record<string, string>, number][] = [
      ['GET', '/v1/users/user_1/export', {}, 401],
      ['POST', '/v1/users/user_1/erase', {}, 401],
      ['GET', '/v1/users/user_1/export', bearer(reader), 403],
      ['POST', '/v1/users/user_1/erase', bearer(reader), 403],
      ['GET', '/v1/erasures/era_00000000000000000000000000000000', bearer(reader), 403],
      ['GET', `/v1/users/${'x'.repeat(200)}/export`, bearer(admin), 400],
      ['POST', '/v1/users/bad%20user/erase', bearer(admin), 400],
      ['GET', '/v1/erasures/not-an-erasure', bearer(admin), 400],
      ['GET', '/v1/erasures/era_00000000000000000000000000000000', bearer(admin), 404],
    ];
    for (const [method, path, headers, status] of cases) {
      const res = await fetch(`${app.url}${path}`, { method, headers });
      assert.equal(res.status, status, `${method} ${path}`);
      const body = (await res.json()) as { error?: string };
      assert.equal(typeof body.error, 'string', `${method} ${path} names the error`);
    }
    const { rows } = await t.rt.db.query('SELECT count(*)::int AS n FROM privacy.erasures');
    assert.equal(rows[0]?.n, 0, 'nothing was erased');
    assert.equal(await recordCount(t.rt.kafka, 'privacy.erasures.v1'), 0, 'nothing was appended');
  });

  it('given an erasure left pending by a process that stopped, then the next process serving the API finishes it, and erasing again changes nothing', async () => {
    const pending = await requestErasure(t.rt, 'user_resume', 'key_gone');
    assert.equal(pending.status, 'pending');
    await t.rt.db.query("INSERT INTO privacy.subject_keys (subject, wrapped_key) VALUES ('user:user_resume', '\\x00')");
    const next = await startApp(t.rt);
    try {
      const done = await eventually(async () => {
        const r = (await (await fetch(`${next.url}/v1/erasures/${pending.erasure_id}`, { headers: bearer(admin) })).json()) as { status: string; subjects: string[] };
        return r.status === 'done' ? r : undefined;
      }, { what: 'the pending erasure finished' });
      assert.deepEqual(done.subjects, ['user:user_resume']);
      const { rows } = await t.rt.db.query<{ destroyed: boolean }>("SELECT destroyed_at IS NOT NULL AS destroyed FROM privacy.subject_keys WHERE subject = 'user:user_resume'");
      assert.deepEqual(rows, [{ destroyed: true }]);
      const again = await runEventline(t.env, ['privacy', 'erase', 'user_resume']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as { erasure_id: string }).erasure_id, pending.erasure_id);
      assert.equal(await recordCount(t.rt.kafka, 'privacy.erasures.v1'), 1, 'one UserErased');
    } finally {
      await next.close();
    }
  });

  it('given a bad user id, then eventline privacy export and erase exit 1 naming it', async () => {
    for (const command of ['export', 'erase']) {
      const run = await runEventline(t.env, ['privacy', command, 'bad user']);
      assert.equal(run.code, 1, `${command}: ${run.stderr}`);
      assert.match(run.stderr, /userId must be/);
    }
    const { rows } = await t.rt.db.query("SELECT count(*)::int AS n FROM privacy.erasures WHERE user_id = 'bad user'");
    assert.equal(rows[0]?.n, 0);
  });
});
