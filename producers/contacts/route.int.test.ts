import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { signContactToken, signUnsubscribeToken } from '../../notify/index.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { providerEnv, unsubscribeSecret } from '../../test/support/providers.ts';

describe('contact confirmation links against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;
  let key: string;

  before(async () => {
    t = await createTestEnv('contacts', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    key = await createKey(t, ['preferences', 'contacts']);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const link = (token: string) => `${app.url}/v1/contacts/confirm/${token}`;
  const setContacts = async (user: string, doc: Record<string, unknown>) => {
    const res = await fetch(`${app.url}/v1/users/${user}/preferences`, { method: 'PUT', headers: bearer(key), body: JSON.stringify(doc) });
    assert.equal(res.status, 200);
  };
  const confirmedAt = async (user: string) => {
    const body = (await (await fetch(`${app.url}/v1/users/${user}/preferences`, { headers: bearer(key) })).json()) as { contacts: Record<'email' | 'phone', { confirmed_at: string | null }> };
    return body.contacts;
  };

  it('given a browser or a link scanner following the link, then GET shows a page and confirms nothing', async () => {
    await setContacts('user_page', { email: 'page@example.com' });
    const token = signContactToken(unsubscribeSecret, 'user_page', 'email', 'page@example.com', Date.now());
    const res = await fetch(link(token), { headers: { accept: 'text/html' } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<form method="post">/);
    assert.equal((await confirmedAt('user_page')).email.confirmed_at, null);
  });

  it('given a POST of a link sent to the current email, then the email is confirmed by an appended change, and again changes nothing', async () => {
    await setContacts('user_ok', { email: 'ok@example.com', phone: '+14155550123' });
    const token = signContactToken(unsubscribeSecret, 'user_ok', 'email', 'ok@example.com', Date.now());
    const res = await fetch(link(token), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'confirm=yes' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { confirmed: boolean; changed: boolean; field: string; event_id: string };
    assert.deepEqual([body.confirmed, body.changed, body.field], [true, true, 'email']);
    const contacts = await confirmedAt('user_ok');
    assert.ok(contacts.email.confirmed_at !== null);
    assert.equal(contacts.phone.confirmed_at, null, 'the phone is not confirmed by the email link');
    const changes = await collect(t.rt.kafka, ['notify.preference-changes.v1'], (rs) => rs.some((r) => r.value.event_id === body.event_id));
    const change = changes.find((r) => r.value.event_id === body.event_id)?.value;
    assert.deepEqual([change?.change, change?.source, change?.actor, change?.preferences.email, change?.previous?.email_confirmed_at], ['contact_confirmed', 'confirmation_link', 'contact-confirmation-link', 'ok@example.com', null]);
    assert.equal(change?.preferences.email_confirmed_at, Date.parse(contacts.email.confirmed_at ?? ''));
    const again = await fetch(link(token), { method: 'POST', headers: { accept: 'application/json' } });
    assert.equal(((await again.json()) as { changed: boolean }).changed, false);
    // Changing the email again drops the confirmation.
    await setContacts('user_ok', { email: 'other@example.com', phone: '+14155550123' });
    assert.equal((await confirmedAt('user_ok')).email.confirmed_at, null);
  });

  it('given a link for an address that was replaced since, an expired one, or a forged one, then nothing is confirmed', async () => {
    await setContacts('user_old', { email: 'first@example.com' });
    const stale = signContactToken(unsubscribeSecret, 'user_old', 'email', 'first@example.com', Date.now());
    await setContacts('user_old', { email: 'second@example.com' });
    const before = await recordCount(t.rt.kafka, 'notify.preference-changes.v1');
    const cases: [string, string, number][] = [
      ['replaced address', stale, 410],
      ['expired', signContactToken(unsubscribeSecret, 'user_old', 'email', 'second@example.com', Date.now() - 4 * 86_400_000), 410],
      ['other secret', signContactToken('not-the-secret-0123456789', 'user_old', 'email', 'second@example.com', Date.now()), 400],
      ['an unsubscribe token', signUnsubscribeToken(unsubscribeSecret, 'user_old', null, Date.now()), 400],
      ['a user without preferences', signContactToken(unsubscribeSecret, 'user_none', 'sms', '+14155550123', Date.now()), 410],
    ];
    for (const [name, token, status] of cases) {
      const res = await fetch(link(token), { method: 'POST', headers: { accept: 'application/json' } });
      assert.equal(res.status, status, name);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.preference-changes.v1'), before);
    assert.equal((await readPreferences(t.rt.db, 'user_old')).preferences.email_confirmed_at, null);
  });
});
