/**
 * Web Push end to end below the dispatcher: the push-subscription routes against a real Postgres
 * (register, idempotent re-register, strict validation, delete), then WebPushSender — the real
 * `web-push` library — against a local push service that checks VAPID and decrypts each message
 * (test/support/fake-push-service.ts), and what the sender makes of its answers.
 */
import assert from 'node:assert/strict';
import { createECDH, createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import webpush from 'web-push';
import { PushSubscriptions } from '../../notify/index.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { createApp } from '../../producers/http/app.ts';
import { ApiKeys } from '../../producers/keys/store.ts';
import { pushSubscriptionRoutes } from '../../producers/push/routes.ts';
import { signUserToken } from '../../lib/http/user-token.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { FakePushService, type BrowserSubscription } from '../../test/support/fake-push-service.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { ProviderError } from './providers.ts';
import { WebPushSender, type PushMessage, type VapidDetails } from './push.ts';

/** A VAPID key pair made here with node:crypto (the private scalar left-padded to 32 bytes). */
function vapidPair(subject = 'mailto:push-tests@eventline.local'): VapidDetails {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const priv = Buffer.alloc(32);
  const raw = ecdh.getPrivateKey();
  raw.copy(priv, 32 - raw.length);
  return { subject, publicKey: ecdh.getPublicKey().toString('base64url'), privateKey: priv.toString('base64url') };
}

const expectedId = (endpoint: string) => `psub_${createHash('sha256').update(endpoint).digest('hex').slice(0, 32)}`;

async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the send to fail');
}

