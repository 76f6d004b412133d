import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { Incoming, Outgoing } from '../../lib/kafka/index.ts';
import { projectionLag, runVersionedProjection } from '../../lib/projection.ts';
import { activeVersion, checkpointName } from '../../lib/projection-versions.ts';
import type { DeliveryEventReceived, DeliveryKind, DispatchStatus, NotificationDispatched, NotificationRequested } from '../../lib/topics.ts';
import { applyInBatches } from '../../test/support/batches.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { deliveryProjection } from './main.ts';
import { applyNotificationRecords, type DeliveryTopic } from './store.ts';

const day = Date.UTC(2026, 10, 10, 9, 0, 0);
const min = 60_000;

function requested(id: string, template: string, category: string, at: number): NotificationRequested {
  return { event_id: `req:${id}`, occurred_at: at, received_at: at, notification_id: id, user_id: `user_${id}`, template, category, priority: 'NORMAL', channel: null, data: '{}', idempotency_key: null, requested_by: 'test', source_event_id: null, send_at: null, escalation: null, recurrence: null, sequence: null, avoid_channels: [] };
}
function dispatched(id: string, status: DispatchStatus, at: number, extra: Partial<NotificationDispatched> = {}): NotificationDispatched {
  return {
    event_id: `${id}:${status}:${extra.channel ?? 'email'}:${extra.attempt ?? 1}`,
    occurred_at: at,
    received_at: at,
    notification_id: id,
    user_id: `user_${id}`,
    template: extra.template ?? 'payment_failed',
    category: extra.category ?? 'payment',
    priority: 'NORMAL',
    channel: 'email',
    status,
    reason: null,
    provider: 'sendgrid',
    provider_message_id: null,
    attempt: 1,
    deferred_until: null,
    locale: 'en-US',
    digest_id: null,
    request_event_id: `req:${id}`,
    seq: 1,
    fallback: [],
    due_at: null,
    digest_date: null,
    cap_date: null,
    destination_country: null,
    price_micros: null,
    price_currency: null,
    route_reason: null, template_version: null, experiment: null, variant: null,
    ...extra,
  };
}
function delivery(eventId: string, kind: DeliveryKind, at: number, extra: Partial<DeliveryEventReceived> = {}): DeliveryEventReceived {
  return {
    event_id: eventId,
    occurred_at: at,
    received_at: at,
    provider: 'sendgrid',
    channel: 'email',
    notification_id: null,
    provider_message_id: null,
    kind,
    provider_event: kind,
    recipient: null,
    reason: null,
    error_code: null,
    bounce_type: null,
    url: null,
    user_id: null, raw: '{}',
    ...extra,
  };
}

