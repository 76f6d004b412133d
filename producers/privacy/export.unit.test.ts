import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sealRecord } from '../../lib/privacy/records.ts';
import type {
  DeliveryEventReceived,
  DunningStepDecided,
  FraudScored,
  NotificationDispatched,
  NotificationRequested,
  PreferencesChanged,
  StripeEventReceived,
  TopicName,
} from '../../lib/topics.ts';
import { defaultPreferences } from '../../projections/preferences/document.ts';
import { sampleRecords } from '../../test/fixtures/records.ts';
import { TestValueBox } from '../../test/support/value-box.ts';
import { assembleExport, assembleNotifications, latestObjects, metadataUserOf, parseOpened, UserScan, type ExportedRequest, type ScannedRecord } from './export.ts';

const t0 = Date.UTC(2026, 4, 1, 12, 0, 0);

/** The fixture record of that type with some fields replaced. */
function sample<V>(topic: TopicName, record: string, fields: Partial<V>): V {
  const base = (sampleRecords[topic] as readonly { record: string; value: unknown }[]).find((e) => e.record === record);
  assert.ok(base, `a sample ${record}`);
  return { ...(structuredClone(base.value) as V), ...fields };
}

const request = (notification_id: string, user_id: string, data: unknown, at = t0): NotificationRequested =>
  sample<NotificationRequested>('notify.dispatch-requests.v1', 'NotificationRequested', { event_id: `req:${notification_id}`, notification_id, user_id, data: JSON.stringify(data), occurred_at: at, received_at: at, sequence: null });
const dispatch = (notification_id: string, user_id: string, at: number, extra: Partial<NotificationDispatched> = {}): NotificationDispatched =>
  sample<NotificationDispatched>('notify.dispatches.v1', 'NotificationDispatched', { event_id: `${notification_id}:sent:${at}`, notification_id, user_id, occurred_at: at, received_at: at, provider_message_id: null, ...extra });
const delivery = (event_id: string, at: number, extra: Partial<DeliveryEventReceived>): DeliveryEventReceived =>
  sample<DeliveryEventReceived>('notify.delivery-events.v1', 'DeliveryEventReceived', { event_id, occurred_at: at, received_at: at, notification_id: null, provider_message_id: null, user_id: null, ...extra });

function stripeEvent(event_id: string, customer: string, at: number, object: Record<string, unknown>, type = `${String(object.object)}.updated`): StripeEventReceived {
  return sample<StripeEventReceived>('stripe.events.v1', 'StripeEventReceived', {
    event_id,
    occurred_at: at,
    received_at: at,
    type,
    customer_id: customer,
    object_id: String(object.id),
    object_type: String(object.object),
    payload: JSON.stringify({ id: event_id, object: 'event', type, created: at / 1000, data: { object } }),
  });
}

const asExported = (e: StripeEventReceived) => ({ occurred_at: e.occurred_at, payload: parseOpened(e.payload) });

let offset = 0;
const rec = (record: string, value: unknown, partition = 0): ScannedRecord => ({ record, value, key: null, partition, offset: String(offset++) });

describe('latestObjects', () => {
  it('keeps the latest state of each object by event time, in first-seen order, and only objects of the type', () => {
    const events = [
      stripeEvent('evt_1', 'cus_A', t0, { id: 'sub_1', object: 'subscription', status: 'trialing' }),
      stripeEvent('evt_2', 'cus_A', t0 + 3000, { id: 'sub_1', object: 'subscription', status: 'canceled' }),
      // Delivered late: older than evt_2, so it does not replace it.
      stripeEvent('evt_3', 'cus_A', t0 + 2000, { id: 'sub_1', object: 'subscription', status: 'active' }),
      stripeEvent('evt_4', 'cus_A', t0 + 1000, { id: 'sub_2', object: 'subscription', status: 'active' }),
      stripeEvent('evt_5', 'cus_A', t0 + 1000, { id: 'in_1', object: 'invoice', status: 'open' }),
      // Same time as evt_5: the later one in the log wins.
      stripeEvent('evt_6', 'cus_A', t0 + 1000, { id: 'in_1', object: 'invoice', status: 'paid' }),
      stripeEvent('evt_7', 'cus_A', t0, { id: 'ch_1', object: 'charge', amount: 4900 }),
    ].map(asExported);
    assert.deepEqual(
      latestObjects(events, 'subscription').map((o) => [o.id, o.status]),
      [
        ['sub_1', 'canceled'],
        ['sub_2', 'active'],
      ],
    );
    assert.deepEqual(latestObjects(events, 'invoice'), [{ id: 'in_1', object: 'invoice', status: 'paid' }]);
    assert.deepEqual(latestObjects(events, 'charge'), [{ id: 'ch_1', object: 'charge', amount: 4900 }]);
  });

  it('skips payloads that are not an event with an object (erased, not JSON, no id)', () => {
    const events = [
      { occurred_at: t0, payload: 'erased' },
      { occurred_at: t0, payload: 'not json' },
      { occurred_at: t0, payload: { data: { object: { object: 'charge' } } } },
      { occurred_at: t0, payload: { data: null } },
    ];
    assert.deepEqual(latestObjects(events, 'charge'), []);
  });
});

