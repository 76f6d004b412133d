import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { event, subscription, type ApiVersion } from '../cli/demo/stripe-objects.ts';
import { templateCategories } from '../notify/index.ts';
import { deliveryProjection } from '../projections/delivery/main.ts';
import { dunningProjection } from '../projections/dunning/main.ts';
import { fraudProjection } from '../projections/fraud/main.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { startApp } from '../test/support/app.ts';
import { createTestEnv, type TestEnv } from '../test/support/env.ts';
import { stripeRecords } from '../test/support/stripe-records.ts';
import { BusinessMetrics, dunningStates, fraudActions, MAX_CURRENCIES, UNKNOWN } from './business-metrics.ts';
import { createTopics, registerSchemas } from './catalogue.ts';
import { loadConfig } from './config.ts';
import { Db, type DbClient } from './db.ts';
import { buildVersion } from './projection.ts';
import { Runtime } from './runtime.ts';
import type { DeliveryEventReceived, DunningStepDecided, FraudScored, NotificationDispatched, NotificationRequested } from './topics.ts';

// ---- Known data, appended to the topics and projected as in production --------------------------

const DAY = 86_400_000;
const now = Date.now();
const recent = now - 3_600_000;
const old = now - 10 * DAY;
const v: ApiVersion = '2025-03-31.basil';

/** 25 currencies, MRR (i + 1) × 10.00 each, and in usd a second paying customer (490.00) and a churned one. */
const currencies = ['usd', 'eur', 'gbp', 'jpy', 'cad', 'aud', 'chf', 'sek', 'nok', 'dkk', 'pln', 'czk', 'huf', 'ron', 'bgn', 'nzd', 'sgd', 'hkd', 'inr', 'brl', 'mxn', 'zar', 'krw', 'try', 'ils'];
function stripeEvents(): Record<string, unknown>[] {
  const created = Math.floor(old / 1000);
  let seq = 0;
  const sub = (customer: string, currency: string, status: string, unitAmount: number, type: string, at = created) =>
    event(v, { id: `evt_${customer}_${++seq}`, type, created: at, object: subscription(v, { id: `sub_${customer}`, customer, status, created, currency, items: [{ unitAmount, currency }] }) });
  return [
    ...currencies.map((c, i) => sub(`cus_${c}`, c, 'active', 1000 * (i + 1), 'customer.subscription.created')),
    sub('cus_usd_2', 'usd', 'active', 49000, 'customer.subscription.created'),
    sub('cus_usd_gone', 'usd', 'active', 2900, 'customer.subscription.created'),
    sub('cus_usd_gone', 'usd', 'canceled', 2900, 'customer.subscription.deleted', created + 86_400),
  ];
}

function requested(id: string, category: string, at: number): NotificationRequested {
  return { event_id: `req:${id}`, occurred_at: at, received_at: at, notification_id: id, user_id: `user_${id}`, template: 'payment_failed', category, priority: 'NORMAL', channel: null, data: '{}', idempotency_key: null, requested_by: 'test', source_event_id: null, send_at: null, escalation: null, recurrence: null, sequence: null, avoid_channels: [] };
}
function dispatched(id: string, category: string, channel: string, status: NotificationDispatched['status'], at: number): NotificationDispatched {
  return {
    event_id: `${id}:${status}:${channel}:1`, occurred_at: at, received_at: at, notification_id: id, user_id: `user_${id}`, template: 'payment_failed', category, priority: 'NORMAL',
    channel, status, reason: null, provider: channel === 'sms' ? 'twilio' : 'sendgrid', provider_message_id: null, attempt: 1, deferred_until: null, locale: 'en-US', digest_id: null,
    request_event_id: `req:${id}`, seq: 1, fallback: [], due_at: null, digest_date: null, cap_date: null,
    destination_country: null, price_micros: null, price_currency: null, route_reason: null, template_version: null, experiment: null, variant: null,
  };
}
function delivered(id: string, channel: 'email' | 'sms', kind: DeliveryEventReceived['kind'], at: number): DeliveryEventReceived {
  return {
    event_id: `${id}:${kind}`, occurred_at: at, received_at: at, provider: channel === 'sms' ? 'twilio' : 'sendgrid', channel, notification_id: id, provider_message_id: null, kind,
    provider_event: kind, recipient: null, reason: null, error_code: null, bounce_type: null, url: null, user_id: null, raw: '{}',
  };
}

