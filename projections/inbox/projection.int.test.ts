import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import type { DeliveryEventReceived, DeliveryKind, NotificationDispatched, NotificationRequested } from '../../lib/topics.ts';
import { applyInBatches } from '../../test/support/batches.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { activeVersionCaughtUp } from '../../test/support/projections.ts';
import { inboxProjection } from './main.ts';
import { applyInboxRecords, type InboxTopic } from './store.ts';

const t0 = Date.UTC(2026, 4, 4, 8, 0, 0);
const min = 60_000;
const iso = (minutes: number) => new Date(t0 + minutes * min).toISOString();

function requested(id: string, user: string, template: string, at: number, extra: Partial<NotificationRequested> = {}): NotificationRequested {
  return { event_id: `req:${id}`, occurred_at: at, received_at: at, notification_id: id, user_id: user, template, category: 'billing', priority: 'NORMAL', channel: null, data: '{"amount_due":1250,"currency":"usd"}', idempotency_key: null, requested_by: 'test', source_event_id: null, send_at: null, escalation: null, recurrence: null, sequence: null, avoid_channels: [], ...extra };
}
function sent(id: string, user: string, channel: string, at: number, extra: Partial<NotificationDispatched> = {}): NotificationDispatched {
  return {
    event_id: `${id}:sent:${channel}:${extra.attempt ?? 1}`,
    occurred_at: at,
    received_at: at,
    notification_id: id,
    user_id: user,
    template: 'receipt',
    category: 'billing',
    priority: 'NORMAL',
    channel,
    status: 'sent',
    reason: null,
    provider: channel === 'in_app' ? 'eventline' : 'sendgrid',
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
function change(id: string, kind: DeliveryKind, at: number, extra: Partial<DeliveryEventReceived> = {}): DeliveryEventReceived {
  return {
    event_id: `inapp:${id}:${kind}:${at}`,
    occurred_at: at,
    received_at: at,
    provider: 'eventline',
    channel: 'in_app',
    notification_id: id,
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

const requests: NotificationRequested[] = [
  requested('ntf_1', 'user_a', 'receipt', t0),
  requested('ntf_2', 'user_a', 'receipt', t0),
  requested('ntf_4', 'user_b', 'receipt', t0),
  // Two records for one notification: the smaller event id is the request.
  requested('ntf_5', 'user_b', 'receipt', t0, { event_id: 'req:ntf_5:b', data: '{"n":2}' }),
  requested('ntf_5', 'user_b', 'receipt', t0, { event_id: 'req:ntf_5:a', data: '{"n":1}' }),
];
const dispatches: NotificationDispatched[] = [
  sent('ntf_1', 'user_a', 'in_app', t0 + 1 * min),
  sent('ntf_1', 'user_a', 'email', t0 + 1 * min),
  // Email only: not in the inbox.
  sent('ntf_2', 'user_a', 'email', t0 + 1 * min),
  // No request on the topic: an item without text.
  sent('ntf_3', 'user_a', 'in_app', t0 + 2 * min, { template: 'welcome_subscription', category: 'account' }),
  // Sent in-app twice: the earlier outcome makes the item.
  sent('ntf_4', 'user_b', 'in_app', t0 + 9 * min, { attempt: 2, locale: 'fr-FR' }),
  sent('ntf_4', 'user_b', 'in_app', t0 + 3 * min, { attempt: 1, locale: 'de-DE' }),
  sent('ntf_5', 'user_b', 'in_app', t0 + 4 * min),
  // Failed in-app: no item.
  sent('ntf_6', 'user_b', 'in_app', t0 + 4 * min, { status: 'failed', event_id: 'ntf_6:failed:in_app:1' }),
];
const changes: DeliveryEventReceived[] = [
  change('ntf_1', 'seen', t0 + 2 * min),
  change('ntf_1', 'read', t0 + 3 * min),
  change('ntf_1', 'unread', t0 + 4 * min),
  change('ntf_1', 'read', t0 + 5 * min),
  change('ntf_1', 'read', t0 + 6 * min), // a client's retry
  change('ntf_1', 'seen', t0 + 7 * min),
  // Another provider's events and kinds the inbox does not keep.
  change('ntf_1', 'opened', t0 + 8 * min, { provider: 'sendgrid', channel: 'email', event_id: 'sg_1' }),
  change('ntf_4', 'opened', t0 + 8 * min),
  change('ntf_4', 'seen', t0 + 8 * min, { channel: 'email', event_id: 'x_1' }),
  // Archived (by its event time) before the outcome that makes the item.
  change('ntf_3', 'archived', t0 + 1 * min),
  change('ntf_3', 'archived', t0 + 5 * min),
  change('ntf_5', 'read', t0 + 5 * min),
  // For a notification never sent in-app: kept, no item.
  change('ntf_9', 'read', t0 + 5 * min),
];

function incoming(): Incoming<InboxTopic>[] {
  return [
    ...requests.map((value) => ({ record: 'NotificationRequested', value })),
    ...dispatches.map((value) => ({ record: 'NotificationDispatched', value })),
    ...changes.map((value) => ({ record: 'DeliveryEventReceived', value })),
  ] as unknown as Incoming<InboxTopic>[];
}

describe('inbox projection', () => {
  let t: TestEnv;
  let running: { stop(): Promise<void> };

  before(async () => {
    t = await createTestEnv('inboxproj');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const appender = await t.rt.kafka.appender();
    // The worst order: state changes, then outcomes (newest first), then requests.
    await appender.append('notify.delivery-events.v1', changes.map((value) => ({ key: value.notification_id ?? value.event_id, record: 'DeliveryEventReceived' as const, value })));
    await appender.append('notify.dispatches.v1', [...dispatches].reverse().map((value) => ({ key: value.notification_id, record: 'NotificationDispatched' as const, value })));
    await appender.append('notify.dispatch-requests.v1', requests.map((value) => ({ key: value.user_id, record: 'NotificationRequested' as const, value })));
    running = await runVersionedProjection(t.rt, inboxProjection, { pollMs: 200 });
    await activeVersionCaughtUp(t.rt, 'inbox', inboxProjection.topics);
  });
  after(async () => {
    await running?.stop();
    await t?.cleanup();
  });

  it('given the topics, then one item per in_app sent notification, with its state folded from its changes, in analytics.inbox_items', async () => {
    const rows = await t.rt.db.query<Record<string, unknown>>(
      `SELECT notification_id, user_id, template, category, locale, created_at, seen_at, read_at, archived_at FROM analytics.inbox_items ORDER BY notification_id`,
    );
    const at = (d: unknown) => (d instanceof Date ? d.toISOString() : d);
    assert.deepEqual(
      rows.rows.map((r) => [r.notification_id, r.user_id, r.template, r.category, r.locale, at(r.created_at), at(r.seen_at), at(r.read_at), at(r.archived_at)]),
      [
        // seen at 2, read at 3, unread at 4, read at 5 and 6 (retry), seen again at 7.
        ['ntf_1', 'user_a', 'receipt', 'billing', 'en-US', iso(1), iso(2), iso(5), null],
        ['ntf_3', 'user_a', 'welcome_subscription', 'account', 'en-US', iso(2), null, null, iso(1)],
        ['ntf_4', 'user_b', 'receipt', 'billing', 'de-DE', iso(3), null, null, null],
        ['ntf_5', 'user_b', 'receipt', 'billing', 'en-US', iso(4), iso(5), iso(5), null],
      ],
    );
  });

  it('keeps each request once, the one with the smaller event id', async () => {
    const version = (await t.rt.db.query<{ schema_name: string }>("SELECT schema_name FROM public.projection_versions WHERE projection = 'inbox' AND status = 'active'")).rows[0];
    assert.ok(version);
    const rows = await t.rt.db.query(`SELECT notification_id, data FROM ${version.schema_name}.requests WHERE notification_id = 'ntf_5'`);
    // The data is kept sealed for the user, as the topic has it (ADR 0018).
    const keyring = await t.rt.privacy();
    assert.deepEqual(await Promise.all(rows.rows.map(async (r) => ({ ...r, data: await keyring.open(String(r.data)) }))), [{ notification_id: 'ntf_5', data: '{"n":1}' }]);
  });

  it('gives the same tables for any order, batching and duplication by two concurrent writers', async () => {
    const schemaOf = async (name: string) => {
      await t.rt.db.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await t.rt.db.query(`CREATE SCHEMA ${name}`);
      await t.rt.db.query(inboxProjection.tables(name));
      return name;
    };
    const snapshot = async (schema: string) => {
      const out: unknown[] = [];
      for (const table of ['requests', 'items', 'item_events']) out.push((await t.rt.db.query(`SELECT * FROM ${schema}.${table} ORDER BY 1, 2`)).rows);
      return out;
    };
    const reference = await schemaOf('iprop_a');
    await t.rt.db.transaction((c) => applyInboxRecords(c, reference, incoming()));
    const expected = await snapshot(reference);
    const all = incoming();
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(all, { minLength: all.length }), fc.array(fc.integer({ min: 0, max: all.length - 1 }), { maxLength: 8 }), fc.integer({ min: 1, max: 5 }), async (order, dupes, size) => {
        const target = await schemaOf('iprop_b');
        await applyInBatches([...order, ...dupes.map((i) => all[i] as Incoming<InboxTopic>)], size, (b) => t.rt.db.transaction((c) => applyInboxRecords(c, target, b)));
        assert.deepEqual(await snapshot(target), expected);
      }),
      { numRuns: 40 },
    );
  });
});