const sms = (id: string) => `SM${id.padEnd(32, '0').slice(0, 32)}`;
const requests: NotificationRequested[] = [
  requested('n1', 'receipt', 'billing', day),
  requested('n2', 'payment_failed', 'payment', day),
  requested('n3', 'digest', 'product', day),
  requested('n4', 'payment_failed', 'payment', day),
  requested('n5', 'payment_failed', 'payment', day),
  requested('n6', 'receipt', 'billing', day),
  requested('n7', 'receipt', 'billing', day),
];
const dispatches: NotificationDispatched[] = [
  dispatched('n1', 'sent', day + min, { template: 'receipt', category: 'billing', provider_message_id: 'X1' }),
  dispatched('n2', 'sent', day + min, { provider_message_id: 'X2' }),
  dispatched('n2', 'sent', day + 10 * min, { channel: 'sms', provider: 'twilio', provider_message_id: sms('n2'), reason: 'fallback after email bounce' }),
  dispatched('n3', 'suppressed', day + min, { template: 'digest', category: 'product', channel: null, provider: null, reason: 'unsubscribed' }),
  dispatched('n4', 'sent', day + min, { provider_message_id: 'X4' }),
  dispatched('n5', 'sent', day + min, { channel: 'sms', provider: 'twilio', provider_message_id: sms('n5') }),
  dispatched('n6', 'sent', day + min, { template: 'receipt', category: 'billing', provider_message_id: 'X6' }),
  dispatched('n7', 'retrying', day + min, { template: 'receipt', category: 'billing', reason: 'sendgrid 503' }),
  dispatched('n7', 'failed', day + 5 * min, { template: 'receipt', category: 'billing', attempt: 4, reason: 'sendgrid 503 after 4 attempts' }),
];
const deliveries: DeliveryEventReceived[] = [
  delivery('e1p', 'processed', day + 2 * min, { notification_id: 'n1', provider_message_id: 'X1.filter0001.1' }),
  delivery('e1d', 'delivered', day + 3 * min, { notification_id: 'n1', provider_message_id: 'X1.filter0001.1' }),
  delivery('e1o1', 'opened', day + 30 * min, { notification_id: 'n1' }),
  delivery('e1o2', 'opened', day + 40 * min, { notification_id: 'n1' }),
  delivery('e1o3', 'opened', day + 50 * min, { notification_id: 'n1' }),
  delivery('e1c', 'clicked', day + 51 * min, { notification_id: 'n1', url: 'https://app.example.com/invoices' }),
  delivery('e2b', 'bounced', day + 2 * min, { notification_id: 'n2', bounce_type: 'bounce', reason: '550 5.1.1 user unknown' }),
  // Twilio callback without our query parameter: resolved through the SID recorded at send time.
  delivery(`${sms('n2')}:delivered`, 'delivered', day + 11 * min, { provider: 'twilio', channel: 'sms', provider_message_id: sms('n2') }),
  delivery('e4d', 'delivered', day + 3 * min, { notification_id: 'n4' }),
  delivery('e4p', 'processed', day + 9 * min, { notification_id: 'n4' }), // late
  delivery(`${sms('n5')}:undelivered`, 'undelivered', day + 4 * min, { notification_id: 'n5', provider: 'twilio', channel: 'sms', error_code: '30003' }),
  // Arrives without notification id and (in the reversed delivery below) before the dispatch outcome.
  delivery('e6d', 'delivered', day + 3 * min, { provider_message_id: 'X6.filterdrecv-7' }),
];

function incoming(): Incoming<DeliveryTopic>[] {
  return [
    ...requests.map((value) => ({ record: 'NotificationRequested', value })),
    ...dispatches.map((value) => ({ record: 'NotificationDispatched', value })),
    ...deliveries.map((value) => ({ record: 'DeliveryEventReceived', value })),
  ] as unknown as Incoming<DeliveryTopic>[];
}