/** Notifications: [id, category, channel, sent at, what the provider said]; `marketing` is outside today's categories. */
const notifications: readonly [string, string, 'email' | 'sms', number, DeliveryEventReceived['kind'] | null][] = [
  ['n1', 'payment', 'email', recent, 'delivered'],
  ['n2', 'payment', 'email', recent, 'bounced'],
  ['n3', 'billing', 'email', recent, 'delivered'],
  ['n4', 'payment', 'sms', recent, 'delivered'],
  ['n5', 'payment', 'sms', recent, 'undelivered'],
  ['n6', 'marketing', 'email', recent, 'delivered'],
  ['n7', 'payment', 'email', old, 'bounced'],
  ['n8', 'payment', 'email', old, 'bounced'],
  ['n9', 'billing', 'email', recent, null],
];

function decision(caseNo: number, step: DunningStepDecided['step'], caseStatus: DunningStepDecided['case_status'], at: number): DunningStepDecided {
  return {
    event_id: `dunning:in_${caseNo}:${step}`, occurred_at: at, received_at: at, case_id: `in_${caseNo}`, customer_id: `cus_${caseNo}`, subscription_id: `sub_${caseNo}`, step,
    action: caseStatus === 'open' ? 'send_retry_notice' : 'close', due_at: at, case_status: caseStatus, amount_due: 1000 * caseNo, currency: 'usd', hosted_invoice_url: null,
    attempt_count: 1, churn_risk: null, source_event_id: `evt_in_${caseNo}_${step}`, user_id: null, outcome: null, detail: null, idempotency_key: null, decline_code: null, decline_class: 'unknown', mrr_cents: null,
  };
}
const dunningDecisions: DunningStepDecided[] = [
  ...[1, 2, 3, 4, 5, 6].map((n) => decision(n, 'day_0', 'open', old)),
  decision(1, 'recovered', 'recovered', recent),
  decision(2, 'recovered', 'recovered', recent),
  decision(3, 'lost', 'lost', recent),
  decision(4, 'exhausted', 'exhausted', recent),
];

function score(n: number, action: FraudScored['action']): FraudScored {
  return {
    event_id: `fraud:evt_ch_${n}`, occurred_at: recent, received_at: recent, customer_id: `cus_f${n}`, source_event_id: `evt_ch_${n}`, source_event_type: 'charge.succeeded',
    payment_id: `ch_${n}`, amount: 1000, currency: 'usd', score: 0.1, action, factors: [], model_version: 'test', card_fingerprint: null,
  };
}
const scores: FraudScored[] = (['allow', 'allow', 'allow', 'review', 'review', 'require_3ds', 'block'] as const).map((a, n) => score(n, a));

