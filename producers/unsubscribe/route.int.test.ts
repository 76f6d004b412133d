import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { signUnsubscribeToken } from '../../notify/index.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { providerEnv, unsubscribeSecret } from '../../test/support/providers.ts';

describe('unsubscribe links against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;

  before(async () => {
    t = await createTestEnv('unsub', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const link = (token: string) => `${app.url}/v1/unsubscribe/${token}`;
  const oneClick = (token: string) =>
    fetch(link(token), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });

  it('given a browser following the link, then GET shows a confirmation page and changes nothing', async () => {
    const token = signUnsubscribeToken(unsubscribeSecret, 'user_page', 'marketing', Date.now());
    const res = await fetch(link(token), { headers: { accept: 'text/html' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const html = await res.text();
    assert.match(html, /<form method="post">/);
    assert.match(html, /marketing/);
    assert.equal((await readPreferences(t.rt.db, 'user_page')).changedAt, null);
  });

  it('given an RFC 8058 one-click POST, then the user is unsubscribed, the change is on the topic, and the token is spent', async () => {
    const token = signUnsubscribeToken(unsubscribeSecret, 'user_oc', 'marketing', Date.now());
    const res = await oneClick(token);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { unsubscribed: boolean; changed: boolean };
    assert.deepEqual([body.unsubscribed, body.changed], [true, true]);
    const prefs = await readPreferences(t.rt.db, 'user_oc');
    assert.deepEqual(prefs.preferences.categories.marketing, { email: false, sms: false, push: false, in_app: false });
    const [change] = await collect(t.rt.kafka, ['notify.preference-changes.v1'], 1);
    assert.equal(change?.value.change, 'unsubscribed');
    assert.equal(change?.value.source, 'one_click');
    assert.equal(change?.value.actor, 'unsubscribe-link');
    assert.equal(change?.value.category, 'marketing');
    const again = await oneClick(token);
    assert.equal(again.status, 410);
    assert.equal(((await again.json()) as { error: string }).error, 'gone');
  });

  it('given the confirmation form posted for "all", then every non-essential category stops', async () => {
    const token = signUnsubscribeToken(unsubscribeSecret, 'user_all', null, Date.now());
    const res = await fetch(link(token), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: 'confirm=yes' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /You are unsubscribed/);
    assert.equal((await readPreferences(t.rt.db, 'user_all')).preferences.unsubscribed, true);
  });

  it('given bad tokens, then 4xx and nothing appended', async () => {
    const before = await recordCount(t.rt.kafka, 'notify.preference-changes.v1');
    const valid = signUnsubscribeToken(unsubscribeSecret, 'user_bad', 'marketing', Date.now());
    const cases: [string, Promise<Response>, number, string][] = [
      ['garbage', oneClick('garbage'), 400, 'bad_request'],
      ['signed with another secret', oneClick(signUnsubscribeToken('other-secret', 'user_bad', 'marketing', Date.now())), 400, 'bad_request'],
      ['tampered', oneClick(`${valid.slice(0, -2)}AA`), 400, 'bad_request'],
      ['expired', oneClick(signUnsubscribeToken(unsubscribeSecret, 'user_bad', 'marketing', Date.now() - 91 * 86_400_000)), 410, 'gone'],
      ['essential category', oneClick(signUnsubscribeToken(unsubscribeSecret, 'user_bad', 'payment', Date.now())), 422, 'unprocessable'],
    ];
    for (const [name, response, status, error] of cases) {
      const res = await response;
      assert.equal(res.status, status, name);
      assert.equal(((await res.json()) as { error: string }).error, error, name);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.preference-changes.v1'), before);
  });
});