describe('assembleNotifications', () => {
  const req = (r: NotificationRequested): ExportedRequest => ({ ...r, data: parseOpened(r.data) });

  it("puts each notification's dispatches and delivery events in time order, matching by notification id or provider message id", () => {
    const notifications = assembleNotifications(
      [req(request('ntf_1', 'u1', { a: 1 }, t0)), req(request('ntf_2', 'u1', {}, t0 + 10))],
      [dispatch('ntf_1', 'u1', t0 + 100, { provider_message_id: 'msg_1' }), dispatch('ntf_2', 'u1', t0 + 50), dispatch('ntf_orphan', 'u1', t0 + 60)],
      [
        delivery('de_open', t0 + 500, { notification_id: 'ntf_1', kind: 'opened' }),
        // No notification id: found through the dispatch's provider message id; earlier than the open.
        delivery('de_delivered', t0 + 300, { provider_message_id: 'msg_1', kind: 'delivered' }),
        // Same time as the dispatch: after it.
        delivery('de_processed', t0 + 100, { notification_id: 'ntf_1', kind: 'processed' }),
        delivery('de_other', t0 + 200, { notification_id: 'ntf_someone_else' }),
        delivery('de_user_only', t0 + 200, { user_id: 'u1' }),
      ],
    );
    assert.deepEqual(
      notifications.map((n) => n.notification_id),
      ['ntf_1', 'ntf_2', 'ntf_orphan'],
    );
    const first = notifications[0]!;
    assert.deepEqual(first.request?.data, { a: 1 });
    assert.deepEqual(
      first.timeline.map((t) => `${t.record}:${t.event.event_id}`),
      ['NotificationDispatched:ntf_1:sent:' + String(t0 + 100), 'DeliveryEventReceived:de_processed', 'DeliveryEventReceived:de_delivered', 'DeliveryEventReceived:de_open'],
    );
    assert.deepEqual(
      first.timeline.map((t) => t.at),
      [t0 + 100, t0 + 100, t0 + 300, t0 + 500],
    );
    assert.equal(notifications[1]!.timeline.length, 1);
    assert.equal(notifications[2]!.request, null, 'a dispatch whose request is gone is still listed');
  });
});

