import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { signUserToken } from '../../lib/http/user-token.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import type { NotificationDispatched, NotificationRequested } from '../../lib/topics.ts';
import { inboxProjection } from '../../projections/inbox/main.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { providerEnv, unsubscribeSecret } from '../../test/support/providers.ts';
import { createApp } from '../http/app.ts';
import { ApiKeys } from '../keys/store.ts';
import { preferenceRoutes } from '../preferences/route.ts';
import { inboxRoutes } from './routes.ts';

interface Item {
  notification_id: string;
  template: string;
  category: string;
  title: string | null;
  body: string | null;
  action_url: string | null;
  created_at: string;
  seen_at: string | null;
  read_at: string | null;
  archived_at: string | null;
}
interface Feed {
  items: Item[];
  unread_count: number;
  unseen_count: number;
  next_cursor: string | null;
}

const t0 = Date.now() - 3_600_000;
const min = 60_000;
const iso = (minutes: number) => new Date(t0 + minutes * min).toISOString();

describe('inbox and user token routes against the real stack', () => {
  let t: TestEnv;
  let server: Server;
  let url: string;
  let projection: { stop(): Promise<void> };
  let key: string;
  let adminKey: string;
  let readKey: string;

  before(async () => {
    t = await createTestEnv('inbox', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    projection = await runVersionedProjection(t.rt, inboxProjection, { pollMs: 200 });
    const keys = new ApiKeys(t.rt.db, []);
    server = createServer(createApp([inboxRoutes(t.rt, keys), preferenceRoutes(t.rt, keys)], t.rt.log));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    key = await createKey(t, ['preferences']);
    adminKey = await createKey(t, ['admin']);
    readKey = await createKey(t, ['read']);
  });
  after(async () => {
    await new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await projection?.stop();
    await t?.cleanup();
  });

  /** A request and its in_app (or other channel's) sent outcome, `minute` minutes after t0. */
  async function sendInApp(user: string, id: string, minute: number, data: Record<string, unknown> = { amount_due: 1250, currency: 'usd' }, channel = 'in_app'): Promise<void> {
    const at = t0 + minute * min;
    const request: NotificationRequested = {
      event_id: `req:${id}`, occurred_at: at, received_at: at, notification_id: id, user_id: user, template: 'receipt', category: 'billing', priority: 'NORMAL',
      channel: null, data: JSON.stringify(data), idempotency_key: null, requested_by: 'test', source_event_id: null, send_at: null, escalation: null, recurrence: null, sequence: null, avoid_channels: [],
    };
    const outcome: NotificationDispatched = {
      event_id: `${id}:sent:${channel}:1`, occurred_at: at, received_at: at, notification_id: id, user_id: user, template: 'receipt', category: 'billing', priority: 'NORMAL',
      channel, status: 'sent', reason: null, provider: 'eventline', provider_message_id: null, attempt: 1, deferred_until: null, locale: 'en-US', digest_id: null,
      request_event_id: request.event_id, seq: 1, fallback: [], due_at: null, digest_date: null, cap_date: null, destination_country: null, price_micros: null, price_currency: null, route_reason: null, template_version: null, experiment: null, variant: null,
    };
    const appender = await t.rt.kafka.appender();
    await appender.append('notify.dispatch-requests.v1', [{ key: user, record: 'NotificationRequested', value: request }]);
    await appender.append('notify.dispatches.v1', [{ key: id, record: 'NotificationDispatched', value: outcome }]);
  }

  const get = (user: string, query = '', credential = key) => fetch(`${url}/v1/users/${user}/inbox${query}`, { headers: bearer(credential) });
  const post = (path: string, credential = key) => fetch(`${url}${path}`, { method: 'POST', headers: bearer(credential) });
  async function feed(user: string, query = ''): Promise<Feed> {
    const res = await get(user, query);
    assert.equal(res.status, 200);
    return (await res.json()) as Feed;
  }
  /** Polls the feed until `ready` holds for it. */
  const feedWhen = (user: string, ready: (f: Feed) => boolean, query = '') =>
    eventually(async () => {
      const f = await feed(user, query);
      return ready(f) ? f : undefined;
    }, { what: `the inbox of ${user}${query}` });
  const itemOf = (f: Feed, id: string) => f.items.find((i) => i.notification_id === id);
  const deliveryEvents = () => t.rt.kafka.recordCount('notify.delivery-events.v1');

  it('given an in_app sent outcome, then the item is in the feed, unseen and unread, with its text; an email-only one is not', async () => {
    await sendInApp('user_feed', 'ntf_mail', 1, { amount_due: 100, currency: 'usd' }, 'email');
    await sendInApp('user_feed', 'ntf_a', 2, { amount_due: 1250, currency: 'usd', hosted_invoice_url: 'https://pay.example.com/i/1' });
    // The item exists with its outcome; its text once the request (another topic) is projected too.
    const f = await feedWhen('user_feed', (x) => x.items.some((i) => i.title !== null));
    assert.deepEqual(f, {
      items: [
        {
          notification_id: 'ntf_a',
          template: 'receipt',
          category: 'billing',
          title: 'Payment received: $12.50',
          body: 'Payment of $12.50 received. Thank you!',
          action_url: 'https://pay.example.com/i/1',
          created_at: iso(2),
          seen_at: null,
          read_at: null,
          archived_at: null,
        },
      ],
      unread_count: 1,
      unseen_count: 1,
      next_cursor: null,
    });
  });

  it('given seen then read, then the counts follow, each change is one in_app event, and seeing it again appends nothing', async () => {
    const before = Date.now();
    const seen = await post('/v1/users/user_feed/inbox/ntf_a/seen');
    assert.equal(seen.status, 200);
    const seenBody = (await seen.json()) as { appended: boolean; event_id: string; item: Item };
    assert.equal(seenBody.appended, true);
    assert.ok(seenBody.item.seen_at && Date.parse(seenBody.item.seen_at) >= before);
    assert.equal(seenBody.item.read_at, null);
    let f = await feedWhen('user_feed', (x) => x.unseen_count === 0);
    assert.deepEqual([f.unread_count, f.unseen_count, itemOf(f, 'ntf_a')?.seen_at, itemOf(f, 'ntf_a')?.read_at], [1, 0, seenBody.item.seen_at, null]);

    const count = await deliveryEvents();
    const again = await post('/v1/users/user_feed/inbox/ntf_a/seen');
    assert.equal(((await again.json()) as { appended: boolean }).appended, false);
    assert.equal(await deliveryEvents(), count);

    const read = await post('/v1/users/user_feed/inbox/ntf_a/read');
    assert.equal(read.status, 200);
    const readBody = (await read.json()) as { event_id: string; item: Item };
    f = await feedWhen('user_feed', (x) => x.unread_count === 0);
    assert.deepEqual([f.unseen_count, itemOf(f, 'ntf_a')?.seen_at, itemOf(f, 'ntf_a')?.read_at], [0, seenBody.item.seen_at, readBody.item.read_at]);
    assert.ok(readBody.item.read_at && Date.parse(readBody.item.read_at) >= Date.parse(seenBody.item.seen_at as string));

    const records = await collect(t.rt.kafka, ['notify.delivery-events.v1'], (r) => r.filter((x) => x.key === 'ntf_a').length >= 2);
    const mine = records.filter((r) => r.key === 'ntf_a');
    assert.deepEqual(
      mine.map((r) => [r.record, r.value.event_id, r.value.provider, r.value.channel, r.value.notification_id, r.value.kind, r.value.provider_event]),
      [
        ['DeliveryEventReceived', seenBody.event_id, 'eventline', 'in_app', 'ntf_a', 'seen', 'seen'],
        ['DeliveryEventReceived', readBody.event_id, 'eventline', 'in_app', 'ntf_a', 'read', 'read'],
      ],
    );
    assert.equal((JSON.parse(mine[0]?.value.raw ?? '{}') as { user_id?: string }).user_id, 'user_feed');
  });

  it('given unread, then unread again but still seen', async () => {
    const res = await post('/v1/users/user_feed/inbox/ntf_a/unread');
    assert.equal(res.status, 200);
    const f = await feedWhen('user_feed', (x) => x.unread_count === 1);
    assert.equal(f.unseen_count, 0);
    assert.equal(itemOf(f, 'ntf_a')?.read_at, null);
    assert.ok(itemOf(f, 'ntf_a')?.seen_at);
  });

  it('given archive, then the item leaves the default feed and its counts, and shows under archived and all', async () => {
    await sendInApp('user_feed', 'ntf_b', 3);
    await feedWhen('user_feed', (x) => x.items.length === 2);
    const res = await post('/v1/users/user_feed/inbox/ntf_a/archive');
    assert.equal(res.status, 200);
    const f = await feedWhen('user_feed', (x) => !itemOf(x, 'ntf_a'));
    // ntf_a (unread, seen) is archived; ntf_b is unseen and unread.
    assert.deepEqual([f.items.map((i) => i.notification_id), f.unread_count, f.unseen_count], [['ntf_b'], 1, 1]);
    const archived = await feed('user_feed', '?status=archived');
    assert.deepEqual(archived.items.map((i) => i.notification_id), ['ntf_a']);
    assert.ok(archived.items[0]?.archived_at);
    assert.deepEqual((await feed('user_feed', '?status=all')).items.map((i) => i.notification_id), ['ntf_b', 'ntf_a']);
    assert.deepEqual((await feed('user_feed', '?status=unread')).items.map((i) => i.notification_id), ['ntf_b']);
    assert.deepEqual((await feed('user_feed', '?status=unseen')).items.map((i) => i.notification_id), ['ntf_b']);
  });

  it('given read-all, then every unread item not archived is read, with one event each', async () => {
    for (const [id, minute] of [['ntf_r1', 1], ['ntf_r2', 2], ['ntf_r3', 3], ['ntf_r4', 4]] as const) await sendInApp('user_all', id, minute);
    await feedWhen('user_all', (x) => x.items.length === 4);
    await post('/v1/users/user_all/inbox/ntf_r1/read');
    await post('/v1/users/user_all/inbox/ntf_r4/archive');
    await feedWhen('user_all', (x) => x.unread_count === 2 && x.items.length === 3);
    const count = await deliveryEvents();
    const res = await post('/v1/users/user_all/inbox/read-all');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { marked: 2 });
    assert.equal(await deliveryEvents(), count + 2);
    const f = await feedWhen('user_all', (x) => x.unread_count === 0);
    assert.deepEqual([f.unseen_count, f.items.every((i) => i.read_at !== null && i.seen_at !== null)], [0, true]);
    const archived = await feed('user_all', '?status=archived');
    assert.equal(archived.items[0]?.read_at, null);
    const again = await post('/v1/users/user_all/inbox/read-all');
    assert.deepEqual(await again.json(), { marked: 0 });
    assert.equal(await deliveryEvents(), count + 2);
  });

  it('given more items than the limit, then pages newest first, and a cursor is not moved by newer items', async () => {
    for (let i = 0; i < 5; i++) await sendInApp('user_page', `ntf_p${i}`, 10 + i);
    await feedWhen('user_page', (x) => x.items.length === 5);
    const first = await feed('user_page', '?limit=2');
    assert.deepEqual(first.items.map((i) => i.notification_id), ['ntf_p4', 'ntf_p3']);
    assert.deepEqual([first.unread_count, first.unseen_count], [5, 5]);
    assert.ok(first.next_cursor);
    await sendInApp('user_page', 'ntf_p9', 30);
    await feedWhen('user_page', (x) => x.items.length === 6);
    const second = await feed('user_page', `?limit=2&cursor=${first.next_cursor}`);
    assert.deepEqual(second.items.map((i) => i.notification_id), ['ntf_p2', 'ntf_p1']);
    const third = await feed('user_page', `?limit=2&cursor=${second.next_cursor}`);
    assert.deepEqual([third.items.map((i) => i.notification_id), third.next_cursor], [['ntf_p0'], null]);
    assert.deepEqual((await feed('user_page', '?limit=6')).next_cursor, null);
    const top = await feed('user_page', '?limit=1');
    assert.deepEqual(top.items.map((i) => i.notification_id), ['ntf_p9']);
  });

  it('given a user token, then it opens that user\'s inbox and preferences only; expired, tampered or foreign ones are 401, another user 403', async () => {
    const before = Date.now();
    const issued = await fetch(`${url}/v1/users/user_feed/token`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(issued.status, 200);
    const { token, expires_at } = (await issued.json()) as { token: string; expires_at: string };
    const expires = Date.parse(expires_at);
    assert.ok(expires >= Math.floor(before / 1000) * 1000 + 3_600_000 && expires <= Date.now() + 3_600_000, expires_at);

    assert.equal((await get('user_feed', '', token)).status, 200);
    assert.equal((await post('/v1/users/user_feed/inbox/ntf_b/seen', token)).status, 200);
    assert.equal((await fetch(`${url}/v1/users/user_feed/preferences`, { headers: bearer(token) })).status, 200);
    const put = await fetch(`${url}/v1/users/user_feed/preferences`, { method: 'PUT', headers: bearer(token), body: JSON.stringify({ timezone: 'Europe/Paris' }) });
    assert.equal(put.status, 200);
    const change = ((await put.json()) as { event_id: string }).event_id;
    const changes = await collect(t.rt.kafka, ['notify.preference-changes.v1'], (r) => r.some((x) => x.value.event_id === change));
    const made = changes.find((x) => x.value.event_id === change)?.value;
    assert.deepEqual([made?.actor, made?.source], ['user:user_feed', 'preference_centre'], 'the user made it, on their own page');

    const status = async (res: Promise<Response>) => {
      const r = await res;
      const body = (await r.json()) as { error: string };
      return [r.status, body.error];
    };
    assert.deepEqual(await status(get('user_page', '', token)), [403, 'forbidden']);
    assert.deepEqual(await status(post('/v1/users/user_page/inbox/ntf_p1/read', token)), [403, 'forbidden']);
    assert.deepEqual(await status(fetch(`${url}/v1/users/user_page/preferences`, { headers: bearer(token) })), [403, 'forbidden']);
    assert.deepEqual(await status(fetch(`${url}/v1/users/user_feed/preferences`, { method: 'PUT', headers: bearer(token), body: JSON.stringify({ email: 'new@example.com' }) })), [403, 'forbidden']);
    // Not a key: it cannot issue tokens.
    assert.deepEqual(await status(post('/v1/users/user_feed/token', token)), [401, 'unauthorized']);

    const expired = signUserToken(unsubscribeSecret, 'user_feed', Date.now() - 2 * 3_600_000).token;
    const [payload, mac] = token.slice(4).split('.') as [string, string];
    const otherUser = Buffer.from(JSON.stringify({ ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as object), u: 'user_page' })).toString('base64url');
    const flipped = `${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`;
    const foreign = signUserToken('another-secret-0123456789abcdef', 'user_feed', Date.now()).token;
    for (const [what, bad] of [['expired', expired], ['payload changed', `evu_${otherUser}.${mac}`], ['signature changed', `evu_${payload}.${flipped}`], ['another secret', foreign]] as const) {
      const res = await get('user_feed', '', bad);
      assert.equal(res.status, 401, what);
      assert.equal(((await res.json()) as { error: string }).error, 'unauthorized', what);
      assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/, what);
      assert.equal((await fetch(`${url}/v1/users/user_feed/preferences`, { headers: bearer(bad) })).status, 401, what);
    }
    // The API key still works for any user.
    assert.equal((await get('user_page')).status, 200);
    assert.equal((await fetch(`${url}/v1/users/user_page/preferences`, { headers: bearer(key) })).status, 200);
  });

  it('given a TTL, then the token lasts that long; out of range, not JSON or without the admin scope, then 4xx', async () => {
    const before = Date.now();
    const res = await fetch(`${url}/v1/users/user_feed/token`, { method: 'POST', headers: bearer(adminKey), body: JSON.stringify({ ttl_seconds: 86_400 }) });
    assert.equal(res.status, 200);
    const expires = Date.parse(((await res.json()) as { expires_at: string }).expires_at);
    assert.ok(expires >= Math.floor(before / 1000) * 1000 + 86_400_000 && expires <= Date.now() + 86_400_000);
    const cases: [string, RequestInit, number, string][] = [
      ['a day and a second', { headers: bearer(adminKey), body: JSON.stringify({ ttl_seconds: 86_401 }) }, 422, 'unprocessable'],
      ['zero', { headers: bearer(adminKey), body: JSON.stringify({ ttl_seconds: 0 }) }, 422, 'unprocessable'],
      ['not an integer', { headers: bearer(adminKey), body: JSON.stringify({ ttl_seconds: 'an hour' }) }, 422, 'unprocessable'],
      ['unknown field', { headers: bearer(adminKey), body: JSON.stringify({ user: 'x' }) }, 422, 'unprocessable'],
      ['malformed JSON', { headers: bearer(adminKey), body: '{"ttl_seconds":' }, 400, 'bad_request'],
      ['a preferences key', { headers: bearer(key) }, 403, 'forbidden'],
      ['no key', {}, 401, 'unauthorized'],
    ];
    for (const [what, init, code, error] of cases) {
      const r = await fetch(`${url}/v1/users/user_feed/token`, { method: 'POST', ...init });
      assert.equal(r.status, code, what);
      assert.equal(((await r.json()) as { error: string }).error, error, what);
    }
  });

  it('given bad input, then a 4xx JSON error and nothing appended', async () => {
    const count = await deliveryEvents();
    const cases: [string, Promise<Response>, number, string][] = [
      ['bad status', get('user_feed', '?status=read'), 400, 'bad_request'],
      ['limit 0', get('user_feed', '?limit=0'), 400, 'bad_request'],
      ['limit 101', get('user_feed', '?limit=101'), 400, 'bad_request'],
      ['bad cursor', get('user_feed', '?cursor=abc'), 400, 'bad_request'],
      ['bad user id', get('user%20feed'), 400, 'bad_request'],
      ['unknown notification', post('/v1/users/user_feed/inbox/ntf_nope/read'), 404, 'not_found'],
      ["another user's notification", post('/v1/users/user_page/inbox/ntf_a/read'), 404, 'not_found'],
      ['not a notification id', post('/v1/users/user_feed/inbox/42/read'), 400, 'bad_request'],
      ['unknown action', post('/v1/users/user_feed/inbox/ntf_b/snooze'), 404, 'not_found'],
      ['no key', fetch(`${url}/v1/users/user_feed/inbox/ntf_b/read`, { method: 'POST' }), 401, 'unauthorized'],
      ['a key without the scope', post('/v1/users/user_feed/inbox/ntf_b/read', readKey), 403, 'forbidden'],
      ['read-all without the scope', post('/v1/users/user_feed/inbox/read-all', readKey), 403, 'forbidden'],
    ];
    for (const [what, response, code, error] of cases) {
      const res = await response;
      assert.equal(res.status, code, what);
      assert.equal(((await res.json()) as { error: string }).error, error, what);
    }
    assert.equal(await deliveryEvents(), count);
  });
});
