/**
 * SMS routing and failover with two providers, through the real twilio and @vonage/server-sdk
 * clients pointed at local stand-ins that can be told to fail, the dispatch processor running as
 * `eventline run` runs it, and the real Kafka, registry, Postgres and Redis.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import { notificationRequest } from '../../notify/index.ts';
import { defaultPreferences } from '../../projections/preferences/document.ts';
import { applyPreferenceChanges } from '../../projections/preferences/store.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeSendGrid, FakeTwilio } from '../../test/support/fake-providers.ts';
import { FakeSmtpRelay } from '../../test/support/fake-smtp.ts';
import { FakeVonage } from '../../test/support/fake-vonage.ts';
import { fakeProviderEnv } from '../../test/support/providers.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import { versionedProjections } from '../../projections/index.ts';
import { activeVersionCaughtUp } from '../../test/support/projections.ts';
import { runEventline } from '../../test/support/process.ts';
import { ProcessorGroup } from '../supervisor.ts';
import { PriceBook } from './routing.ts';

/** The shipped price table, read as data: what each provider charges per segment, by country. */
const shipped = JSON.parse(readFileSync(new URL('./prices/sms.json', import.meta.url), 'utf8')) as { currency: string; providers: Record<string, Record<string, number>> };
const US = '+14155550100';
const GB = '+447400123456';

