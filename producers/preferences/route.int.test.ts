import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { runProjection } from '../../lib/projection.ts';
import { preferencesProjection } from '../../projections/preferences/main.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, plain, recordCount } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { providerEnv } from '../../test/support/providers.ts';

describe('preferences API against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;
  let key: string;
  let keyId: string;

  before(async () => {
    t = await createTestEnv('prefs', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    key = await createKey(t, ['preferences', 'contacts']);
    keyId = key.split('_')[1] ?? '';
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const url = (user: string) => `${app.url}/v1/users/${user}/preferences`;
  const put = (user: string, body: unknown, headers = bearer(key)) => fetch(url(user), { method: 'PUT', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('given a user who never set preferences, then GET answers the defaults', async () => {
    const res = await fetch(url('user_new'), { headers: bearer(key) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { preferences: { channels: Record<string, boolean>; locale: string }; changed_at: string | null };
    assert.deepEqual(body.preferences.channels, { email: true, sms: true, push: false, in_app: true });
    assert.equal(body.preferences.locale, 'en-US');
    assert.equal(body.changed_at, null);
  });

  it('given a PUT, then a GET right after shows it, and the change event records who, why and what it was before', async () => {
    const doc = {
      email: 'ana@example.com',
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
      channels: { sms: false },
      categories: { marketing: { email: false } },
      quiet_hours: { start: '22:00', end: '07:30' },
      daily_max: 5,
      digest: { enabled: true, hour: 8 },
      reason: 'settings page',
    };
    const first = await put('user_42', doc);
    assert.equal(first.status, 200);
    const second = await put('user_42', { ...doc, daily_max: 3, reason: 'fewer please' });
    assert.equal(second.status, 200);
    const got = (await (await fetch(url('user_42'), { headers: bearer(key) })).json()) as { preferences: Record<string, unknown> };
    assert.equal(got.preferences.daily_max, 3);
    assert.equal(got.preferences.timezone, 'Europe/Paris');
    assert.deepEqual(got.preferences.categories, { marketing: { email: false } });
    const events = await collect(t.rt.kafka, ['notify.preference-changes.v1'], 2);
    const last = events.find((e) => e.value.reason === 'fewer please');
    assert.ok(last);
    assert.equal(last.key, 'user_42');
    assert.equal(last.value.actor, keyId);
    assert.equal(last.value.change, 'updated');
    assert.equal(last.value.source, 'api');
    assert.equal(last.value.preferences.daily_max, 3);
    assert.equal(last.value.previous?.daily_max, 5);
    const firstEvent = events.find((e) => e.value.reason === 'settings page');
    assert.equal(firstEvent?.value.previous, null);
  });

  it('given the same document again, then nothing changes and nothing is appended', async () => {
    const doc = { timezone: 'Asia/Tokyo' };
    await put('user_same', doc);
    const before = await recordCount(t.rt.kafka, 'notify.preference-changes.v1');
    const again = await put('user_same', doc);
    assert.equal(((await again.json()) as { changed: boolean }).changed, false);
    assert.equal(await recordCount(t.rt.kafka, 'notify.preference-changes.v1'), before);
  });

  it('given bad input, then 4xx with a JSON error, and nothing appended', async () => {
    const readOnly = await createKey(t, ['read']);
    const before = await recordCount(t.rt.kafka, 'notify.preference-changes.v1');
    const cases: [string, Promise<Response>, number, string][] = [
      ['no key', put('user_x', {}, { 'content-type': 'application/json' }), 401, 'unauthorized'],
      ['unknown key', put('user_x', {}, bearer('evl_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')), 401, 'unauthorized'],
      ['key without the scope', put('user_x', {}, bearer(readOnly)), 403, 'forbidden'],
      ['turning off payment emails', put('user_x', { categories: { payment: { email: false } } }), 422, 'unprocessable'],
      ['bad time zone', put('user_x', { timezone: 'Mars/Olympus' }), 422, 'unprocessable'],
      ['unknown field', put('user_x', { colour: 'blue' }), 422, 'unprocessable'],
      ['malformed JSON', put('user_x', '{"timezone":'), 400, 'bad_request'],
      ['not JSON', put('user_x', 'timezone=UTC', bearer(key, { 'content-type': 'application/x-www-form-urlencoded' })), 415, 'unsupported_media_type'],
      ['bad user id', put('user%20x', {}), 400, 'bad_request'],
    ];
    for (const [name, response, status, error] of cases) {
      const res = await response;
      assert.equal(res.status, status, name);
      assert.equal(((await res.json()) as { error: string }).error, error, name);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.preference-changes.v1'), before);
  });

  it('given the topic replayed into an empty table by the projection, then it rebuilds the same current preferences', async () => {
    const expected = await readPreferences(t.rt.db, 'user_42', { box: await t.rt.privacy() });
    await t.rt.db.query('TRUNCATE preferences.user_preferences');
    const consumer = await runProjection(t.rt, preferencesProjection);
    try {
      const rebuilt = await eventually(async () => {
        const r = await readPreferences(t.rt.db, 'user_42', { box: await t.rt.privacy() });
        return r.eventId === expected.eventId ? r : undefined;
      });
      assert.deepEqual(plain(rebuilt.preferences), plain(expected.preferences));
    } finally {
      await consumer.stop();
    }
  });

  it('given a key without the "contacts" scope, when a PUT changes the email or phone, then 403 names the fields and nothing is appended; other changes still go through', async () => {
    await put('user_c1', { email: 'ana@example.com', phone: '+14155550123', timezone: 'UTC' });
    const prefsOnly = await createKey(t, ['preferences']);
    const before = await recordCount(t.rt.kafka, 'notify.preference-changes.v1');
    const cases: [Record<string, unknown>, string[]][] = [
      [{ email: 'mallory@example.com', phone: '+14155550123' }, ['email']],
      [{ email: 'ana@example.com', phone: '+14155550999' }, ['phone']],
      [{ email: 'mallory@example.com', phone: null }, ['email', 'phone']],
    ];
    for (const [doc, fields] of cases) {
      const res = await put('user_c1', doc, bearer(prefsOnly));
      assert.equal(res.status, 403, JSON.stringify(doc));
      const body = (await res.json()) as { error: string; detail: string; problems: string[] };
      assert.equal(body.error, 'forbidden');
      assert.match(body.detail, /"contacts" scope/);
      assert.deepEqual(body.problems.map((p) => p.split(':')[0]), fields);
    }
    assert.equal(await recordCount(t.rt.kafka, 'notify.preference-changes.v1'), before);
    assert.equal((await readPreferences(t.rt.db, 'user_c1')).preferences.email, 'ana@example.com');
    const same = await put('user_c1', { email: 'ana@example.com', phone: '+14155550123', timezone: 'Europe/Paris' }, bearer(prefsOnly));
    assert.equal(same.status, 200);
    assert.equal(((await same.json()) as { changed: boolean }).changed, true);
  });

  it('given a new email, then it is unconfirmed and a confirmation is requested on the email channel; the same document again asks for the same notification', async () => {
    const res = await put('user_c2', { email: 'new@example.com' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { preferences: Record<string, unknown>; contacts: { email: { confirmed_at: string | null } }; event_id: string; confirmations_requested: { field: string; channel: string; notification_id: string }[] };
    assert.equal(body.contacts.email.confirmed_at, null);
    assert.equal('email_confirmed_at' in body.preferences, false, 'the document as a client sends it back');
    assert.deepEqual(body.confirmations_requested.map((c) => [c.field, c.channel]), [['email', 'email']]);
    const id = body.confirmations_requested[0]?.notification_id ?? '';
    const requests = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((r) => r.value.notification_id === id));
    const request = requests.flatMap((r) => (r.record === 'NotificationRequested' && r.value.notification_id === id ? [r.value] : []))[0];
    assert.deepEqual([request?.user_id, request?.template, request?.category, request?.channel, request?.priority, request?.source_event_id], ['user_c2', 'contact_confirmation', 'account', 'email', 'CRITICAL', body.event_id]);
    assert.doesNotMatch(request?.data ?? '', /confirm\//, 'no link (no token) on the topic');
    const again = (await (await put('user_c2', { email: 'new@example.com' })).json()) as { changed: boolean; confirmations_requested: { notification_id: string }[] };
    assert.equal(again.changed, false);
    assert.deepEqual(again.confirmations_requested.map((c) => c.notification_id), [id]);
    const quiet = (await (await put('user_c2', { email: 'new@example.com', timezone: 'Asia/Tokyo' })).json()) as { confirmations_requested: unknown[] };
    assert.deepEqual(quiet.confirmations_requested, [], 'another change does not ask again');
  });

  it('given an unconfirmed email, when a key without the "contacts" scope sends the same document again, then no confirmation is requested', async () => {
    assert.equal((await put('user_c3', { email: 'planted@example.com' })).status, 200);
    const prefsOnly = await createKey(t, ['preferences']);
    const res = await put('user_c3', { email: 'planted@example.com' }, bearer(prefsOnly));
    assert.equal(res.status, 200);
    const body = (await res.json()) as { contacts: { email: { confirmed_at: string | null } }; confirmations_requested: unknown[] };
    assert.equal(body.contacts.email.confirmed_at, null);
    assert.deepEqual(body.confirmations_requested, [], 'only a key that may set contacts may have one confirmed');
  });
});