async function loadThroughProjections(t: TestEnv): Promise<void> {
  const appender = await t.rt.kafka.appender();
  await appender.append('stripe.events.v1', stripeRecords(stripeEvents()));
  await appender.append('notify.dispatch-requests.v1', notifications.map(([id, category, , at]) => ({ key: `user_${id}`, record: 'NotificationRequested' as const, value: requested(id, category, at - 60_000) })));
  await appender.append(
    'notify.dispatches.v1',
    notifications.flatMap(([id, category, channel, at, outcome]) => {
      const attempts = outcome === null ? [dispatched(id, category, channel, 'retrying', at), dispatched(id, category, channel, 'failed', at + 60_000)] : [dispatched(id, category, channel, 'sent', at)];
      return attempts.map((value) => ({ key: id, record: 'NotificationDispatched' as const, value }));
    }),
  );
  await appender.append(
    'notify.delivery-events.v1',
    notifications.flatMap(([id, , channel, at, outcome]) => (outcome === null ? [] : [{ key: id, record: 'DeliveryEventReceived' as const, value: delivered(id, channel, outcome, at + 60_000) }])),
  );
  await appender.append('billing.dunning-steps.v1', dunningDecisions.map((value) => ({ key: value.customer_id, record: 'DunningStepDecided' as const, value })));
  await appender.append('risk.fraud-scores.v1', scores.map((value) => ({ key: value.customer_id, record: 'FraudScored' as const, value })));
  await buildVersion(t.rt, mrrProjection);
  await buildVersion(t.rt, deliveryProjection);
  await buildVersion(t.rt, dunningProjection);
  await buildVersion(t.rt, fraudProjection);
}

// ---- Reading /metrics ---------------------------------------------------------------------------

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1] || m[3] === undefined) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The series of one metric as label value(s) → value, label values joined by '/'. */
function seriesOf(samples: readonly Sample[], name: string, labelNames: readonly string[]): Record<string, number> {
  return Object.fromEntries(samples.filter((s) => s.name === name).map((s) => [labelNames.map((l) => s.labels[l]).join('/'), s.value]));
}

const businessNames = ['eventline_mrr_cents', 'eventline_notifications_sent_total', 'eventline_notifications_failed_total', 'eventline_delivery_rate', 'eventline_bounce_rate', 'eventline_dunning_cases', 'eventline_fraud_actions_total'];
const categories = [...new Set(Object.values(templateCategories).flatMap((c) => c.categories))];