describe('SMS routing: least cost among healthy providers, failover on an outage, recovery after the probe', () => {
  let t: TestEnv;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  let vonage: FakeVonage;
  let relay: FakeSmtpRelay;
  let stop: (() => Promise<void>) | null = null;
  let n = 0;
  const openMs = 1500;

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    vonage = await new FakeVonage().start();
    relay = await new FakeSmtpRelay().start();
    t = await createTestEnv('failover', {
      ...fakeProviderEnv({ sendgrid, twilio }),
      VONAGE_API_KEY: vonage.apiKey,
      VONAGE_API_SECRET: vonage.apiSecret,
      VONAGE_FROM_NUMBER: '+15005550007',
      VONAGE_API_URL: vonage.url,
      SMTP_URL: relay.url,
      EVENTLINE_CIRCUIT_OPEN_MS: String(openMs),
      EVENTLINE_SMS_PER_SECOND: '200',
      EVENTLINE_DISPATCH_RETRY_BACKOFF_MS: '200,400,800',
    });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const group = new ProcessorGroup(t.rt, ['dispatch'], { timerIntervalMs: 50 });
    await group.start({ watchMs: 60_000 });
    const delivery = await runVersionedProjection(t.rt, versionedProjections.delivery!, { pollMs: 300 });
    stop = async () => {
      await group.stop();
      await delivery.stop();
    };
  });
  after(async () => {
    await stop?.();
    await t?.cleanup();
    await sendgrid?.close();
    await twilio?.close();
    await vonage?.close();
    await relay?.close();
  });

  async function users(phone: string, count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => `user_f${n++}`);
    await applyPreferenceChanges(
      t.rt.db,
      ids.map((id) => ({
        event_id: `pref_${id}`,
        occurred_at: 1,
        received_at: 1,
        user_id: id,
        change: 'updated' as const,
        actor: 'test',
        reason: null,
        source: 'api',
        category: null,
        preferences: { ...defaultPreferences(), phone, phone_confirmed_at: 1, sms_consent: { at: 1, source: 'api' } },
        previous: null,
      })),
    );
    return ids;
  }

  /** Requests one SMS per user; their notification ids. */
  async function sms(userIds: readonly string[]): Promise<string[]> {
    const requests = userIds.map((u) => notificationRequest({ source: `test:${u}:${n++}`, userId: u, template: 'payment_failed', category: 'payment', priority: 'HIGH', channel: 'sms', data: { amount_due: 4900, currency: 'usd', hosted_invoice_url: 'https://pay.test/i' }, requestedBy: 'test', at: Date.now() }));
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', requests.map((r) => ({ key: r.user_id, record: 'NotificationRequested' as const, value: r })));
    return requests.map((r) => r.notification_id);
  }

  async function sentOutcomes(ids: readonly string[]): Promise<Map<string, Incoming<'notify.dispatches.v1'>>> {
    const wanted = new Set(ids);
    const records = await collect(t.rt.kafka, ['notify.dispatches.v1'], (rs) => new Set(rs.filter((r) => wanted.has(r.value.notification_id) && r.value.status === 'sent').map((r) => r.value.notification_id)).size === wanted.size, { timeoutMs: 60_000 });
    const out = new Map<string, Incoming<'notify.dispatches.v1'>>();
    for (const r of records) if (wanted.has(r.value.notification_id) && r.value.status === 'sent') out.set(r.value.notification_id, r);
    return out;
  }

  /** Messages each fake provider took for a notification (Twilio: by callback URL; Vonage: by client-ref). */
  const taken = (id: string) => twilio.sent.filter((m) => m.statusCallback.includes(id)).length + vonage.sent.filter((m) => (m.callback ?? '').includes(id)).length;

  it('with both healthy, sends each destination through the provider that is cheaper there, and records the price and why', async () => {
    assert.ok(shipped.providers.twilio!.US! < shipped.providers.vonage!.US!, 'the shipped table makes Twilio the cheaper for the US');
    assert.ok(shipped.providers.vonage!.GB! < shipped.providers.twilio!.GB!, 'and Vonage the cheaper for Great Britain');
    const [us] = await sms(await users(US, 1));
    const [gb] = await sms(await users(GB, 1));
    const got = await sentOutcomes([us!, gb!]);
    const usOutcome = got.get(us!)!.value;
    const gbOutcome = got.get(gb!)!.value;
    assert.deepEqual([usOutcome.provider, usOutcome.destination_country, usOutcome.route_reason, usOutcome.price_micros, usOutcome.price_currency], ['twilio', 'US', 'cheapest_healthy', shipped.providers.twilio!.US, shipped.currency]);
    assert.deepEqual([gbOutcome.provider, gbOutcome.destination_country, gbOutcome.route_reason, gbOutcome.price_micros], ['vonage', 'GB', 'cheapest_healthy', shipped.providers.vonage!.GB]);
    assert.equal(taken(us!), 1);
    assert.equal(taken(gb!), 1);
    const viaVonage = vonage.sent.find((m) => (m.callback ?? '').includes(gb!));
    assert.equal(viaVonage?.to, GB.slice(1), 'Vonage got the number in its own format');
    assert.equal(gbOutcome.provider_message_id, viaVonage?.messageIds[0]);
  });

  it('when the primary answers 5xx to everything, moves every message to the secondary at once, loses none and sends none twice; after the open period a probe brings traffic back', { timeout: 120_000 }, async () => {
    const ids = await users(US, 30);
    twilio.failAll = 503;
    const outageStarted = Date.now();
    const notifications = await sms(ids);
    const firstViaVonage = await eventually(() => vonage.sent.find((m) => notifications.some((id) => (m.callback ?? '').includes(id))), { timeoutMs: 30_000, intervalMs: 5, what: 'a message through Vonage' });
    const failoverMs = Date.now() - outageStarted;
    void firstViaVonage;
    const got = await sentOutcomes(notifications);
    const allMs = Date.now() - outageStarted;
    console.log(`  primary down: first message through the secondary after ${failoverMs} ms, all ${notifications.length} sent after ${allMs} ms; the primary was asked ${twilio.refused} times`);
    assert.ok(failoverMs < 5000, `traffic moved within 5 s (${failoverMs} ms)`);
    for (const id of notifications) {
      const o = got.get(id)!.value;
      assert.equal(o.provider, 'vonage', `${id} went through the secondary`);
      assert.equal(o.route_reason, 'failover', `${id} records why it did not go to the cheaper primary`);
      assert.equal(taken(id), 1, `${id} reached a provider exactly once`);
    }
    assert.ok(got.size === notifications.length, 'none lost');
    // The circuit opened after a few failures: the rest never went to the primary.
    assert.ok(twilio.refused < notifications.length / 2, `the open circuit spared the primary (${twilio.refused} of ${notifications.length})`);

    twilio.failAll = null;
    // Sends keep going to the secondary until the open period ends; then one probe goes to the primary.
    const probe = await eventually(
      async () => {
        const [id] = await sms(await users(US, 1));
        const o = (await sentOutcomes([id!])).get(id!)!.value;
        return o.provider === 'twilio' ? o : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'a message through the recovered primary' },
    );
    assert.equal(probe.route_reason, 'probe');
    const [after1] = await sms(await users(US, 1));
    const back = (await sentOutcomes([after1!])).get(after1!)!.value;
    assert.deepEqual([back.provider, back.route_reason], ['twilio', 'cheapest_healthy'], 'the circuit closed after the probe');

    const changes = await collect(t.rt.kafka, ['notify.provider-health.v1'], (rs) => rs.some((r) => r.value.to_state === 'closed'));
    // A probe made while the primary still failed (the outage outlasting the open period on a busy
    // machine) opens the circuit again: any number of those, then the probe that closes it.
    const path = changes.filter((r) => r.value.provider === 'twilio').map((r) => `${r.value.from_state}>${r.value.to_state}`);
    assert.match(path.join(' '), /^closed>open( open>half_open half_open>open)* open>half_open half_open>closed$/, path.join(' '));
    const opened = changes.find((r) => r.value.to_state === 'open')!.value;
    const probing = changes.find((r) => r.value.to_state === 'half_open')!.value;
    assert.ok(probing.occurred_at >= opened.occurred_at + openMs, 'the probe waited for the open period');
    assert.ok(opened.failures >= 1 && opened.failures <= opened.calls, 'the opening event counts the failures');
  });

  it('eventline providers: status shows each circuit, success rate and price; prices installs a valid table for every dispatcher and refuses a bad one', { timeout: 60_000 }, async () => {
    const status = await runEventline(t.env, ['providers', 'status', '--json', '--countries', 'US,GB']);
    assert.equal(status.code, 0, status.stderr);
    const got = JSON.parse(status.stdout) as { currency: string; providers: { channel: string; provider: string; circuit: string; prices_micros: Record<string, number> | null }[] };
    assert.deepEqual(got.providers.map((p) => [p.channel, p.provider, p.circuit]), [['email', 'sendgrid', 'closed'], ['email', 'smtp', 'closed'], ['sms', 'twilio', 'closed'], ['sms', 'vonage', 'closed']]);
    assert.deepEqual(got.providers[3]?.prices_micros, { US: shipped.providers.vonage!.US, GB: shipped.providers.vonage!.GB });

    const dir = mkdtempSync(join(tmpdir(), 'eventline-prices-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ currency: 'USD', providers: { twilio: { GB: -1 } } }));
    const refused = await runEventline(t.env, ['providers', 'prices', bad]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /currency/);
    assert.match(refused.stderr, /twilio\.GB/);
    const book = new PriceBook(t.rt.db, { refreshMs: 0 });
    await book.refresh();
    assert.deepEqual(book.current().providers.twilio, shipped.providers.twilio, 'nothing installed: the shipped table is in force');

    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ currency: 'eur', providers: { twilio: { GB: 30000, '*': 1 }, vonage: { GB: 35000, '*': 2 } } }));
    const installed = await runEventline(t.env, ['providers', 'prices', good]);
    assert.equal(installed.code, 0, installed.stderr);
    await book.refresh();
    assert.equal(book.current().currency, 'eur');
    assert.equal(book.current().providers.twilio?.GB, 30000);
    await t.rt.db.query(`DELETE FROM dispatch.price_tables`);
  });

  it('the cost view sums to the prices the outcomes recorded, per day, provider and country', { timeout: 60_000 }, async () => {
    await activeVersionCaughtUp(t.rt, 'delivery', ['notify.dispatch-requests.v1', 'notify.dispatches.v1', 'notify.delivery-events.v1']);
    // The projection is caught up: the topic holds every outcome the view counts.
    const counted = Number((await t.rt.db.query<{ n: string }>(`SELECT coalesce(sum(messages), 0) AS n FROM analytics.messaging_costs WHERE channel = 'sms'`)).rows[0]?.n);
    const outcomes = await collect(t.rt.kafka, ['notify.dispatches.v1'], (rs) => rs.filter((r) => r.value.status === 'sent' && r.value.channel === 'sms').length >= counted);
    const expected = new Map<string, { messages: number; cost: number }>();
    for (const r of outcomes.filter((o) => o.value.status === 'sent' && o.value.channel === 'sms')) {
      const v = r.value;
      const key = [new Date(v.occurred_at).toISOString().slice(0, 10), v.provider, v.destination_country ?? 'unknown'].join('|');
      const e = expected.get(key) ?? { messages: 0, cost: 0 };
      e.messages += 1;
      e.cost += v.price_micros ?? 0;
      expected.set(key, e);
    }
    const view = await t.rt.db.query<{ day: Date; provider: string; country: string; messages: string; cost_micros: string | null }>(
      `SELECT day, provider, country, messages, cost_micros FROM analytics.messaging_costs WHERE channel = 'sms'`,
    );
    const got = new Map(view.rows.map((r) => [[r.day.toISOString().slice(0, 10), r.provider, r.country].join('|'), { messages: Number(r.messages), cost: Number(r.cost_micros ?? 0) }]));
    assert.deepEqual(got, expected);
    assert.ok([...expected.keys()].some((k) => k.includes('|vonage|GB')) && [...expected.keys()].some((k) => k.includes('|twilio|US')), 'both providers and countries are in it');
    const health = await t.rt.db.query<{ provider: string; sent: string; failovers: string; probes: string }>(`SELECT provider, sum(sent) AS sent, sum(failovers) AS failovers, sum(probes) AS probes FROM analytics.provider_health WHERE channel = 'sms' GROUP BY 1 ORDER BY 1`);
    const byProvider = Object.fromEntries(health.rows.map((r) => [r.provider, { sent: Number(r.sent), failovers: Number(r.failovers), probes: Number(r.probes) }]));
    assert.ok((byProvider.vonage?.failovers ?? 0) > 0, 'the failovers to the secondary are counted');
    assert.equal(byProvider.twilio?.probes, 1, 'one probe brought the primary back');
  });

  it('a provider whose delivery receipts turn bad loses its traffic to the healthy one, though it is cheaper', { timeout: 60_000 }, async () => {
    // Twilio reports 25 of its messages undelivered (no notification to act on: the router learns from them all).
    const at = Date.now();
    const events = Array.from({ length: 25 }, (_, i) => ({
      event_id: `SMbad${i}:undelivered`, occurred_at: at, received_at: at, provider: 'twilio', channel: 'sms' as const, notification_id: null, provider_message_id: `SMbad${i}`,
      kind: 'undelivered' as const, provider_event: 'undelivered', recipient: null, reason: 'carrier violation', error_code: '30007', bounce_type: null, url: null, user_id: null, raw: '{}',
    }));
    await (await t.rt.kafka.appender()).append('notify.delivery-events.v1', events.map((value) => ({ key: value.provider_message_id, record: 'DeliveryEventReceived' as const, value })));
    const routed = await eventually(
      async () => {
        const [id] = await sms(await users(US, 1));
        const o = (await sentOutcomes([id!])).get(id!)!.value;
        return o.provider === 'vonage' ? o : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'a US message routed away from the poorly delivering primary' },
    );
    assert.equal(routed.route_reason, 'cheapest_healthy', 'the cheapest of the providers above the success threshold');
    assert.equal(routed.price_micros, shipped.providers.vonage!.US);
  });

  it('email fails over from SendGrid to the SMTP relay when SendGrid answers 5xx, each message sent once', { timeout: 60_000 }, async () => {
    const ids = Array.from({ length: 6 }, () => `user_e${n++}`);
    await applyPreferenceChanges(
      t.rt.db,
      ids.map((id) => ({ event_id: `pref_${id}`, occurred_at: 1, received_at: 1, user_id: id, change: 'updated' as const, actor: 'test', reason: null, source: 'api', category: null, preferences: { ...defaultPreferences(), email: `${id}@example.com`, email_confirmed_at: 1 }, previous: null })),
    );
    sendgrid.failNext = Array.from({ length: 100 }, () => 503);
    const requests = ids.map((u) => notificationRequest({ source: `test:${u}:${n++}`, userId: u, template: 'payment_failed', category: 'payment', priority: 'HIGH', channel: 'email', data: { amount_due: 4900, currency: 'usd', hosted_invoice_url: 'https://pay.test/i' }, requestedBy: 'test', at: Date.now() }));
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', requests.map((r) => ({ key: r.user_id, record: 'NotificationRequested' as const, value: r })));
    const got = await sentOutcomes(requests.map((r) => r.notification_id));
    sendgrid.failNext = [];
    for (const r of requests) {
      const o = got.get(r.notification_id)!.value;
      assert.deepEqual([o.channel, o.provider, o.route_reason, o.price_micros], ['email', 'smtp', 'failover', null]);
      const relayed = relay.received.filter((m) => m.header('X-Eventline-notification-id') === r.notification_id);
      assert.equal(relayed.length, 1, 'the relay got it once');
      assert.equal(sendgrid.byNotification(r.notification_id).length, 0, 'SendGrid took none of them');
      assert.equal(o.provider_message_id, relayed[0]?.header('Message-ID'));
    }
  });
});
