import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { charge, customer, event, invoice, subscription } from '../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { topicNames } from '../lib/topics.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { FakeSendGrid, FakeTwilio } from './support/fake-providers.ts';
import { bearer, createKey } from './support/keys.ts';
import { startPipeline, type Pipeline } from './support/pipeline.ts';
import { runEventline } from './support/process.ts';
import { activeVersionCaughtUp } from './support/projections.ts';
import { fakeProviderEnv, stripeSignature } from './support/providers.ts';

/** Two users with Stripe customers; one is erased, the other must stay as it was. */
const pat = { user: 'user_pat', customer: 'cus_Pat', email: 'pat.doe@patdoe-family.example', phone: '+14155550199', name: 'Pat Doe', street: '17 Juniper Lane' };
const quinn = { user: 'user_quinn', customer: 'cus_Quinn', email: 'quinn.roe@quinnroe.example', phone: '+14155550142', name: 'Quinn Roe', street: '9 Alder Court' };
const personal = (p: typeof pat) => [p.email, p.phone, p.name, p.street, p.phone.slice(1)];

describe('privacy: export, erasure by crypto-shredding, replay after it', () => {
  let t: TestEnv;
  let pipeline: Pipeline;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  let admin: string;
  const now = Math.floor(Date.now() / 1000);
  const v = '2025-09-30.clover';

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    t = await createTestEnv('privacy', fakeProviderEnv({ sendgrid, twilio }));
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    pipeline = await startPipeline(t.rt);
    sendgrid.webhookUrl = `${pipeline.app.url}/webhooks/sendgrid`;
    admin = await createKey(t, ['admin', 'read', 'publish', 'preferences']);
  });
  after(async () => {
    await pipeline?.stop();
    await t?.cleanup();
    await sendgrid?.close();
    await twilio?.close();
  });

  async function webhook(e: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(e);
    const res = await fetch(`${pipeline.app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body) }, body });
    assert.equal(res.status, 200, await res.text());
  }
  const api = (path: string, init: RequestInit = {}) => fetch(`${pipeline.app.url}${path}`, { ...init, headers: { ...bearer(admin), 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });

  async function history(p: typeof pat, offset: number): Promise<string> {
    const address = { line1: p.street, line2: null, city: 'Springfield', state: 'IL', postal_code: '62704', country: 'US' };
    await webhook(event(v, { type: 'customer.created', created: now - 7200 + offset, object: { ...customer({ id: p.customer, email: p.email, name: p.name, phone: p.phone, created: now - 7200, userId: p.user, country: 'US' }), address } }));
    await webhook(event(v, { type: 'customer.subscription.created', created: now - 7000 + offset, object: subscription(v, { id: `sub_${p.customer}`, customer: p.customer, status: 'active', items: [{ unitAmount: 4900 }], created: now - 7000 }) }));
    await webhook(event(v, { type: 'invoice.paid', created: now - 6900 + offset, object: { ...invoice(v, { id: `in_${p.customer}`, customer: p.customer, subscription: `sub_${p.customer}`, amountDue: 4900, status: 'paid', created: now - 6950 }), customer_email: p.email, customer_name: p.name, customer_phone: p.phone, customer_address: address } }));
    await webhook(event(v, { type: 'charge.succeeded', created: now - 6890 + offset, object: { ...charge({ id: `ch_${p.customer}`, customer: p.customer, amount: 4900, currency: 'usd', created: now - 6890, email: p.email }), billing_details: { name: p.name, email: p.email, phone: p.phone, address } } }));
    // Preferences with the user's own contact, a notification by email (delivered, opened) and one in the inbox.
    assert.equal((await api(`/v1/users/${p.user}/preferences`, { method: 'PUT', body: JSON.stringify({ email: p.email, phone: p.phone, timezone: 'America/Chicago' }) })).status, 200);
    const sent = await api('/v1/notifications', { method: 'POST', body: JSON.stringify({ user_id: p.user, template: 'security_alert', category: 'security', priority: 'HIGH', channel: 'email', data: { alert: `new sign-in for ${p.name}`, device: `${p.name}'s laptop` } }) });
    assert.equal(sent.status, 202, await sent.clone().text());
    const inApp = await api('/v1/notifications', { method: 'POST', body: JSON.stringify({ user_id: p.user, template: 'usage_threshold', category: 'billing', channel: 'in_app', data: { metric: `seats of ${p.name}`, used: 8, limit: 10, threshold_percent: 80 } }) });
    assert.equal(inApp.status, 202, await inApp.clone().text());
    const { notification_id: emailId } = (await sent.json()) as { notification_id: string };
    const { notification_id: inAppId } = (await inApp.json()) as { notification_id: string };
    const email = await eventually(() => sendgrid.sent.find((m) => m.customArgs.notification_id === emailId), { timeoutMs: 60_000, what: `the email to ${p.user}` });
    assert.equal(email.to, p.email);
    assert.equal(email.customArgs.user_id, p.user, 'the user id travels with the message, so its events are sealed for the user');
    assert.equal(await sendgrid.postEvent(email, 'delivered', { response: `250 OK <${p.email}>` }), 200);
    assert.equal(await sendgrid.postEvent(email, 'open', { ip: '203.0.113.7', useragent: 'Mozilla/5.0' }), 200);
    await eventually(async () => {
      const r = await api(`/v1/users/${p.user}/inbox`);
      const body = (await r.json()) as { items: { notification_id: string }[] };
      return body.items.some((i) => i.notification_id === inAppId) ? true : undefined;
    }, { timeoutMs: 60_000, what: `the in-app item of ${p.user}` });
    await eventually(async () => {
      const r = await t.rt.db.query("SELECT 1 FROM analytics.notifications WHERE notification_id = $1 AND status IN ('delivered', 'opened')", [emailId]);
      return r.rowCount ? true : undefined;
    }, { timeoutMs: 60_000, what: 'the delivery events projected' });
    return emailId;
  }

  /** Every record of every topic of this environment: raw bytes, and decoded (sealed values as they are). */
  async function topicContents(): Promise<{ raw: string; decoded: string }> {
    const raw: string[] = [];
    const decoded: string[] = [];
    for (const topic of topicNames) {
      await t.rt.kafka.readToEnd(topic, (m) => {
        raw.push(m.raw.key?.toString('latin1') ?? '', m.raw.value?.toString('latin1') ?? '');
        decoded.push(JSON.stringify(m.value));
      });
    }
    return { raw: raw.join('\n'), decoded: decoded.join('\n') };
  }

  async function postgresDump(): Promise<string> {
    const { rows: tables } = await t.rt.db.query<{ s: string; n: string }>("SELECT table_schema AS s, table_name AS n FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'");
    const out: string[] = [];
    for (const { s, n } of tables) {
      const { rows } = await t.rt.db.query<{ j: string }>(`SELECT row_to_json(x)::text AS j FROM "${s}"."${n}" x`);
      out.push(...rows.map((r) => `${s}.${n} ${r.j}`));
    }
    assert.ok(out.length > 50, `the dump has the project's rows (${out.length})`);
    return out.join('\n');
  }

  async function redisDump(): Promise<string> {
    const out: string[] = [];
    let cursor = '0';
    const prefix = `${t.namespace}:`;
    do {
      const [next, keys] = await t.rt.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const full of keys) {
        const key = full.slice(prefix.length);
        const type = await t.rt.redis.type(key);
        const value =
          type === 'string' ? await t.rt.redis.get(key) : type === 'hash' ? JSON.stringify(await t.rt.redis.hgetall(key)) : type === 'zset' ? JSON.stringify(await t.rt.redis.zrange(key, 0, -1)) : type === 'set' ? JSON.stringify(await t.rt.redis.smembers(key)) : type === 'list' ? JSON.stringify(await t.rt.redis.lrange(key, 0, -1)) : '';
        out.push(`${key} ${value}`);
      }
    } while (cursor !== '0');
    assert.ok(out.length > 10, `Redis has the processors' state (${out.length} keys)`);
    return out.join('\n');
  }

  const mrrViews = async () => {
    const daily = await t.rt.db.query('SELECT * FROM analytics.mrr_daily ORDER BY 1, 2');
    const movements = await t.rt.db.query('SELECT * FROM analytics.mrr_movements ORDER BY customer_id, occurred_at, movement');
    const cohorts = await t.rt.db.query('SELECT * FROM analytics.cohort_retention ORDER BY 1, 2, 3');
    return JSON.parse(JSON.stringify({ daily: daily.rows, movements: movements.rows, cohorts: cohorts.rows })) as unknown;
  };

  it('exports everything about a user, erases it from every topic, table and key, and replays MRR to the same views', { timeout: 400_000 }, async () => {
    const patEmail = await history(pat, 0);
    await history(quinn, 1);

    // Sealed at append: not even before the erasure is a personal value in a topic's bytes.
    const sealed = await topicContents();
    for (const s of personal(pat)) assert.ok(!sealed.raw.includes(s) && !sealed.decoded.includes(s), `${s} is sealed in every topic`);

    // The export holds every record about the user, opened.
    // The welcome notification is requested by the dunning processor from the Stripe events: the
    // export reads it once that processor has handled them.
    type Export = Record<string, unknown> & { stripe_customers: { customer_id: string; events: { payload: { type: string } }[] }[]; notifications: { notification_id: string }[]; preference_history: unknown[] };
    const doc = await eventually(async () => {
      const exportRes = await api(`/v1/users/${pat.user}/export`);
      assert.equal(exportRes.status, 200);
      const d = (await exportRes.json()) as Export;
      return d.notifications.length >= 3 ? d : undefined;
    }, { what: 'the export with the welcome, security and in-app notifications' });
    const docText = JSON.stringify(doc);
    for (const s of [pat.email, pat.phone, pat.name, pat.street]) assert.ok(docText.includes(s), `the export has ${s}`);
    assert.ok(!docText.includes(quinn.email) && !docText.includes(quinn.name), 'nothing of another user');
    assert.deepEqual(doc.stripe_customers.map((c) => c.customer_id), [pat.customer]);
    assert.deepEqual(doc.stripe_customers[0]?.events.map((e) => e.payload.type).sort(), ['charge.succeeded', 'customer.created', 'customer.subscription.created', 'invoice.paid']);
    assert.ok(doc.notifications.some((n) => n.notification_id === patEmail), 'the email notification');
    assert.ok(doc.notifications.length >= 3, `the welcome, security and in-app notifications (${doc.notifications.length})`);
    assert.ok(doc.preference_history.length >= 1);
    const cli = await runEventline(t.env, ['privacy', 'export', pat.user]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual((JSON.parse(cli.stdout) as { stripe_customers: unknown }).stripe_customers, JSON.parse(JSON.stringify(doc.stripe_customers)));

    // The MRR projection reads the Stripe events on its own: the views before the erasure are those of every event.
    await activeVersionCaughtUp(t.rt, 'mrr', ['stripe.events.v1']);
    const mrrBefore = await mrrViews();
    const erase = await api(`/v1/users/${pat.user}/erase`, { method: 'POST' });
    assert.equal(erase.status, 202, await erase.clone().text());
    const { erasure_id } = (await erase.json()) as { erasure_id: string };
    const done = await eventually(async () => {
      const r = (await (await api(`/v1/erasures/${erasure_id}`)).json()) as { status: string; subjects: string[] };
      return r.status === 'done' ? r : undefined;
    }, { timeoutMs: 60_000, what: 'the erasure to complete within 60 s' });
    assert.ok(done.subjects.includes(`user:${pat.user}`) && done.subjects.includes(`customer:${pat.customer}`));
    const again = await api(`/v1/users/${pat.user}/erase`, { method: 'POST' });
    assert.equal(((await again.json()) as { erasure_id: string }).erasure_id, erasure_id, 'asking again is the same erasure');

    // Nowhere in plain text: topics (bytes and decoded), Postgres, Redis.
    const [topics, dump, redis] = [await topicContents(), await postgresDump(), await redisDump()];
    for (const s of personal(pat)) {
      assert.ok(!topics.raw.includes(s) && !topics.decoded.includes(s), `${s} in no topic`);
      assert.ok(!dump.includes(s), `${s} in no table: ${dump.split('\n').find((l) => l.includes(s))?.slice(0, 200)}`);
      assert.ok(!redis.includes(s), `${s} in no Redis key: ${redis.split('\n').find((l) => l.includes(s))?.slice(0, 200)}`);
    }
    assert.ok(topics.decoded.includes('"UserErased"') || topics.decoded.includes(erasure_id), 'the erasure is an event');
    // The other user is intact: their export opens every value.
    const quinnDoc = JSON.stringify(await (await api(`/v1/users/${quinn.user}/export`)).json());
    for (const s of [quinn.email, quinn.phone, quinn.name, quinn.street]) assert.ok(quinnDoc.includes(s), `${quinn.user}'s ${s} is intact`);
    const patDoc = JSON.stringify(await (await api(`/v1/users/${pat.user}/export`)).json());
    for (const s of [pat.email, pat.name]) assert.ok(!patDoc.includes(s), 'the erased export has nothing');
    assert.ok(patDoc.includes('"erased"'), 'personal fields read erased');
    const prefs = (await (await api(`/v1/users/${pat.user}/preferences`)).json()) as { preferences: { email: string | null; phone: string | null } };
    assert.deepEqual([prefs.preferences.email, prefs.preferences.phone], ['erased', 'erased']);

    // Never messaged again.
    const late = await api('/v1/notifications', { method: 'POST', body: JSON.stringify({ user_id: pat.user, template: 'security_alert', category: 'security', priority: 'HIGH', channel: 'email', data: { alert: 'again' } }) });
    assert.equal(late.status, 202);
    const { notification_id: lateId } = (await late.json()) as { notification_id: string };
    const outcome = await eventually(async () => {
      const r = await t.rt.db.query<{ status: string }>('SELECT status FROM analytics.notifications WHERE notification_id = $1 AND status IS NOT NULL AND status <> $2', [lateId, 'requested']);
      return r.rows[0]?.status;
    }, { timeoutMs: 60_000, what: 'the late notification decided' });
    assert.notEqual(outcome, 'sent');
    assert.ok(!sendgrid.sent.some((m) => m.customArgs.notification_id === lateId), 'nothing reached SendGrid');

    // A replay after the erasure rebuilds the same numbers.
    const replay = await runEventline(t.env, ['replay', 'mrr']);
    assert.equal(replay.code, 0, replay.stderr);
    assert.deepEqual(await mrrViews(), mrrBefore);
  });

  it('stops at start with a clear error when the master key is missing or not the one the data keys are wrapped with', async () => {
    const missing = await runEventline({ ...t.env, EVENTLINE_MASTER_KEY: '' }, ['run', '--only', 'http']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr + missing.stdout, /EVENTLINE_MASTER_KEY is not set/);
    const wrong = await runEventline({ ...t.env, EVENTLINE_MASTER_KEY: randomBytes(32).toString('base64') }, ['run', '--only', 'http']);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr + wrong.stdout, /EVENTLINE_MASTER_KEY is not the key this database's data keys are wrapped with/);
  });
});