describe('Web Push: subscriptions API and sender against Postgres and a local push service', () => {
  let t: TestEnv;
  let push: FakePushService;
  let server: Server;
  let base: string;
  let key: string;
  let subscriptions: PushSubscriptions;
  /** What the routes and the sender log, at info. */
  const logLines: string[] = [];
  let log: Logger;
  const vapid = vapidPair();
  const tokenSecret = randomBytes(32).toString('base64url');
  let n = 0;
  const user = () => `user_push_${++n}`;

  before(async () => {
    t = await createTestEnv('push');
    push = await FakePushService.start({ vapidPublicKey: vapid.publicKey });
    log = createLogger({ ...t.config, logLevel: 'info' }, { write: (line: string) => void logLines.push(line) });
    const app = createApp([pushSubscriptionRoutes({ db: t.rt.db, keys: new ApiKeys(t.rt.db, []), bodyLimitBytes: t.config.http.bodyLimitBytes, log, allowLoopbackEndpoints: true, userTokenSecret: tokenSecret })], log);
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    key = await createKey(t, ['preferences']);
    subscriptions = new PushSubscriptions(t.rt.db);
  });
  after(async () => {
    await new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await push?.close();
    await t?.cleanup();
  });

  const url = (userId: string, id?: string) => `${base}/v1/users/${userId}/push-subscriptions${id ? `/${id}` : ''}`;
  const register = (userId: string, body: unknown, headers: Record<string, string> = bearer(key)) =>
    fetch(url(userId), { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const remove = (userId: string, id: string, headers: Record<string, string> = bearer(key)) => fetch(url(userId, id), { method: 'DELETE', headers });
  const rows = async (userId: string) =>
    (await t.rt.db.query<{ id: string; endpoint: string; p256dh: string; auth: string; last_success_at: Date | null }>('SELECT id, endpoint, p256dh, auth, last_success_at FROM dispatch.push_subscriptions WHERE user_id = $1 ORDER BY id', [userId])).rows;
  const subscribed = async (userId: string): Promise<BrowserSubscription> => {
    const browser = push.subscribe();
    const res = await register(userId, { endpoint: browser.endpoint, expirationTime: null, keys: browser.keys });
    assert.equal(res.status, 201);
    return browser;
  };
  const sender = (options: { vapid?: VapidDetails; ttlSeconds?: number } = {}) =>
    new WebPushSender(subscriptions, options.vapid ?? vapid, log, { agent: push.agent, ttlSeconds: options.ttlSeconds ?? 3600, timeoutMs: 5000 });
  const message = (userId: string, over: Partial<PushMessage> = {}): PushMessage => ({
    userId,
    notificationId: `ntf_${randomBytes(6).toString('hex')}`,
    idempotencyKey: `evt_${randomBytes(6).toString('hex')}:push`,
    title: 'Payment failed',
    body: 'Your card ending 4242 was declined — update it to keep your plan.',
    url: 'https://app.example.com/billing',
    ...over,
  });

  describe('the subscription routes', () => {
    it('given a browser subscription, when it is registered, then 201 answers its id, endpoint and creation time, and Postgres holds it for the user', async () => {
      const userId = user();
      const browser = push.subscribe();
      const res = await register(userId, { endpoint: browser.endpoint, expirationTime: null, keys: browser.keys });
      assert.equal(res.status, 201);
      const body = (await res.json()) as { id: string; endpoint: string; created_at: string };
      assert.equal(body.id, expectedId(browser.endpoint));
      assert.equal(body.endpoint, browser.endpoint);
      assert.ok(Math.abs(Date.parse(body.created_at) - Date.now()) < 60_000);
      assert.deepEqual(await rows(userId), [{ id: body.id, endpoint: browser.endpoint, p256dh: browser.keys.p256dh, auth: browser.keys.auth, last_success_at: null }]);
    });

    it('given a registered subscription, when the same one is registered again, then 200 answers the same id and creation time, and there is still one row', async () => {
      const userId = user();
      const browser = push.subscribe();
      const first = (await (await register(userId, { endpoint: browser.endpoint, keys: browser.keys })).json()) as { id: string; created_at: string };
      const again = await register(userId, { endpoint: browser.endpoint, keys: browser.keys });
      assert.equal(again.status, 200);
      assert.deepEqual(await again.json(), { id: first.id, endpoint: browser.endpoint, created_at: first.created_at });
      assert.equal((await rows(userId)).length, 1);
    });

    it('given bad input, then each is answered 4xx with a JSON error and nothing is stored', async () => {
      const userId = user();
      const browser = push.subscribe();
      const good = { endpoint: browser.endpoint, keys: browser.keys };
      const point = Buffer.from(browser.keys.p256dh, 'base64url');
      const offCurve = Buffer.from(point);
      offCurve[64] = (offCurve[64] ?? 0) ^ 0x01;
      const cases: { what: string; body: unknown; status: number; error: string; headers?: Record<string, string>; user?: string }[] = [
        { what: 'malformed JSON', body: '{"endpoint":', status: 400, error: 'bad_request' },
        { what: 'not JSON content', body: JSON.stringify(good), status: 415, error: 'unsupported_media_type', headers: bearer(key, { 'content-type': 'text/plain' }) },
        { what: 'an array', body: [good], status: 422, error: 'unprocessable' },
        { what: 'no keys', body: { endpoint: browser.endpoint }, status: 422, error: 'unprocessable' },
        { what: 'an http endpoint', body: { ...good, endpoint: browser.endpoint.replace('https:', 'http:') }, status: 422, error: 'unprocessable' },
        { what: 'an endpoint on a private address', body: { ...good, endpoint: 'https://10.0.0.7/push/x' }, status: 422, error: 'unprocessable' },
        { what: 'an endpoint that is not a URL', body: { ...good, endpoint: 'push-service/x' }, status: 422, error: 'unprocessable' },
        { what: 'p256dh of 64 bytes', body: { ...good, keys: { ...browser.keys, p256dh: point.subarray(1).toString('base64url') } }, status: 422, error: 'unprocessable' },
        { what: 'p256dh off the curve', body: { ...good, keys: { ...browser.keys, p256dh: offCurve.toString('base64url') } }, status: 422, error: 'unprocessable' },
        { what: 'p256dh in padded base64', body: { ...good, keys: { ...browser.keys, p256dh: point.toString('base64') } }, status: 422, error: 'unprocessable' },
        { what: 'auth of 15 bytes', body: { ...good, keys: { ...browser.keys, auth: randomBytes(15).toString('base64url') } }, status: 422, error: 'unprocessable' },
        { what: 'an unknown field', body: { ...good, device: 'phone' }, status: 422, error: 'unprocessable' },
        { what: 'a user id with a space', body: good, status: 400, error: 'bad_request', user: 'bad%20user' },
      ];
      for (const c of cases) {
        const res = await register(c.user ?? userId, c.body, c.headers);
        assert.equal(res.status, c.status, c.what);
        const body = (await res.json()) as { error: string; detail: string };
        assert.equal(body.error, c.error, c.what);
        assert.equal(typeof body.detail, 'string', c.what);
      }
      const stored = await t.rt.db.query('SELECT 1 FROM dispatch.push_subscriptions WHERE endpoint = $1 OR endpoint LIKE $2', [browser.endpoint, 'https://10.0.0.7/%']);
      assert.equal(stored.rowCount, 0);
      assert.deepEqual(await rows(userId), []);
    });

    it('given keys without the scope, then 401 without a key and 403 with a key lacking preferences', async () => {
      const userId = user();
      const browser = push.subscribe();
      const body = { endpoint: browser.endpoint, keys: browser.keys };
      assert.equal((await register(userId, body, { 'content-type': 'application/json' })).status, 401);
      const readOnly = await createKey(t, ['read']);
      assert.equal((await register(userId, body, bearer(readOnly))).status, 403);
      const admin = await createKey(t, ['admin']);
      assert.equal((await register(userId, body, bearer(admin))).status, 201);
    });

    it("given a user token, then the user's browser registers and removes itself, and gets 403 on another user's subscriptions", async () => {
      const userId = user();
      const other = user();
      const token = bearer(signUserToken(tokenSecret, userId, Date.now()).token);
      const browser = push.subscribe();
      const res = await register(userId, { endpoint: browser.endpoint, keys: browser.keys }, token);
      assert.equal(res.status, 201);
      const { id } = (await res.json()) as { id: string };
      assert.equal((await register(other, { endpoint: push.subscribe().endpoint, keys: browser.keys }, token)).status, 403);
      assert.deepEqual(await rows(other), []);
      assert.equal((await remove(userId, id, bearer(signUserToken(randomBytes(32).toString('base64url'), userId, Date.now()).token))).status, 401, 'a token signed with another secret');
      assert.equal((await remove(userId, id, token)).status, 204);
      assert.deepEqual(await rows(userId), []);
    });

    it('given a subscription, when its user deletes it, then 204, it is gone, and deleting it again is 404', async () => {
      const userId = user();
      const browser = await subscribed(userId);
      const id = expectedId(browser.endpoint);
      const res = await remove(userId, id);
      assert.equal(res.status, 204);
      assert.deepEqual(await rows(userId), []);
      assert.equal((await remove(userId, id)).status, 404);
    });

    it("given another user's subscription or an id that is not one, then DELETE answers 404 and the subscription stays", async () => {
      const owner = user();
      const other = user();
      const browser = await subscribed(owner);
      const id = expectedId(browser.endpoint);
      const res = await remove(other, id);
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: string }).error, 'not_found');
      assert.equal((await remove(owner, 'psub_nothex')).status, 404);
      assert.equal((await remove(owner, `psub_${'0'.repeat(32)}`)).status, 404);
      assert.equal((await rows(owner)).length, 1);
    });

    it('given a browser registered by one user, when another user registers it, then it is theirs (201, same id) and no longer the first user’s', async () => {
      const first = user();
      const second = user();
      const browser = await subscribed(first);
      const res = await register(second, { endpoint: browser.endpoint, keys: browser.keys });
      assert.equal(res.status, 201);
      assert.equal(((await res.json()) as { id: string }).id, expectedId(browser.endpoint));
      assert.deepEqual(await rows(first), []);
      assert.equal((await rows(second)).length, 1);
      assert.equal((await remove(first, expectedId(browser.endpoint))).status, 404);
    });

    it('given a user at the cap, when one more browser registers, then the least recently used is replaced', async () => {
      const userId = user();
      const capped = new PushSubscriptions(t.rt.db, { maxPerUser: 2 });
      const [a, b, c] = [push.subscribe(), push.subscribe(), push.subscribe()];
      await capped.register(userId, a);
      await capped.register(userId, b);
      await capped.markSucceeded([expectedId(a.endpoint)], new Date());
      const third = await capped.register(userId, c);
      assert.deepEqual(third.evicted, [expectedId(b.endpoint)]);
      assert.deepEqual((await rows(userId)).map((r) => r.endpoint).sort(), [a.endpoint, c.endpoint].sort());
    });
  });

  describe('WebPushSender through web-push to the push service', () => {
    it('given two subscribed browsers, then each receives the message, decrypted as sent, with the VAPID identity, TTL, urgency and one topic', async () => {
      const userId = user();
      const [a, b] = [await subscribed(userId), await subscribed(userId)];
      const m = message(userId, { urgency: 'high' });
      const result = await sender().send(m);
      const [toA, toB] = [push.deliveredTo(a.id), push.deliveredTo(b.id)];
      assert.equal(toA.length, 1);
      assert.equal(toB.length, 1);
      assert.equal(result.provider, 'webpush');
      assert.ok([toA[0]?.location, toB[0]?.location].includes(result.providerMessageId ?? ''), 'the message id is a Location the push service answered');
      for (const d of [toA[0], toB[0]]) {
        assert.ok(d);
        assert.deepEqual(JSON.parse(d.plaintext), {
          notification_id: m.notificationId,
          title: 'Payment failed',
          body: 'Your card ending 4242 was declined — update it to keep your plan.',
          url: 'https://app.example.com/billing',
        });
        assert.equal(d.vapid.publicKey, vapid.publicKey);
        assert.equal(d.vapid.subject, 'mailto:push-tests@eventline.local');
        assert.equal(d.vapid.audience, push.origin);
        assert.equal(d.ttl, 3600);
        assert.equal(d.urgency, 'high');
        assert.match(d.topic ?? '', /^[A-Za-z0-9_-]{1,32}$/);
      }
      assert.equal(toA[0]?.topic, toB[0]?.topic);
      assert.ok((await rows(userId)).every((r) => r.last_success_at !== null));
    });

    it('given a message without url or urgency, then url is null in the payload and urgency is normal', async () => {
      const userId = user();
      const browser = await subscribed(userId);
      const m = message(userId, { url: null, title: 'Bienvenue 🎉', body: 'Ça marche.' });
      await sender().send(m);
      const d = push.deliveredTo(browser.id)[0];
      assert.deepEqual(JSON.parse(d?.plaintext ?? 'null'), { notification_id: m.notificationId, title: 'Bienvenue 🎉', body: 'Ça marche.', url: null });
      assert.equal(d?.urgency, 'normal');
    });

    it('given a body far over the push size limit, then it is shortened with an ellipsis and the push service still takes it', async () => {
      const userId = user();
      const browser = await subscribed(userId);
      await sender().send(message(userId, { body: 'é'.repeat(5000) }));
      const d = push.deliveredTo(browser.id)[0];
      assert.ok(d, 'delivered (the push service refuses bodies over 4096 bytes with 413)');
      const payload = JSON.parse(d.plaintext) as { body: string; title: string };
      assert.ok(payload.body.endsWith('é…'));
      assert.ok(payload.body.length > 1000, 'shortened only as much as needed');
      assert.ok(Buffer.byteLength(d.plaintext) <= 4096 - 86 - 16 - 1);
      assert.equal(payload.title, 'Payment failed');
    });

    it('given a subscription whose push service answers 410, then it is removed and the other browser still gets the message', async () => {
      const userId = user();
      const [gone, live] = [await subscribed(userId), await subscribed(userId)];
      push.answerWith(gone.id, 410);
      const result = await sender().send(message(userId));
      assert.equal(result.provider, 'webpush');
      assert.equal(push.deliveredTo(live.id).length, 1);
      assert.equal(push.deliveredTo(gone.id).length, 0);
      assert.ok(push.requests.some((r) => r.subscriptionId === gone.id && r.status === 410), 'the 410 subscription was tried');
      assert.deepEqual((await rows(userId)).map((r) => r.endpoint), [live.endpoint]);
    });

    it('given every subscription gone (410 and 404), then the send fails permanently and both are removed; the next send finds none', async () => {
      const userId = user();
      const [a, b] = [await subscribed(userId), await subscribed(userId)];
      push.answerWith(a.id, 410);
      push.answerWith(b.id, 404);
      const err = await rejection(sender().send(message(userId)));
      assert.equal(err.retryable, false);
      assert.equal(err.status, 410);
      assert.deepEqual(await rows(userId), []);
      const none = await rejection(sender().send(message(userId)));
      assert.equal(none.retryable, false);
      assert.equal(none.status, 404);
      assert.equal(none.message, 'no push subscription');
    });

    it('given a push service answering 500, then the send is retryable with that status and the subscription is kept', async () => {
      const userId = user();
      const browser = await subscribed(userId);
      push.answerWith(browser.id, 500);
      const err = await rejection(sender().send(message(userId)));
      assert.equal(err.retryable, true);
      assert.equal(err.status, 500);
      assert.equal((await rows(userId)).length, 1);
      assert.ok(!err.message.includes(browser.endpoint) && !err.message.includes(browser.id), 'the endpoint stays out of the error');
      push.answerWith(browser.id, null);
      assert.equal((await sender().send(message(userId))).provider, 'webpush');
    });

    it('given a push service answering 429, then the send is retryable with 429', async () => {
      const userId = user();
      const browser = await subscribed(userId);
      push.answerWith(browser.id, 429);
      const err = await rejection(sender().send(message(userId)));
      assert.equal(err.retryable, true);
      assert.equal(err.status, 429);
    });

    it('given a push service that does not answer, then the send is retryable with no status (it may have gone out)', async () => {
      const userId = user();
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const browser = push.subscribe();
      await subscriptions.register(userId, { endpoint: `https://127.0.0.1:${port}/push/${browser.id}`, keys: browser.keys });
      const err = await rejection(sender().send(message(userId)));
      assert.equal(err.retryable, true);
      assert.equal(err.status, null);
      assert.ok(!err.message.includes(browser.id));
    });

    it('given a sender whose VAPID key is not the one the browsers subscribed with, then the push service refuses (403) and the send fails permanently', async () => {
      const userId = user();
      const browser = await subscribed(userId);
      const err = await rejection(sender({ vapid: vapidPair() }).send(message(userId)));
      assert.equal(err.retryable, false);
      assert.equal(err.status, 403);
      assert.ok(push.requests.some((r) => r.subscriptionId === browser.id && r.status === 403));
      assert.equal((await rows(userId)).length, 1, 'a refusal of our key does not remove the subscription');
    });

    it('given a VAPID identity whose keys do not match or are malformed, then the sender refuses to start', () => {
      const a = vapidPair();
      const b = vapidPair();
      assert.throws(() => new WebPushSender(subscriptions, { ...a, privateKey: b.privateKey }, t.rt.log), /not the private key/);
      assert.throws(() => new WebPushSender(subscriptions, { ...a, publicKey: a.publicKey.slice(2) }, t.rt.log), /public key/);
      assert.throws(() => new WebPushSender(subscriptions, { ...a, subject: 'notifications@eventline.local' }, t.rt.log), /subject/);
    });
  });

  describe('privacy', () => {
    it('given everything above, then the log has the registrations and removals and never an endpoint path', () => {
      const entries = logLines.map((l) => JSON.parse(l) as { msg: string; reason?: string; service?: string });
      assert.ok(entries.some((e) => e.msg === 'push subscription registered' && e.service === push.origin.slice('https://'.length)));
      for (const reason of ['deleted', 'expired']) {
        assert.ok(entries.some((e) => e.msg === 'push subscription removed' && e.reason === reason), reason);
      }
      assert.ok(entries.some((e) => e.msg === 'push send refused'));
      const leaked = logLines.filter((l) => l.includes('/push/'));
      assert.deepEqual(leaked, []);
    });
  });

  describe('the push service stand-in refuses what a real one would', () => {
    /** A message web-push builds for `browser`, sent by hand so it can be altered first. */
    const sendRaw = (browser: BrowserSubscription, alter: (d: { headers: Record<string, string | number>; body: Buffer }) => void, options: { endpoint?: string } = {}) => {
      const details = webpush.generateRequestDetails({ endpoint: options.endpoint ?? browser.endpoint, keys: browser.keys }, 'hello', { vapidDetails: vapid, TTL: 60 });
      const d = { headers: { ...details.headers } as Record<string, string | number>, body: Buffer.from(details.body) };
      alter(d);
      d.headers['Content-Length'] = d.body.length;
      return new Promise<number>((resolve, reject) => {
        const req = request(`${browser.endpoint}`, { method: 'POST', headers: d.headers, agent: push.agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(d.body);
      });
    };

    it('given an untouched message, then it is accepted (the baseline for the alterations below)', async () => {
      const browser = push.subscribe();
      assert.equal(await sendRaw(browser, () => {}), 201);
      assert.equal(push.deliveredTo(browser.id)[0]?.plaintext, 'hello');
    });

    it('given a flipped ciphertext byte, no TTL, another encoding, a token for another origin or a forged signature, then each is refused for that reason', async () => {
      const browser = push.subscribe();
      const flipByte = (b: Buffer, i: number) => {
        b[i] = (b[i] ?? 0) ^ 0x01;
      };
      const cases: { what: string; alter: (d: { headers: Record<string, string | number>; body: Buffer }) => void; endpoint?: string; status: number; problem: RegExp }[] = [
        { what: 'a flipped ciphertext byte', alter: (d) => flipByte(d.body, d.body.length - 20), status: 400, problem: /decrypt/ },
        { what: 'no TTL', alter: (d) => void delete d.headers.TTL, status: 400, problem: /TTL/ },
        { what: 'aesgcm', alter: (d) => void (d.headers['Content-Encoding'] = 'aesgcm'), status: 400, problem: /Content-Encoding/ },
        { what: 'a token for another origin', alter: () => {}, endpoint: `https://push.example.com/push/${browser.id}`, status: 401, problem: /aud/ },
        {
          what: 'a forged signature',
          alter: (d) => {
            const auth = String(d.headers.Authorization);
            const sig = /t=[^.]+\.[^.]+\.([A-Za-z0-9_-]+)/.exec(auth)?.[1] ?? '';
            const bad = Buffer.from(sig, 'base64url');
            flipByte(bad, 0);
            d.headers.Authorization = auth.replace(sig, bad.toString('base64url'));
          },
          status: 401,
          problem: /signature/,
        },
      ];
      for (const c of cases) {
        assert.equal(await sendRaw(browser, c.alter, c.endpoint ? { endpoint: c.endpoint } : {}), c.status, c.what);
        assert.match(push.requests.at(-1)?.problem ?? '', c.problem, c.what);
      }
      assert.equal(push.deliveredTo(browser.id).length, 0);
    });
  });
});