describe('business metrics on /metrics, read from the analytics views', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('bizmetrics');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
  });
  after(async () => {
    await t?.cleanup();
  });

  const scrapeText = async (rt: Runtime = t.rt): Promise<string> => {
    const app = await startApp(rt);
    try {
      const res = await fetch(`${app.url}/metrics`);
      assert.equal(res.status, 200);
      return await res.text();
    } finally {
      await app.close();
    }
  };
  const scrape = async (rt: Runtime = t.rt): Promise<Sample[]> => parseExposition(await scrapeText(rt));
  const rows = async <R extends Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<R[]> => (await t.rt.db.query<R>(sql, values)).rows;

  it('given no projection has run yet (no views), then no business series and no error; each dependency shows as up', async () => {
    const [exists] = await rows<{ n: number }>("SELECT count(*)::int AS n FROM pg_views WHERE schemaname = 'analytics' AND viewname IN ('customer_mrr', 'delivery_metrics_daily', 'dunning_cases', 'fraud_scores')");
    assert.equal(exists?.n, 0);
    const samples = await scrape();
    assert.deepEqual(samples.filter((s) => businessNames.includes(s.name)), []);
    assert.deepEqual(seriesOf(samples, 'eventline_business_metrics_errors_total', []), { '': 0 });
    assert.deepEqual(seriesOf(samples, 'eventline_dependency_up', ['dependency']), { kafka: 1, registry: 1, postgres: 1, redis: 1 });
  });

  it('given the registry unreachable, then eventline_dependency_up says so for the registry alone', async () => {
    const rt = new Runtime(loadConfig({ ...t.env, SCHEMA_REGISTRY_URL: 'http://127.0.0.1:9/apis/ccompat/v7' }, 'test-bizmetrics-down'));
    try {
      assert.deepEqual(seriesOf(await scrape(rt), 'eventline_dependency_up', ['dependency']), { kafka: 1, registry: 0, postgres: 1, redis: 1 });
    } finally {
      await rt.close();
    }
  });

  it('given Stripe events, notifications, dunning decisions and fraud scores projected, then every business series equals SQL on the views, with bounded labels', async () => {
    await loadThroughProjections(t);
    const text = await scrapeText();
    const samples = parseExposition(text);

    // MRR: the 20 currencies with the most MRR, the rest (here the 5 smallest) as "other".
    const mrr = seriesOf(samples, 'eventline_mrr_cents', ['currency']);
    const mrrSql = await rows<{ currency: string; cents: number }>(
      `WITH c AS (SELECT currency, sum(mrr_cents) AS cents FROM analytics.customer_mrr GROUP BY currency),
            r AS (SELECT currency, cents, row_number() OVER (ORDER BY cents DESC, currency) AS n FROM c)
       SELECT CASE WHEN n <= $1 THEN currency ELSE 'other' END AS currency, sum(cents)::bigint AS cents FROM r GROUP BY 1`,
      [MAX_CURRENCIES],
    );
    assert.deepEqual(mrr, Object.fromEntries(mrrSql.map((r) => [r.currency, r.cents])));
    assert.equal(Object.keys(mrr).length, MAX_CURRENCIES + 1, '25 currencies give 21 series');
    assert.equal(mrr.usd, 1000 + 49000, 'the churned customer counts 0');
    assert.equal(mrr.other, (2 + 3 + 4 + 5 + 6) * 1000, 'the five smallest (eur, gbp, jpy, cad, aud) are folded');
    const [total] = await rows<{ cents: number }>('SELECT sum(mrr_cents)::bigint AS cents FROM analytics.customer_mrr');
    assert.equal(Object.values(mrr).reduce((s, c) => s + c, 0), total?.cents);

    // Sent: messages handed to a provider, per channel and category, as analytics.notifications lists them.
    const sent = seriesOf(samples, 'eventline_notifications_sent_total', ['channel', 'category']);
    const sentSql = await rows<{ channel: string; category: string; n: number }>(
      `SELECT ch AS channel, CASE WHEN category = ANY($1) THEN category ELSE 'unknown' END AS category, count(*)::bigint AS n
       FROM analytics.notifications, unnest(channels) AS ch GROUP BY 1, 2`,
      [categories],
    );
    assert.deepEqual(sent, Object.fromEntries(sentSql.map((r) => [`${r.channel}/${r.category}`, r.n])));
    assert.deepEqual(sent, { 'email/payment': 4, 'email/billing': 1, [`email/${UNKNOWN}`]: 1, 'sms/payment': 2 }, 'n9 never went out; marketing is not a category any template has');
    assert.match(text, /^# TYPE eventline_notifications_sent_total counter$/m);
    const failedSql = await rows<{ channel: string; category: string; n: number }>(
      `SELECT channel, CASE WHEN category = ANY($1) THEN category ELSE 'unknown' END AS category, sum(failed)::bigint AS n
       FROM analytics.delivery_metrics_daily GROUP BY 1, 2`,
      [categories],
    );
    const failed = seriesOf(samples, 'eventline_notifications_failed_total', ['channel', 'category']);
    assert.deepEqual(failed, Object.fromEntries(failedSql.map((r) => [`${r.channel}/${r.category}`, r.n])));
    assert.deepEqual(failed, { 'email/payment': 0, 'email/billing': 1, [`email/${UNKNOWN}`]: 0, 'sms/payment': 1 }, 'n9 failed to send, n5 was undelivered');
    assert.match(text, /^# TYPE eventline_fraud_actions_total counter$/m);

    // Rates: the last 7 UTC days, from the summed counts of analytics.delivery_metrics_daily.
    const ratesSql = await rows<{ channel: string; delivery: number | null; bounce: number | null }>(
      `SELECT channel, sum(delivered)::float8 / NULLIF(sum(sent), 0) AS delivery, sum(bounced)::float8 / NULLIF(sum(sent), 0) AS bounce
       FROM analytics.delivery_metrics_daily WHERE day > (now() AT TIME ZONE 'UTC')::date - 7 GROUP BY channel`,
    );
    assert.deepEqual(seriesOf(samples, 'eventline_delivery_rate', ['channel']), Object.fromEntries(ratesSql.map((r) => [r.channel, r.delivery])));
    assert.deepEqual(seriesOf(samples, 'eventline_bounce_rate', ['channel']), Object.fromEntries(ratesSql.map((r) => [r.channel, r.bounce])));
    assert.deepEqual(seriesOf(samples, 'eventline_delivery_rate', ['channel']), { email: 3 / 4, sms: 1 / 2 }, 'the bounces of 10 days ago are outside the window');

    // Dunning cases and fraud actions: every state and action of the closed vocabularies, 0 when none.
    const dunningSql = await rows<{ status: string; n: number }>('SELECT status, count(*)::bigint AS n FROM analytics.dunning_cases GROUP BY status');
    const dunning = seriesOf(samples, 'eventline_dunning_cases', ['state']);
    assert.deepEqual(dunning, Object.fromEntries(dunningStates.map((s) => [s, dunningSql.find((r) => r.status === s)?.n ?? 0])));
    assert.deepEqual(dunning, { open: 2, recovered: 2, lost: 1, exhausted: 1, unknown: 0 });
    const fraudSql = await rows<{ action: string; n: number }>('SELECT action, count(*)::bigint AS n FROM analytics.fraud_scores GROUP BY action');
    const fraud = seriesOf(samples, 'eventline_fraud_actions_total', ['action']);
    assert.deepEqual(fraud, Object.fromEntries(fraudActions.map((a) => [a, fraudSql.find((r) => r.action === a)?.n ?? 0])));
    assert.deepEqual(fraud, { allow: 3, review: 2, require_3ds: 1, block: 1, unknown: 0 });

    assert.deepEqual(seriesOf(samples, 'eventline_business_metrics_errors_total', []), { '': 0 });
  });

  it('given a refresh within 15 s, a database failure, then a refresh under way, then the last values are served and each failure is counted once', async () => {
    let clock = 0;
    let target: Pick<Db, 'transaction'> = t.rt.db;
    let gate: Promise<void> = Promise.resolve();
    const db: Pick<Db, 'transaction'> = {
      transaction: async <T>(fn: (client: DbClient) => Promise<T>): Promise<T> => {
        await gate;
        return target.transaction(fn);
      },
    };
    const business = new BusinessMetrics(db, { categories, log: t.rt.log, now: () => clock });
    const read = async () => parseExposition(await business.registry.metrics());
    // Every series but the error count, as sorted lines: two reads may list rows in another order.
    const values = (samples: readonly Sample[]) =>
      samples.filter((s) => businessNames.includes(s.name)).map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())} ${s.value}`).sort();
    const errors = async () => seriesOf(await read(), 'eventline_business_metrics_errors_total', [])[''];

    await business.refresh();
    const first = values(await read());
    assert.ok(first.length > 30);
    assert.deepEqual(values(await scrape()), first, 'the same numbers as another instance');

    // Postgres refusing connections (a real driver error, not a stub).
    const down = new Db({ ...t.config, database: { ...t.config.database, url: 'postgres://postgres@127.0.0.1:1/nothing' } }, t.rt.log);
    try {
      target = down;
      clock += 14_000;
      await business.refresh();
      assert.equal(await errors(), 0, 'within 15 s of the last refresh nothing is read');
      clock += 1_000;
      await business.refresh();
      assert.equal(await errors(), 1);
      assert.deepEqual(values(await read()), first, 'the last values are kept');
      await business.refresh();
      assert.equal(await errors(), 1, 'a database that is down is asked once per interval');
    } finally {
      await down.close();
    }

    target = t.rt.db;
    clock += 15_000;
    let open = (): void => undefined;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const slow = business.refresh();
    const during = await Promise.race([business.refresh().then(() => 'served'), new Promise((resolve) => setImmediate(() => resolve('waited')))]);
    assert.equal(during, 'served', 'a scrape during a refresh does not wait for it');
    assert.deepEqual(values(await read()), first);
    open();
    await slow;
    assert.deepEqual(values(await read()), first);
    assert.equal(await errors(), 1);
  });
});
