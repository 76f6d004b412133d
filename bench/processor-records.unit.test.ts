/**
 * The benchmark's processor records, from a 200-customer Stripe history: every record goes through
 * the real serde (encode and decode, against a registry held in memory), the records join as the
 * processors and webhooks would make them join, the same seed gives the same records, and the
 * proportions are those of the processors.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import type { Registry } from '../lib/registry.ts';
import { isSealed } from '../lib/privacy/crypto.ts';
import { openRecord } from '../lib/privacy/records.ts';
import { TestValueBox } from '../test/support/value-box.ts';
import { Serde } from '../lib/serde.ts';
import { Names, type NotificationDispatched } from '../lib/topics.ts';
import { normalizeMessageId } from '../projections/delivery/steps.ts';
import { processorRecords, type ProcessorRecords } from './processor-records.ts';

const from = Date.UTC(2025, 0, 1) / 1000;
const to = Date.UTC(2026, 10, 1) / 1000;
const receivedAt = Date.UTC(2026, 11, 5);

/** A registry that knows every schema of ours, one id per subject (what `eventline schemas register` leaves). */
function memoryRegistry(): Registry {
  const ids = new Map<string, number>();
  const schemas = new Map<number, object>();
  return {
    idOf: (subject: string, schema: object) => {
      let id = ids.get(subject);
      if (id === undefined) {
        id = ids.size + 1;
        ids.set(subject, id);
        schemas.set(id, schema);
      }
      return Promise.resolve(id);
    },
    schemaById: (id: number) => Promise.resolve(schemas.get(id) ?? {}),
  } as unknown as Registry;
}