describe('UserScan', () => {
  it("keeps the user's records only", () => {
    const scan = new UserScan('u1');
    scan.preferenceChange(rec('PreferencesChanged', sample<PreferencesChanged>('notify.preference-changes.v1', 'PreferencesChanged', { user_id: 'u1' })));
    scan.preferenceChange(rec('PreferencesChanged', sample<PreferencesChanged>('notify.preference-changes.v1', 'PreferencesChanged', { user_id: 'u2' })));
    scan.request(rec('NotificationRequested', request('ntf_1', 'u1', {})));
    scan.request(rec('NotificationRequested', request('ntf_9', 'u2', {})));
    scan.request(rec('NotificationCancelled', { notification_id: 'ntf_1', user_id: 'u1' }));
    scan.dispatch(rec('NotificationDispatched', dispatch('ntf_1', 'u1', t0, { provider_message_id: 'msg_1' })));
    scan.dispatch(rec('NotificationDispatched', dispatch('ntf_9', 'u2', t0)));
    for (const [id, fields] of [
      ['by_notification', { notification_id: 'ntf_1' }],
      ['by_message', { provider_message_id: 'msg_1' }],
      ['by_user', { user_id: 'u1' }],
      ['not_theirs', { notification_id: 'ntf_9', user_id: 'u2', provider_message_id: 'msg_9' }],
    ] as const) {
      scan.deliveryEvent(rec('DeliveryEventReceived', delivery(id, t0, fields)));
    }
    assert.equal(scan.preferenceChanges.length, 1);
    assert.deepEqual(
      scan.requests.map((r) => r.notification_id),
      ['ntf_1'],
    );
    assert.deepEqual(
      scan.dispatches.map((d) => d.notification_id),
      ['ntf_1'],
    );
    assert.deepEqual(
      scan.deliveryEvents.map((e) => e.event_id),
      ['by_notification', 'by_message', 'by_user'],
    );
  });

  it('finds customers by subject link and by metadata.user_id, and reads back the records skipped before the metadata showed', () => {
    const scan = new UserScan('u1', ['cus_LINKED']);
    const customer = (id: string, userId: string | null) => ({ id, object: 'customer', metadata: userId === null ? {} : { user_id: userId } });
    const first = rec('StripeEventReceived', stripeEvent('evt_c1', 'cus_LATE', t0, customer('cus_LATE', null), 'customer.created'), 1);
    const charge = rec('StripeEventReceived', stripeEvent('evt_ch', 'cus_LATE', t0 + 1, { id: 'ch_1', object: 'charge' }), 1);
    const updated = rec('StripeEventReceived', stripeEvent('evt_c2', 'cus_LATE', t0 + 2, customer('cus_LATE', 'u1'), 'customer.updated'), 1);
    const after = rec('StripeEventReceived', stripeEvent('evt_in', 'cus_LATE', t0 + 3, { id: 'in_1', object: 'invoice', customer: 'cus_LATE' }), 1);
    const linked = rec('StripeEventReceived', stripeEvent('evt_l', 'cus_LINKED', t0, { id: 'sub_1', object: 'subscription' }), 2);
    const other = rec('StripeEventReceived', stripeEvent('evt_o', 'cus_OTHER', t0, customer('cus_OTHER', 'u2'), 'customer.created'), 0);
    const topic = [first, charge, linked, updated, other, after];
    for (const r of topic) scan.stripeEvent(r);

    assert.equal(metadataUserOf(updated.value as StripeEventReceived), 'u1');
    assert.deepEqual([...scan.customers].sort(), ['cus_LATE', 'cus_LINKED']);
    assert.deepEqual(
      scan.stripe.get('cus_LATE')!.map((e) => e.event_id),
      ['evt_c2', 'evt_in'],
    );
    assert.ok(scan.needsStripeCatchUp);
    for (const r of topic) scan.earlierStripeEvent(r);
    scan.finishStripeCatchUp();
    assert.ok(!scan.needsStripeCatchUp);
    assert.deepEqual(
      scan.stripe.get('cus_LATE')!.map((e) => e.event_id),
      ['evt_c1', 'evt_ch', 'evt_c2', 'evt_in'],
    );
    assert.deepEqual(
      scan.stripe.get('cus_LINKED')!.map((e) => e.event_id),
      ['evt_l'],
    );

    scan.dunningStep(rec('DunningStepDecided', sample<DunningStepDecided>('billing.dunning-steps.v1', 'DunningStepDecided', { event_id: 'd1', customer_id: 'cus_LATE', user_id: null })));
    scan.dunningStep(rec('DunningStepDecided', sample<DunningStepDecided>('billing.dunning-steps.v1', 'DunningStepDecided', { event_id: 'd2', customer_id: 'cus_X', user_id: 'u1' })));
    scan.dunningStep(rec('DunningStepDecided', sample<DunningStepDecided>('billing.dunning-steps.v1', 'DunningStepDecided', { event_id: 'd3', customer_id: 'cus_OTHER', user_id: 'u2' })));
    scan.fraudScore(rec('FraudScored', sample<FraudScored>('risk.fraud-scores.v1', 'FraudScored', { event_id: 'f1', customer_id: 'cus_LINKED' })));
    scan.fraudScore(rec('FraudScored', sample<FraudScored>('risk.fraud-scores.v1', 'FraudScored', { event_id: 'f2', customer_id: 'cus_OTHER' })));
    assert.deepEqual(
      scan.dunning.map((d) => d.event_id),
      ['d1', 'd2'],
    );
    assert.deepEqual(
      scan.fraud.map((f) => f.event_id),
      ['f1'],
    );
  });

  it('needs no second pass when a customer is found by its first record', () => {
    const scan = new UserScan('u1');
    scan.stripeEvent(rec('StripeEventReceived', stripeEvent('evt_c1', 'cus_A', t0, { id: 'cus_A', object: 'customer', metadata: { user_id: 'u1' } }, 'customer.created')));
    assert.ok(!scan.needsStripeCatchUp);
    assert.deepEqual([...scan.byMetadata], ['cus_A']);
  });
});

