import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { buildVersion } from '../lib/projection.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { ApiKeys } from '../producers/keys/store.ts';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { startApp, type RunningApp } from '../test/support/app.ts';
import { createTestEnv, type TestEnv } from '../test/support/env.ts';
import { createKey } from '../test/support/keys.ts';
import { stripeRecords } from '../test/support/stripe-records.ts';

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

  const login = (key: string) => fetch(`${app.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${encodeURIComponent(key)}`, redirect: 'manual' });

  it('asks for a key once, then keeps a signed HttpOnly session cookie that opens the page and its data', async () => {
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
    const data = (await (await fetch(`${app.url}/v1/dashboard?currency=usd`, { headers: { cookie: session } })).json()) as { kpis: { mrrCents: number }; daily: unknown[] };
    const [sum] = (await t.rt.db.query<{ n: number }>("SELECT COALESCE(sum(mrr_cents), 0)::bigint AS n FROM analytics.customer_mrr WHERE currency = 'usd'")).rows;
    assert.equal(data.kpis.mrrCents, sum?.n);
    assert.ok(data.daily.length > 300);

    const forged = session.replace(/.$/, session.endsWith('A') ? 'B' : 'A');
    assert.equal((await fetch(`${app.url}/v1/dashboard`, { headers: { cookie: forged } })).status, 401);

    await new ApiKeys(t.rt.db, []).revoke(key.split('_')[1] ?? '');
    // The app's key cache trusts a lookup for 10 s; a fresh app sees the revocation at once.
    const fresh = await startApp(t.rt);
    try {
      assert.equal((await fetch(`${fresh.url}/v1/dashboard`, { headers: { cookie: session } })).status, 401, 'a revoked key ends its sessions');
    } finally {
      await fresh.close();
    }
  });

  it('serves its script, style and Chart.js, and rejects a bad currency', async () => {
    for (const asset of ['dashboard.js', 'dashboard.css', 'chart.js']) {
      const res = await fetch(`${app.url}/assets/${asset}`);
      assert.equal(res.status, 200, asset);
      assert.ok((await res.text()).length > 500, asset);
    }
    assert.equal((await fetch(`${app.url}/assets/../package.json`)).status, 404);
    const key = await createKey(t, ['read']);
    const res = await fetch(`${app.url}/v1/dashboard?currency=US$`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 400);
  });
});
