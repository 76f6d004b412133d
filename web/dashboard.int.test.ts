import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { buildVersion } from '../lib/projection.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { revokeKey } from '../cli/commands/keys.ts';
import { ApiKeys } from '../producers/keys/store.ts';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { startApp, type RunningApp } from '../test/support/app.ts';
import { createTestEnv, type TestEnv } from '../test/support/env.ts';
import { createKey } from '../test/support/keys.ts';
import { stripeRecords } from '../test/support/stripe-records.ts';
import { Sessions } from './session.ts';

describe('the analyst dashboard', () => {
  let t: TestEnv;
  let app: RunningApp;
  before(async () => {
    t = await createTestEnv('dashboard');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords(stripeHistory({ customers: 40, seed: 5, from: Date.UTC(2026, 0, 1) / 1000, to: Date.UTC(2026, 10, 1) / 1000 })));
    await buildVersion(t.rt, mrrProjection);
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const login = (key: string, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/login`, { method: 'POST', headers: { ...form, ...headers }, body: `key=${encodeURIComponent(key)}`, redirect: 'manual' });
  const logout = (session: string, headers: Record<string, string> = {}) => fetch(`${app.url}/logout`, { method: 'POST', headers: { ...form, cookie: session, ...headers }, redirect: 'manual' });
  const sessionOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const dashboardStatus = async (session: string) => (await fetch(`${app.url}/v1/dashboard`, { headers: { cookie: session } })).status;
  const keyIdOf = (key: string) => key.split('_')[1] ?? '';

  it('asks for a key once, then keeps an HttpOnly session cookie that opens the page and its data', async () => {
    const anonymous = await fetch(`${app.url}/`);
    assert.equal(anonymous.status, 200);
    assert.match(await anonymous.text(), /name="key"/);
    assert.match(anonymous.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal((await fetch(`${app.url}/v1/dashboard`)).status, 401);

    const bad = await login('evl_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);

    const key = await createKey(t, ['read'], 'analyst');
    const ok = await login(key);
    assert.equal(ok.status, 303);
    const cookie = ok.headers.get('set-cookie') ?? '';
    assert.match(cookie, /eventline_session=.+; .*HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    const session = cookie.split(';')[0] ?? '';

    const page = await fetch(`${app.url}/`, { headers: { cookie: session } });
    assert.match(await page.text(), /id="mrr-chart"/);
    const data = (await (await fetch(`${app.url}/v1/dashboard?currency=usd`, { headers: { cookie: session } })).json()) as {
      kpis: { mrrCents: number };
      daily: unknown[];
      status: { activeCents: number; pastDueCents: number; scheduledChurnCents: number } | null;
      saas: { month: string; arr_cents: number }[];
    };
    const [sum] = (await t.rt.db.query<{ n: number }>("SELECT COALESCE(sum(mrr_cents), 0)::bigint AS n FROM analytics.customer_mrr WHERE currency = 'usd'")).rows;
    assert.equal(data.kpis.mrrCents, sum?.n);
    assert.ok(data.daily.length > 300);
    // Today's split adds up to the MRR now; this month's ARR is twelve times it.
    assert.ok(data.status);
    assert.equal(data.status.activeCents + data.status.pastDueCents, sum?.n);
    assert.ok(data.status.scheduledChurnCents <= (sum?.n ?? 0));
    assert.equal(data.saas[0]?.month, new Date().toISOString().slice(0, 7));
    assert.equal(data.saas[0]?.arr_cents, 12 * (sum?.n ?? 0));

    const forged = session.replace(/.$/, session.endsWith('A') ? 'B' : 'A');
    assert.equal((await fetch(`${app.url}/v1/dashboard`, { headers: { cookie: forged } })).status, 401);

    await new ApiKeys(t.rt.db, []).revoke(keyIdOf(key));
    // The app's key cache trusts a lookup for 10 s; a fresh app sees the revocation at once.
    const fresh = await startApp(t.rt);
    try {
      assert.equal((await fetch(`${fresh.url}/v1/dashboard`, { headers: { cookie: session } })).status, 401, 'a revoked key ends its sessions');
      assert.equal(await new Sessions(t.rt.redis).read(session.split('=')[1]), null, 'and the session is deleted server-side');
    } finally {
      await fresh.close();
    }
  });

  it('given a signed-in analyst who signs out, then the old cookie opens nothing any more', async () => {
    const session = sessionOf(await login(await createKey(t, ['read'], 'leaving')));
    assert.equal(await dashboardStatus(session), 200);
    const out = await logout(session);
    assert.equal(out.status, 303);
    assert.match(out.headers.get('set-cookie') ?? '', /eventline_session=;.*Expires=Thu, 01 Jan 1970/i);
    // A copy of the cookie kept after sign-out (another tab, a stolen value) is worthless.
    assert.equal(await dashboardStatus(session), 401);
    assert.match(await (await fetch(`${app.url}/`, { headers: { cookie: session } })).text(), /name="key"/);
  });

  it('given `eventline keys revoke`, then every session of the key ends at once, inside the key cache time', async () => {
    const key = await createKey(t, ['read'], 'revoked-analyst');
    const sessions = [sessionOf(await login(key)), sessionOf(await login(key))];
    const other = sessionOf(await login(await createKey(t, ['read'], 'other-analyst')));
    for (const s of [...sessions, other]) assert.equal(await dashboardStatus(s), 200);
    // The running app has just looked the key up: its cache would trust it for 10 s more.
    assert.equal(await revokeKey(t.rt, keyIdOf(key)), true);
    for (const s of sessions) assert.equal(await dashboardStatus(s), 401);
    assert.equal(await dashboardStatus(other), 200, "another key's session is untouched");
  });

  it('given a key without the read scope, then sign-in is refused with 403 and no session', async () => {
    for (const scopes of [['publish'], ['preferences'], ['publish', 'preferences']] as const) {
      const res = await login(await createKey(t, scopes, 'service'));
      assert.equal(res.status, 403, scopes.join(','));
      assert.equal(res.headers.get('set-cookie'), null, scopes.join(','));
      assert.match(await res.text(), /lacks the &quot;read&quot; scope/);
    }
    assert.equal((await login(await createKey(t, ['admin'], 'operator'))).status, 303, 'admin implies read');
  });

  it('given a sign-in or sign-out posted from another site, then 403 and the session is neither opened nor closed', async () => {
    const key = await createKey(t, ['read'], 'csrf-target');
    const crossSite: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site', origin: app.url }];
    for (const headers of crossSite) {
      const res = await login(key, headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(res.headers.get('set-cookie'), null, JSON.stringify(headers));
      assert.equal(((await res.json()) as { error: string }).error, 'forbidden');
    }
    const session = sessionOf(await login(key, { origin: app.url, 'sec-fetch-site': 'same-origin' }));
    assert.equal(await dashboardStatus(session), 200, 'a same-origin sign-in works');
    assert.equal((await logout(session, { origin: 'https://evil.example' })).status, 403);
    assert.equal(await dashboardStatus(session), 200, 'another site cannot sign the analyst out');
    assert.equal((await logout(session, { origin: t.config.http.publicUrl })).status, 303, 'the public URL is this dashboard too');
    assert.equal(await dashboardStatus(session), 401);
  });

  it('given a session cookie that is not validly percent-encoded, then the sign-in page and 401, not an error', async () => {
    const page = await fetch(`${app.url}/`, { headers: { cookie: 'eventline_session=%ZZ%E0' } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /name="key"/);
    assert.equal(await dashboardStatus('eventline_session=%ZZ%E0'), 401);
  });

  it('given outbox messages, then a read key sees masked recipients and only an admin key sees them in full', async () => {
    await t.rt.db.query(
      `INSERT INTO dispatch.outbox (idempotency_key, notification_id, channel, recipient, subject, body_text, message_id)
       VALUES ('mask-1', 'ntf_mask1', 'email', 'ana.lopez@example.com', 'Your receipt', 'Thanks', 'm1'),
              ('mask-2', 'ntf_mask2', 'sms', '+15005550123', NULL, 'Payment failed', 'm2')`,
    );
    const outbox = async (headers: Record<string, string>) => {
      const text = await (await fetch(`${app.url}/v1/dashboard`, { headers })).text();
      return { text, recipients: ((JSON.parse(text) as { outbox: { recipient: string }[] }).outbox).map((r) => r.recipient).sort() };
    };
    const readKey = await createKey(t, ['read'], 'masked');
    const asReader: Record<string, string>[] = [{ authorization: `Bearer ${readKey}` }, { cookie: sessionOf(await login(readKey)) }];
    for (const headers of asReader) {
      const seen = await outbox(headers);
      assert.deepEqual(seen.recipients, ['+1******0123', 'a***@example.com']);
      assert.ok(!seen.text.includes('ana.lopez') && !seen.text.includes('5550123'), 'no full address anywhere in the answer');
    }
    const adminKey = await createKey(t, ['admin'], 'unmasked');
    const asAdmin: Record<string, string>[] = [{ authorization: `Bearer ${adminKey}` }, { cookie: sessionOf(await login(adminKey)) }];
    for (const headers of asAdmin) {
      assert.deepEqual((await outbox(headers)).recipients, ['+15005550123', 'ana.lopez@example.com']);
    }
  });

  it('serves its script, style and Chart.js and nothing else (not even what every object has), and rejects a bad currency', async () => {
    for (const asset of ['dashboard.js', 'dashboard.css', 'chart.js']) {
      const res = await fetch(`${app.url}/assets/${asset}`);
      assert.equal(res.status, 200, asset);
      assert.ok((await res.text()).length > 500, asset);
    }
    assert.equal((await fetch(`${app.url}/assets/../package.json`)).status, 404);
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) assert.equal((await fetch(`${app.url}/assets/${name}`)).status, 404, `no asset is called ${name}`);
    const key = await createKey(t, ['read']);
    const res = await fetch(`${app.url}/v1/dashboard?currency=US$`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 400);
  });
});
