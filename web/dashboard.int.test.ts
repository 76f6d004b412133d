import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { buildVersion } from '../lib/projection.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { deliveryProjection } from '../projections/delivery/main.ts';
import type { DeliveryEventReceived, DeliveryKind, NotificationDispatched } from '../lib/topics.ts';
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
    // What Chromium sends for the sign-in form under `Referrer-Policy: no-referrer`.
    const chromium = await login(key, { origin: 'null', 'sec-fetch-site': 'same-origin' });
    assert.equal(chromium.status, 303, 'an opaque Origin the browser itself calls same-origin');
    assert.equal(await dashboardStatus(sessionOf(chromium)), 200);
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

  it('given a month of the bridge, then its movements are those of analytics.mrr_movements, and each leads to its lineage and subscription versions', async () => {
    const key = await createKey(t, ['read'], 'drill');
    const get = async (path: string) => fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    const [busiest] = (
      await t.rt.db.query<{ month: string }>(
        "SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month FROM analytics.mrr_movements WHERE currency = 'usd' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
      )
    ).rows;
    assert.ok(busiest, 'the history has usd movements');
    const [{ schema } = { schema: '' }] = (await t.rt.db.query<{ schema: string }>("SELECT schema_name AS schema FROM public.projection_versions WHERE projection = 'mrr' AND status = 'active'")).rows;
    const listed = (await (await get(`/v1/dashboard/movements?month=${busiest.month}&currency=usd`)).json()) as {
      total: number;
      movements: { seq: number; customer_id: string; movement: string; delta_cents: number; stripe_event_id: string }[];
    };
    const expected = (
      await t.rt.db.query<{ customer_id: string; movement: string; delta_cents: number; stripe_event_id: string }>(
        `SELECT customer_id, movement, delta_cents, stripe_event_id FROM analytics.mrr_movements
         WHERE currency = 'usd' AND to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') = $1 ORDER BY occurred_at, customer_id`,
        [busiest.month],
      )
    ).rows;
    assert.ok(expected.length > 1);
    assert.equal(listed.total, expected.length);
    assert.deepEqual(
      listed.movements.map(({ customer_id, movement, delta_cents, stripe_event_id }) => ({ customer_id, movement, delta_cents, stripe_event_id })),
      expected,
    );

    // Every movement of the month opens: its parts are its lineage and add up to its change, and
    // the versions shown are the customer's, one of them from the movement's own event when a
    // subscription event caused it.
    for (const m of listed.movements) {
      const res = await get(`/v1/dashboard/movements/${m.customer_id}/${m.seq}?currency=usd`);
      assert.equal(res.status, 200, `${m.customer_id}/${m.seq}`);
      const detail = (await res.json()) as {
        movement: { stripe_event_id: string; delta_cents: number };
        subscriptions: { subscription_id: string; delta_cents: number; stripe_event_id: string }[];
        versions: { subscription_id: string; event_id: string; at_movement_event: boolean; state: { customer_id: string } }[];
      };
      assert.equal(detail.movement.stripe_event_id, m.stripe_event_id);
      const lineage = (
        await t.rt.db.query<{ subscription_id: string; delta_cents: number }>(
          "SELECT subscription_id, delta_cents FROM analytics.mrr_lineage WHERE customer_id = $1 AND currency = 'usd' AND stripe_event_id = $2 ORDER BY subscription_id",
          [m.customer_id, m.stripe_event_id],
        )
      ).rows;
      assert.deepEqual(detail.subscriptions.map(({ subscription_id, delta_cents }) => ({ subscription_id, delta_cents })), lineage);
      assert.equal(detail.subscriptions.reduce((sum, p) => sum + p.delta_cents, 0), m.delta_cents);
      assert.ok(detail.versions.length >= 1);
      for (const v of detail.versions) assert.equal(v.state.customer_id, m.customer_id);
      const fromEvent = await t.rt.db.query<{ subscription_id: string }>(`SELECT subscription_id FROM ${schema}.subscription_versions WHERE event_id = $1 ORDER BY 1`, [m.stripe_event_id]);
      assert.deepEqual(
        detail.versions.filter((v) => v.at_movement_event).map((v) => v.subscription_id),
        fromEvent.rows.map((r) => r.subscription_id).filter((id) => detail.subscriptions.some((p) => p.subscription_id === id)),
        'the version a subscription event made is shown as such',
      );
      assert.ok(detail.versions.every((v) => v.event_id === m.stripe_event_id || !v.at_movement_event));
    }
    assert.equal((await get(`/v1/dashboard/movements/${listed.movements[0]?.customer_id}/99999?currency=usd`)).status, 404);
    for (const empty of ['1999-01', '0050-01', '9999-12']) {
      assert.deepEqual(await (await get(`/v1/dashboard/movements?month=${empty}&currency=usd`)).json(), { currency: 'usd', month: empty, total: 0, movements: [] });
    }
  });

  it('given bad drill-down input, then 400 with a JSON error; without a key or session, 401', async () => {
    const key = await createKey(t, ['read'], 'drill-bad');
    const bad = [
      '/v1/dashboard/movements?currency=usd',
      '/v1/dashboard/movements?month=2026-13&currency=usd',
      '/v1/dashboard/movements?month=2026-1&currency=usd',
      '/v1/dashboard/movements?month=november&currency=usd',
      '/v1/dashboard/movements?month=2026-11',
      '/v1/dashboard/movements?month=2026-11&currency=USD',
      '/v1/dashboard/movements?month=2026-11&currency=usd&currency=eur',
      '/v1/dashboard/movements/cus_000001/0',
      '/v1/dashboard/movements/cus_000001/1.5?currency=usd',
      '/v1/dashboard/movements/cus_000001/-1?currency=usd',
      '/v1/dashboard/movements/cus_000001/first?currency=usd',
      '/v1/dashboard/movements/cus_000001/9999999999?currency=usd',
      '/v1/dashboard/movements/cus%20000001/0?currency=usd',
      '/v1/dashboard/stripe-events/cus_000001/in_123',
      '/v1/dashboard/stripe-events/cus_000001/evt_1%3B%20DROP',
      '/v1/dashboard/stripe-events/cus%20000001/evt_1',
    ];
    for (const path of bad) {
      const res = await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 400, path);
      const body = (await res.json()) as { error: string; detail: string };
      assert.equal(body.error, 'bad_request', path);
      assert.ok(body.detail.length > 0, path);
    }
    const unknown = await fetch(`${app.url}/v1/dashboard/stripe-events/cus_000001/evt_NotBehindAnyVersion`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: string }).error, 'not_found');
    for (const path of ['/v1/dashboard/movements?month=2026-11&currency=usd', '/v1/dashboard/movements/cus_000001/0?currency=usd', '/v1/dashboard/stripe-events/cus_000001/evt_1']) {
      const res = await fetch(`${app.url}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(((await res.json()) as { error: string }).error, 'unauthorized');
    }
    const noRead = await createKey(t, ['publish'], 'drill-publish');
    assert.equal((await fetch(`${app.url}/v1/dashboard/movements?month=2026-11&currency=usd`, { headers: { authorization: `Bearer ${noRead}` } })).status, 403);
  });

  describe('given a range of months', () => {
    interface Answer {
      currency: string;
      currencies: string[];
      range: { from: string; to: string };
      monthly: Record<string, unknown>[];
      saas: Record<string, unknown>[];
      daily: { day: string; mrr_cents: number }[];
      movements: { at: string; customer_id: string; movement: string; delta_cents: number; mrr_after_cents: number }[];
      cohorts: { cohort_month: string; months_since_start: number }[];
    }
    let key = '';
    const dashboard = async (query: string) => {
      key ||= await createKey(t, ['read'], 'range');
      return fetch(`${app.url}/v1/dashboard${query}`, { headers: { authorization: `Bearer ${key}` } });
    };
    const answer = async (query: string) => {
      const res = await dashboard(query);
      assert.equal(res.status, 200, query);
      return (await res.json()) as Answer;
    };
    // What the views hold from `from` to `to` (both YYYY-MM, both included), queried apart from
    // web/data.ts's way: each row's UTC month as text, compared with the range's ends.
    const sql = async <R extends Record<string, unknown>>(text: string, currency: string, from: string, to: string) =>
      (await t.rt.db.query<R>(text, [currency, from, to])).rows;
    const expected = async (currency: string, from: string, to: string) => ({
      monthly: await sql(
        `SELECT to_char(month, 'YYYY-MM') AS month, opening_mrr_cents, new_cents, expansion_cents, contraction_cents, churn_cents, reactivation_cents, closing_mrr_cents
         FROM analytics.mrr_monthly WHERE currency = $1 AND to_char(month, 'YYYY-MM') BETWEEN $2 AND $3 ORDER BY month`,
        currency, from, to,
      ),
      saas: await sql(
        `SELECT to_char(month, 'YYYY-MM') AS month, arr_cents, net_new_mrr_cents, customers_opening, customers_closing, churned_customers, quick_ratio::float8 AS quick_ratio,
                grr::float8 AS grr, nrr::float8 AS nrr, logo_churn_rate::float8 AS logo_churn_rate, arpa_cents, ltv_cents
         FROM analytics.saas_metrics_monthly WHERE currency = $1 AND to_char(month, 'YYYY-MM') BETWEEN $2 AND $3 ORDER BY month DESC`,
        currency, from, to,
      ),
      days: await sql<{ first: string | null; last: string | null; days: number }>(
        `SELECT to_char(min(day), 'YYYY-MM-DD') AS first, to_char(max(day), 'YYYY-MM-DD') AS last, count(*)::int AS days
         FROM analytics.mrr_daily WHERE currency = $1 AND to_char(day, 'YYYY-MM') BETWEEN $2 AND $3`,
        currency, from, to,
      ),
      movements: await sql(
        `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS at, customer_id, movement, delta_cents, mrr_after_cents
         FROM analytics.mrr_movements WHERE currency = $1 AND to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') BETWEEN $2 AND $3
         ORDER BY occurred_at DESC, customer_id LIMIT 25`,
        currency, from, to,
      ),
      cohorts: await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM analytics.cohort_retention
         WHERE currency = $1 AND to_char(cohort_month, 'YYYY-MM') BETWEEN $2 AND $3 AND months_since_start <= 12`,
        currency, from, to,
      ),
    });
    const pick = (rows: Record<string, unknown>[], keys: string[]) => rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k]])));

    it('then the bridge, the SaaS metrics, the daily MRR, the latest movements and the cohorts are those months of the views, in every currency', async () => {
      const usd = await answer('?currency=usd&from=2026-03&to=2026-08');
      assert.deepEqual([usd.currency, usd.range], ['usd', { from: '2026-03', to: '2026-08' }]);
      assert.ok(usd.currencies.length > 1, 'the history has several currencies');
      for (const currency of usd.currencies) {
        const got = currency === 'usd' ? usd : await answer(`?currency=${currency}&from=2026-03&to=2026-08`);
        const want = await expected(currency, '2026-03', '2026-08');
        assert.equal(got.currency, currency);
        assert.deepEqual(got.monthly, want.monthly, `${currency}: the bridge`);
        assert.ok(want.monthly.length > 0 && want.monthly.length <= 6, `${currency}: the range has bridge months`);
        assert.deepEqual(pick(got.saas, Object.keys(want.saas[0] ?? {})), want.saas, `${currency}: the SaaS metrics, newest first`);
        assert.equal(got.saas.length, want.monthly.length, `${currency}: one SaaS row per bridge month`);
        const [days] = want.days;
        assert.deepEqual({ first: got.daily[0]?.day ?? null, last: got.daily.at(-1)?.day ?? null, days: got.daily.length }, days, `${currency}: the days`);
        assert.deepEqual(got.movements, want.movements, `${currency}: the latest movements`);
        assert.equal(got.cohorts.length, want.cohorts[0]?.n, `${currency}: the cohorts`);
        assert.ok(got.cohorts.every((c) => c.cohort_month >= '2026-03' && c.cohort_month <= '2026-08'));
      }
      // The range does change the answer: a later range has other months and other movements.
      const later = await answer('?currency=usd&from=2026-09&to=2026-10');
      assert.deepEqual(later.monthly.map((m) => m.month), ['2026-09', '2026-10']);
      assert.notDeepEqual(later.movements, usd.movements);
    });

    it('then without from and to it is the last twelve months, and one end alone fills in the other', async () => {
      const [{ months } = { months: [] }] = (
        await t.rt.db.query<{ months: string[] }>(
          `SELECT array_agg(to_char(m, 'YYYY-MM') ORDER BY m) AS months
           FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months', date_trunc('month', now() AT TIME ZONE 'UTC'), interval '1 month') m`,
        )
      ).rows;
      const current = months.at(-1) ?? '';
      const byDefault = await answer('?currency=usd');
      assert.deepEqual(byDefault.range, { from: months[0], to: current });
      assert.deepEqual(byDefault.monthly, (await expected('usd', months[0] ?? '', current)).monthly);
      assert.deepEqual(byDefault.monthly.map((m) => m.month), months.filter((m) => m >= '2026-01'), 'every month of the history in the last twelve');
      assert.deepEqual((await answer('?currency=usd&from=&to=')).range, byDefault.range, 'blank fields are the default');
      assert.deepEqual((await answer('?currency=usd&from=2026-06')).range, { from: '2026-06', to: current });
      assert.deepEqual((await answer('?currency=usd&to=2026-04')).range, { from: '2025-05', to: '2026-04' });
      // Ten years is the most, both ends included.
      const decade = await answer(`?currency=usd&from=${Number(current.slice(0, 4)) - 9}-01&to=${current.slice(0, 4)}-12`);
      assert.deepEqual(decade.monthly, (await expected('usd', decade.range.from, decade.range.to)).monthly);
    });

    it('then a from or to that is not a month, from after to, or more than ten years is refused with 400 and a JSON error', async () => {
      const bad: [string, RegExp][] = [
        ['?from=2026-13', /^from must be a month as YYYY-MM/],
        ['?from=2026-1&to=2026-05', /^from must be a month/],
        ['?from=0000-01&to=0000-12', /^from must be a month/],
        ['?from=2026-01-01', /^from must be a month/],
        ['?from=2026-01&from=2026-02', /^from must be a month/],
        ['?to=november', /^to must be a month/],
        ['?from=2026-01&to=2026-12%00', /^to must be a month/],
        ['?currency=usd&from=2026-05&to=2026-04', /from \(2026-05\) must not be after to \(2026-04\)/],
        ['?from=2016-12&to=2026-12', /spans 121 months; at most 120/],
        ['?from=2000-01', /at most 120 \(10 years\) \(to defaults to the current month\)/],
      ];
      for (const [query, detail] of bad) {
        const res = await dashboard(query);
        assert.equal(res.status, 400, query);
        const body = (await res.json()) as { error: string; detail: string };
        assert.equal(body.error, 'bad_request', query);
        assert.match(body.detail, detail, query);
      }
      assert.equal((await fetch(`${app.url}/v1/dashboard?from=2026-01&to=2026-02`)).status, 401, 'the range is no way around the key');
    });
  });

  it('given the sent outcomes and delivery events of one experiment through the delivery projection, then the data holds template_experiments\' rows, whatever the months', async () => {
    // Two variants of exp_dash on trial_ending: the first `delivered` messages delivered (the rest
    // bounced), the first `opened` opened, the first `clicked` clicked.
    const at = Date.UTC(2026, 10, 12, 9);
    const arms = [
      { variant: 'control', sent: 4, delivered: 3, opened: 2, clicked: 1 },
      { variant: 'short', sent: 3, delivered: 3, opened: 3, clicked: 2 },
    ];
    const sends: NotificationDispatched[] = [];
    const events: DeliveryEventReceived[] = [];
    for (const arm of arms) {
      for (let i = 0; i < arm.sent; i++) {
        const id = `ntf_dash_${arm.variant}_${i}`;
        sends.push({
          event_id: `${id}:sent:email:1`, occurred_at: at, received_at: at, notification_id: id, user_id: `user_${id}`, template: 'trial_ending', category: 'billing', priority: 'NORMAL',
          channel: 'email', status: 'sent', reason: null, provider: 'sendgrid', provider_message_id: `SG-${id}`, attempt: 1, deferred_until: null, locale: 'en-US', digest_id: null,
          request_event_id: `req:${id}`, seq: 1, fallback: [], due_at: null, digest_date: null, cap_date: null,
          destination_country: null, price_micros: null, price_currency: null, route_reason: null, template_version: 1, experiment: 'exp_dash', variant: arm.variant,
        });
        const event = (kind: DeliveryKind, after: number) =>
          events.push({
            event_id: `${id}:${kind}`, occurred_at: at + after, received_at: at + after, provider: 'sendgrid', channel: 'email', notification_id: id, provider_message_id: `SG-${id}`, kind,
            provider_event: kind, recipient: null, reason: null, error_code: null, bounce_type: null, url: kind === 'clicked' ? 'https://app.example.com/billing' : null, user_id: null, raw: '{}',
          });
        event(i < arm.delivered ? 'delivered' : 'bounced', 60_000);
        if (i < arm.opened) event('opened', 120_000);
        if (i < arm.clicked) event('clicked', 180_000);
      }
    }
    const appender = await t.rt.kafka.appender();
    await appender.append('notify.dispatches.v1', sends.map((value) => ({ key: value.notification_id, record: 'NotificationDispatched' as const, value })));
    await appender.append('notify.delivery-events.v1', events.map((value) => ({ key: value.notification_id ?? '', record: 'DeliveryEventReceived' as const, value })));
    await buildVersion(t.rt, deliveryProjection);

    const key = await createKey(t, ['read'], 'experiments');
    // Months without any of the messages: the view has no time, so every experiment shows.
    const res = await fetch(`${app.url}/v1/dashboard?currency=usd&from=2026-01&to=2026-02`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    const { experiments } = (await res.json()) as { experiments: Record<string, unknown>[] };
    const view = (
      await t.rt.db.query(
        `SELECT experiment, template, variant, sent, delivered, opened, clicked, open_rate::float8 AS open_rate, click_rate::float8 AS click_rate,
                click_lift_vs_control::float8 AS click_lift_vs_control, p_value, winner
         FROM analytics.template_experiments ORDER BY experiment, template, variant`,
      )
    ).rows;
    assert.deepEqual(experiments, view);
    assert.deepEqual(
      experiments.map((r) => [r.experiment, r.template, r.variant, r.sent, r.delivered, r.opened, r.clicked, r.open_rate, r.click_rate, r.winner]),
      [
        ['exp_dash', 'trial_ending', 'control', 4, 3, 2, 1, 0.6667, 0.3333, false],
        ['exp_dash', 'trial_ending', 'short', 3, 3, 3, 2, 1, 0.6667, false],
      ],
    );
    assert.equal(experiments[1]?.click_lift_vs_control, 1, 'short clicks twice as often per delivered message');
    assert.equal(typeof experiments[1]?.p_value, 'number');
  });

  it('serves its script, style and Chart.js and nothing else (not even what every object has), and rejects a bad currency', async () => {
    for (const asset of ['dashboard.js', 'csv.js', 'dashboard.css', 'chart.js']) {
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