type Topic = keyof ProcessorRecords;
const topics = ['risk.fraud-scores.v1', 'billing.dunning-steps.v1', 'notify.dispatch-requests.v1', 'notify.dispatches.v1', 'notify.delivery-events.v1'] as const satisfies readonly Topic[];
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('processor records for the projection benchmark', () => {
  let history: Record<string, unknown>[];
  let out: ProcessorRecords;

  before(() => {
    history = stripeHistory({ customers: 200, seed: 7, from, to, prefix: 'u' });
    out = processorRecords(history, { seed: 7, receivedAt });
  });

  it('given a 200-customer history, when every record is encoded with the serde and decoded again, then each comes back as it was', async () => {
    const serde = new Serde(memoryRegistry(), new Names(null));
    const box = new TestValueBox();
    serde.useSealer(box);
    let n = 0;
    for (const topic of topics) {
      for (const r of out[topic]) {
        const bytes = await serde.encode(topic, r);
        const decoded = await serde.decode(topic, bytes);
        assert.equal(decoded.envelope.record, r.record);
        // Personal fields come back sealed, and open to what was written.
        assert.deepEqual(plain(await openRecord(box, r.record, decoded.envelope.value)), plain(r.value), `${topic} ${r.record} ${JSON.stringify(r.value).slice(0, 120)}`);
        if (r.record === 'NotificationRequested') assert.ok(isSealed((decoded.envelope.value as { data: string }).data));
        assert.ok(r.key.length > 0);
        n++;
      }
    }
    assert.ok(n > 3000, `${n} records`);
  });

  it('given the history, then fraud scores each charge once and dunning decides the whole schedule for each failed invoice, as the processors do', () => {
    const charges = history.filter((e) => e.type === 'charge.succeeded' || e.type === 'charge.failed');
    const scored = out['risk.fraud-scores.v1'].flatMap((r) => (r.record === 'FraudScored' ? [r.value] : []));
    assert.deepEqual(scored.map((s) => s.source_event_id).sort(), charges.map((e) => String(e.id)).sort());
    for (const s of scored) {
      assert.equal(s.event_id, `fraud:${s.source_event_id}`);
      assert.equal(s.occurred_at, (charges.find((e) => e.id === s.source_event_id)?.created as number) * 1000);
    }
    const failed = history.filter((e) => e.type === 'invoice.payment_failed');
    const decided = out['billing.dunning-steps.v1'].flatMap((r) => (r.record === 'DunningStepDecided' ? [r.value] : []));
    const due = out['billing.dunning-steps.v1'].flatMap((r) => (r.record === 'DunningStepDue' ? [r.value] : []));
    assert.equal(decided.filter((d) => d.step === 'day_0').length, failed.length);
    assert.equal(decided.filter((d) => d.action === 'close').length, new Set(decided.map((d) => d.case_id)).size, 'every case of a complete history closed');
    for (const d of due) assert.ok(decided.some((x) => x.event_id === d.step_event_id && x.due_at === d.occurred_at), `${d.event_id} fires a decided step at its due time`);
  });

  it('given the notifications, then each outcome and each provider event joins its request and message as the webhooks would', () => {
    const requests = new Map(out['notify.dispatch-requests.v1'].flatMap((r) => (r.record === 'NotificationRequested' ? [[r.value.notification_id, r.value] as const] : [])));
    const sent = new Map<string, NotificationDispatched>();
    for (const { key, value } of out['notify.dispatches.v1']) {
      assert.equal(key, value.notification_id);
      assert.equal(requests.get(value.notification_id)?.event_id, value.request_event_id);
      if (value.status === 'sent') sent.set(`${value.notification_id}|${value.channel}`, value);
    }
    for (const { key, value } of out['notify.delivery-events.v1']) {
      assert.equal(key, value.notification_id);
      const message = sent.get(`${value.notification_id}|${value.channel}`);
      assert.ok(message, `${value.event_id} reports on a message sent on ${value.channel}`);
      assert.equal(value.provider, message.provider);
      assert.equal(normalizeMessageId(value.provider_message_id ?? ''), message.provider_message_id);
      assert.ok(value.occurred_at >= message.occurred_at && value.received_at >= value.occurred_at && value.received_at <= receivedAt);
    }
  });

  it('given the same history and seed, then the records are the same; another seed changes only what is simulated', () => {
    assert.deepEqual(plain(processorRecords(history, { seed: 7, receivedAt })), plain(out));
    const other = processorRecords(history, { seed: 8, receivedAt });
    assert.deepEqual(plain(other['risk.fraud-scores.v1']), plain(out['risk.fraud-scores.v1']));
    assert.deepEqual(plain(other['billing.dunning-steps.v1']), plain(out['billing.dunning-steps.v1']));
    assert.notDeepEqual(plain(other['notify.delivery-events.v1']), plain(out['notify.delivery-events.v1']));
  });

  it('given the notifications, then most are sent by email, some by SMS, a few are suppressed or fail, and each email has a few provider events', () => {
    const outcomes = out['notify.dispatches.v1'].map((r) => r.value);
    const count = (f: (d: NotificationDispatched) => boolean) => outcomes.filter(f).length;
    const email = count((d) => d.status === 'sent' && d.channel === 'email');
    const sms = count((d) => d.status === 'sent' && d.channel === 'sms');
    const notSent = count((d) => d.status === 'suppressed' || d.status === 'failed');
    assert.ok(email > 0.85 * outcomes.length, `${email} emails of ${outcomes.length}`);
    assert.ok(sms > 0 && sms < 0.1 * outcomes.length, `${sms} SMS`);
    assert.ok(notSent > 0 && notSent < 0.1 * outcomes.length, `${notSent} suppressed or failed`);
    const perEmail = out['notify.delivery-events.v1'].filter((r) => r.value.channel === 'email').length / email;
    assert.ok(perEmail > 2 && perEmail < 4, `${perEmail} SendGrid events per email`);
    const total = topics.reduce((n, t) => n + out[t].length, 0);
    assert.ok(total < history.length * 1.2, `${total} records for ${history.length} Stripe events`);
  });
});