describe('assembleExport', () => {
  it('opens sealed fields, reads erased ones as erased, and derives the Stripe lists', async () => {
    const box = new TestValueBox();
    const scan = new UserScan('u1', ['cus_A']);
    const sealedRequest = await sealRecord(box, 'NotificationRequested', request('ntf_1', 'u1', { name: 'Pat Doe' }));
    assert.ok(!sealedRequest.data.includes('Pat'), 'sealed at append');
    scan.request(rec('NotificationRequested', sealedRequest));
    const charge = { id: 'ch_1', object: 'charge', customer: 'cus_A', billing_details: { name: 'Pat Doe', address: { line1: '1 Main St', country: 'US' } } };
    scan.stripeEvent(rec('StripeEventReceived', await sealRecord(box, 'StripeEventReceived', stripeEvent('evt_1', 'cus_A', t0, charge, 'charge.succeeded'))));
    const sealedDelivery = await sealRecord(box, 'DeliveryEventReceived', delivery('de_1', t0 + 5, { notification_id: 'ntf_1', user_id: 'u1', recipient: 'pat@example.com' }));
    scan.deliveryEvent(rec('DeliveryEventReceived', sealedDelivery));

    const doc = await assembleExport(
      box,
      scan,
      {
        preferences: { preferences: defaultPreferences(), changedAt: null, eventId: null },
        inbox: [{ notification_id: 'ntf_1', user_id: 'u1', template: 't', category: 'product', locale: null, created_at: new Date(t0), seen_at: null, read_at: null, archived_at: null, data: sealedRequest.data }],
        pushSubscriptions: [{ endpoint: 'https://push.example/abc', createdAt: new Date(t0) }],
      },
      new Date(t0 + 60_000),
    );
    assert.equal(doc.format, 'eventline.user-export.v1');
    assert.equal(doc.user_id, 'u1');
    assert.equal(doc.generated_at, new Date(t0 + 60_000).toISOString());
    assert.deepEqual(doc.notifications[0]?.request?.data, { name: 'Pat Doe' });
    assert.equal(doc.notifications[0]?.timeline.length, 1);
    assert.equal(doc.delivery_events[0]?.recipient, 'pat@example.com');
    assert.deepEqual(doc.inbox?.[0]?.data, { name: 'Pat Doe' });
    assert.deepEqual(doc.push_subscriptions, [{ endpoint: 'https://push.example/abc', created_at: new Date(t0).toISOString() }]);
    const customer = doc.stripe_customers[0]!;
    assert.equal(customer.customer_id, 'cus_A');
    assert.deepEqual(customer.linked_by, ['subject_link']);
    assert.equal((customer.events[0]?.payload as { type: string }).type, 'charge.succeeded');
    assert.deepEqual(customer.charges, [charge]);
    assert.deepEqual(customer.subscriptions, []);
    assert.ok(JSON.stringify(doc).includes('1 Main St'));

    // After the keys are destroyed, the same records export as erased.
    box.destroy('user:u1');
    box.destroy('customer:cus_A');
    const erased = await assembleExport(box, scan, { preferences: { preferences: defaultPreferences(), changedAt: null, eventId: null }, inbox: null, pushSubscriptions: [] });
    assert.equal(erased.notifications[0]?.request?.data, 'erased');
    assert.equal(erased.delivery_events[0]?.recipient, 'erased');
    assert.equal(erased.inbox, null);
    const erasedCharge = erased.stripe_customers[0]!.charges[0] as { id: string; billing_details: { name: string; address: { line1: string; country: string } } };
    assert.equal(erasedCharge.id, 'ch_1');
    assert.equal(erasedCharge.billing_details.name, 'erased');
    assert.deepEqual(erasedCharge.billing_details.address, { line1: 'erased', country: 'US' });
    assert.ok(!JSON.stringify(erased).includes('Pat'));
  });
});