describe('delivery projection', () => {
  let t: TestEnv;
  let running: { stop(): Promise<void> };

  before(async () => {
    t = await createTestEnv('delivery');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const appender = await t.rt.kafka.appender();
    // Provider events first (late `processed`, an orphan), then outcomes, then requests: the worst order.
    await appender.append('notify.delivery-events.v1', deliveries.map((value) => ({ key: value.notification_id ?? value.provider_message_id ?? value.event_id, record: 'DeliveryEventReceived' as const, value })));
    await appender.append('notify.dispatches.v1', [...dispatches].reverse().map((value) => ({ key: value.notification_id, record: 'NotificationDispatched' as const, value })));
    await appender.append('notify.dispatch-requests.v1', requests.map((value): Outgoing<'notify.dispatch-requests.v1'> => ({ key: value.user_id, record: 'NotificationRequested', value })));
    running = await runVersionedProjection(t.rt, deliveryProjection, { pollMs: 200 });
    await eventually(async () => {
      const v = await activeVersion(t.rt.db, 'delivery');
      return v && (await projectionLag(t.rt, checkpointName(v), deliveryProjection.topics)) === 0 ? true : undefined;
    }, { what: 'the delivery projection to catch up' });
  });
  after(async () => {
    await running?.stop();
    await t?.cleanup();
  });

  it('gives each notification the furthest status it reached, whatever the order of callbacks', async () => {
    const rows = await t.rt.db.query<{ notification_id: string; status: string; template: string; channels: string[] | null }>('SELECT notification_id, status, template, channels FROM analytics.notifications ORDER BY 1');
    assert.deepEqual(
      rows.rows.map((r) => [r.notification_id, r.status, r.template, r.channels]),
      [
        ['n1', 'clicked', 'receipt', ['email']],
        ['n2', 'delivered', 'payment_failed', ['email', 'sms']],
        ['n3', 'suppressed', 'digest', null],
        ['n4', 'delivered', 'payment_failed', ['email']],
        ['n5', 'failed', 'payment_failed', ['sms']],
        ['n6', 'delivered', 'receipt', ['email']],
        ['n7', 'failed', 'receipt', null],
      ],
    );
  });

  it('counts unique messages on the day they were sent, with rates', async () => {
    const rows = await t.rt.db.query('SELECT channel, category, template, sent, delivered, opened, clicked, bounced, failed, unsubscribed, delivery_rate::float8, open_rate::float8, click_rate::float8, bounce_rate::float8 FROM analytics.delivery_metrics_daily WHERE day = $1 ORDER BY 1, 2, 3', [new Date(day).toISOString().slice(0, 10)]);
    assert.deepEqual(rows.rows, [
      // n1 (3 opens → 1), n6 (orphan delivered), n7 (never sent, failed)
      { channel: 'email', category: 'billing', template: 'receipt', sent: 2, delivered: 2, opened: 1, clicked: 1, bounced: 0, failed: 1, unsubscribed: 0, delivery_rate: 1, open_rate: 0.5, click_rate: 0.5, bounce_rate: 0 },
      // n2 (bounced), n4 (delivered, late processed)
      { channel: 'email', category: 'payment', template: 'payment_failed', sent: 2, delivered: 1, opened: 0, clicked: 0, bounced: 1, failed: 0, unsubscribed: 0, delivery_rate: 0.5, open_rate: 0, click_rate: 0, bounce_rate: 0.5 },
      // n2 fallback delivered, n5 undelivered
      { channel: 'sms', category: 'payment', template: 'payment_failed', sent: 2, delivered: 1, opened: 0, clicked: 0, bounced: 0, failed: 1, unsubscribed: 0, delivery_rate: 0.5, open_rate: 0, click_rate: 0, bounce_rate: 0 },
    ]);
  });

  it('given a message retried under a new provider id, then the stored id is the latest attempt\'s whatever order and batching the attempts come in', async () => {
    const first = dispatched('n8', 'retrying', day + min, { attempt: 1, provider_message_id: 'X8z', reason: 'timeout' });
    const second = dispatched('n8', 'sent', day + 3 * min, { attempt: 2, provider_message_id: 'X8a' });
    const as = (v: NotificationDispatched) => ({ record: 'NotificationDispatched', value: v }) as unknown as Incoming<DeliveryTopic>;
    for (const batches of [[[first, second]], [[second, first]], [[first], [second]], [[second], [first]]]) {
      const schema = 'dretry';
      await t.rt.db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
      await t.rt.db.query(deliveryProjection.tables(schema));
      for (const batch of batches) await t.rt.db.transaction((c) => applyNotificationRecords(c, schema, batch.map(as)));
      const row = (await t.rt.db.query<{ provider_message_id: string; attempts: number }>(`SELECT provider_message_id, attempts FROM ${schema}.messages WHERE notification_id = 'n8'`)).rows[0];
      assert.deepEqual(row, { provider_message_id: 'X8a', attempts: 2 }, batches.map((b) => b.map((d) => d.attempt).join('+')).join(' | '));
    }
  });

  it('gives the same tables for any order, batching and duplication by two concurrent writers', async () => {
    const schemaOf = async (name: string) => {
      await t.rt.db.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await t.rt.db.query(`CREATE SCHEMA ${name}`);
      await t.rt.db.query(deliveryProjection.tables(name));
      return name;
    };
    const snapshot = async (schema: string) => {
      const out: unknown[] = [];
      for (const table of ['notifications', 'messages', 'steps', 'message_ids', 'orphan_events']) {
        out.push((await t.rt.db.query(`SELECT * FROM ${schema}.${table} ORDER BY 1, 2`)).rows);
      }
      // The running sums, and the same figures counted afresh from every message as the view's
      // first definition did (grouped by the UTC day a message was sent or failed to send).
      const sums = (await t.rt.db.query(`SELECT day::text, channel, category, template, messages, sent, delivered, opened, clicked, bounced, failed, unsubscribed
        FROM ${schema}.daily_metrics WHERE messages <> 0 ORDER BY 1, 2, 3, 4`)).rows;
      const counted = (await t.rt.db.query(`SELECT (COALESCE(m.sent_at, m.failed_at) AT TIME ZONE 'UTC')::date::text AS day, m.channel,
          COALESCE(n.category, 'unknown') AS category, COALESCE(n.template, 'unknown') AS template, count(*)::int AS messages,
          count(m.sent_at)::int AS sent, count(m.delivered_at)::int AS delivered, count(m.opened_at)::int AS opened, count(m.clicked_at)::int AS clicked,
          count(m.bounced_at)::int AS bounced, count(m.failed_at)::int AS failed, count(m.unsubscribed_at)::int AS unsubscribed
        FROM ${schema}.messages m LEFT JOIN ${schema}.notifications n USING (notification_id)
        WHERE COALESCE(m.sent_at, m.failed_at) IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`)).rows;
      assert.deepEqual(sums, counted);
      out.push(sums);
      return out;
    };
    const reference = await schemaOf('dprop_a');
    await t.rt.db.transaction((c) => applyNotificationRecords(c, reference, incoming()));
    const expected = await snapshot(reference);
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(incoming(), { minLength: incoming().length }), fc.array(fc.integer({ min: 0, max: incoming().length - 1 }), { maxLength: 8 }), fc.integer({ min: 1, max: 5 }), async (order, dupes, size) => {
        const list = [...order, ...dupes.map((i) => incoming()[i] as Incoming<DeliveryTopic>)];
        const target = await schemaOf('dprop_b');
        const batches: Incoming<DeliveryTopic>[][] = [];
        for (let i = 0; i < list.length; i += size) batches.push(list.slice(i, i + size));
        let cursor = 0;
        const worker = async () => {
          while (cursor < batches.length) {
            const b = batches[cursor++] as Incoming<DeliveryTopic>[];
            await t.rt.db.transaction((c) => applyNotificationRecords(c, target, b));
          }
        };
        await Promise.all([worker(), worker()]);
        assert.deepEqual(await snapshot(target), expected);
      }),
      { numRuns: 40 },
    );
  });

  it('given a bulk rebuild (load, one finish, then batch by batch), then the same tables for any order, batching, duplication and point of the finish', async () => {
    const schemaOf = async (name: string) => {
      await t.rt.db.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await t.rt.db.query(`CREATE SCHEMA ${name}`);
      await t.rt.db.query(deliveryProjection.tables(name));
      return name;
    };
    const snapshot = async (schema: string) => {
      const out: unknown[] = [];
      for (const table of ['notifications', 'messages', 'steps', 'message_ids', 'orphan_events', 'daily_metrics']) {
        out.push((await t.rt.db.query(`SELECT * FROM ${schema}.${table} ${table === 'daily_metrics' ? 'WHERE messages <> 0' : ''} ORDER BY 1, 2, 3`)).rows);
      }
      return out;
    };
    const reference = await schemaOf('dbulk_a');
    await t.rt.db.transaction((c) => applyNotificationRecords(c, reference, incoming()));
    const expected = await snapshot(reference);
    const all = incoming();
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray(all, { minLength: all.length }),
        fc.array(fc.integer({ min: 0, max: all.length - 1 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: all.length + 8 }),
        async (order, dupes, size, cut) => {
          const list = [...order, ...dupes.map((i) => all[i] as Incoming<DeliveryTopic>)];
          const target = await schemaOf('dbulk_b');
          const bulk = (deliveryProjection.bulk as NonNullable<typeof deliveryProjection.bulk>)(target);
          await applyInBatches(list.slice(0, cut), size, (b) => t.rt.db.transaction((c) => bulk.load(c, b)));
          await t.rt.db.transaction((c) => bulk.finish(c, t.rt.log));
          await applyInBatches(list.slice(cut), size, (b) => t.rt.db.transaction((c) => applyNotificationRecords(c, target, b)));
          assert.deepEqual(await snapshot(target), expected);
        },
      ),
      { numRuns: 40 },
    );
  });
});
