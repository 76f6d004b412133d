import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import type { Incoming } from '../lib/kafka/index.ts';
import { charge, customer, event, invoice, subscription } from '../cli/demo/stripe-objects.ts';
import { collect } from './support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { FakeSendGrid, FakeTwilio } from './support/fake-providers.ts';
import { bearer, createKey } from './support/keys.ts';
import { startPipeline, type Pipeline } from './support/pipeline.ts';
import { fakeProviderEnv, stripeSignature } from './support/providers.ts';

describe('from a Stripe webhook to a delivered email, through Kafka, the processors and the projections', () => {
  let t: TestEnv;
  let pipeline: Pipeline;
  let sendgrid: FakeSendGrid;
  let twilio: FakeTwilio;
  let key: string;
  const now = Math.floor(Date.now() / 1000);

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    twilio = await new FakeTwilio().start();
    t = await createTestEnv('notify', fakeProviderEnv({ sendgrid, twilio }));
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    pipeline = await startPipeline(t.rt);
    sendgrid.webhookUrl = `${pipeline.app.url}/webhooks/sendgrid`;
    key = await createKey(t, ['read', 'publish']);
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

  it('a failed payment becomes a dunning step, an email through SendGrid, and — once SendGrid reports it delivered — a delivered notification in the analytics views', async () => {
    const v = '2025-09-30.clover';
    await webhook(event(v, { type: 'customer.created', created: now - 3600, object: customer({ id: 'cus_Pat', email: 'pat@example.com', name: 'Pat Doe', phone: '+14155550199', created: now - 3600, userId: 'user_pat', country: 'US' }) }));
    await webhook(event(v, { type: 'customer.subscription.created', created: now - 3500, object: subscription(v, { id: 'sub_Pat', customer: 'cus_Pat', status: 'active', items: [{ unitAmount: 4900 }], created: now - 3500 }) }));
    await webhook(event(v, { type: 'invoice.payment_failed', created: now - 60, object: invoice(v, { id: 'in_Pat1', customer: 'cus_Pat', subscription: 'sub_Pat', amountDue: 4900, status: 'open', created: now - 120 }) }));

    const email = await eventually(() => sendgrid.sent.find((m) => m.customArgs.template === 'payment_failed'), { timeoutMs: 60_000, what: 'the payment_failed email at the SendGrid API' });
    assert.equal(email.to, 'pat@example.com');
    assert.equal(email.customArgs.category, 'payment');
    assert.match(email.subject, /\$49\.00/);
    assert.match(email.text, /Hi Pat,/);
    assert.match(email.text, /https:\/\/invoice\.stripe\.com\/i\/acct_1Lk\/test_Pat1/);
    assert.equal(email.headers['List-Unsubscribe'], undefined, 'payment notices cannot be unsubscribed');
    const notificationId = email.customArgs.notification_id ?? '';
    assert.match(notificationId, /^ntf_/);
    const welcome = await eventually(() => sendgrid.sent.find((m) => m.customArgs.template === 'welcome_subscription' && m.to === 'pat@example.com'), { what: 'the welcome email' });
    assert.match(welcome.headers['List-Unsubscribe'] ?? '', /^<https:\/\/hooks\.eventline\.test\/v1\/unsubscribe\/.+>$/);
    assert.equal(welcome.headers['List-Unsubscribe-Post'], 'List-Unsubscribe=One-Click');

    assert.equal(await sendgrid.postEvent(email, 'delivered', { response: '250 2.0.0 OK' }), 200);
    const row = await eventually(async () => {
      const r = await t.rt.db.query<{ status: string; template: string; channels: string[]; requested_at: Date | null }>(
        'SELECT status, template, channels, requested_at FROM analytics.notifications WHERE notification_id = $1',
        [notificationId],
      );
      // The request, the outcome (sent) and SendGrid's callback (delivered) are on three topics: any
      // may be projected first, and the row shows all three once all are in.
      const n = r.rows[0];
      return n?.status === 'delivered' && n.channels !== null && n.requested_at !== null ? n : undefined;
    }, { timeoutMs: 30_000, what: 'the notification to show requested, sent by email and delivered' });
    assert.deepEqual([row.template, row.channels], ['payment_failed', ['email']]);
    const metrics = await t.rt.db.query<{ sent: number; delivered: number }>("SELECT sent, delivered FROM analytics.delivery_metrics_daily WHERE template = 'payment_failed' AND channel = 'email'");
    assert.deepEqual(metrics.rows, [{ sent: 1, delivered: 1 }]);

    // SendGrid's "processed" callback is posted on its own and may come after the "delivered" one.
    const steps = ['requested', 'sent', 'processed', 'delivered'];
    type Read = { status: string; timeline: { step: string }[] };
    let last: Read | null = null;
    const api = await eventually(async () => {
      last = (await (await fetch(`${pipeline.app.url}/v1/notifications/${notificationId}`, { headers: bearer(key) })).json()) as Read;
      return steps.every((step) => last?.timeline.some((s) => s.step === step)) ? last : undefined;
    }, { what: () => `a timeline with ${steps.join(', ')}: ${JSON.stringify(last)}` });
    assert.equal(api.status, 'delivered');

    // The dunning projection reads the steps topic on its own: it may project the fired step after
    // the notifications projection showed the email delivered.
    const dunningCase = await eventually(async () => {
      const [c] = (await t.rt.db.query<{ status: string; reminders_sent: number }>("SELECT status, reminders_sent FROM analytics.dunning_cases WHERE invoice_id = 'in_Pat1'")).rows;
      return c && c.reminders_sent > 0 ? c : undefined;
    }, { what: 'the dunning case with its first reminder' });
    assert.deepEqual(dunningCase, { status: 'open', reminders_sent: 1 });
    // The later reminders are timers in the future, not sent yet.
    assert.equal(sendgrid.sent.filter((m) => m.customArgs.template === 'update_payment_method').length, 0);
  });

  it('a card-testing burst is scored step by step, blocked, and the risk team is alerted', async () => {
    const v = '2025-09-30.clover';
    await webhook(event(v, { type: 'customer.created', created: now - 600, object: customer({ id: 'cus_Tester', email: 'x9@mailinator.com', created: now - 600, country: 'US' }) }));
    for (let i = 0; i < 8; i++) {
      await webhook(event(v, { type: i % 2 ? 'charge.failed' : 'charge.succeeded', created: now - 300 + i * 10, object: charge({ id: `ch_test${i}`, customer: 'cus_Tester', amount: 100, created: now - 300 + i * 10, status: i % 2 ? 'failed' : 'succeeded', fingerprint: 'fpTESTER', email: 'x9@mailinator.com' }) }));
    }
    const rows = await eventually(async () => {
      const r = await t.rt.db.query<{ action: string; score: string }>("SELECT action, score::text FROM analytics.fraud_scores WHERE customer_id = 'cus_Tester' ORDER BY occurred_at");
      return r.rows.length === 8 ? r.rows : undefined;
    }, { timeoutMs: 60_000, what: '8 fraud scores' });
    // new account 0.15 + disposable email 0.30 = 0.45 (review); the 4th attempt adds velocity 0.15 (0.60: 3-D Secure);
    // the 5th adds velocity 0.2125 and card testing 0.40 (capped at 1: block).
    assert.deepEqual(
      rows.map((r) => [r.action, r.score]),
      [['review', '0.4500'], ['review', '0.4500'], ['review', '0.4500'], ['require_3ds', '0.6000'], ['block', '1.0000'], ['block', '1.0000'], ['block', '1.0000'], ['block', '1.0000']],
    );
    const alerts = await eventually(() => {
      const got = sendgrid.sent.filter((m) => m.customArgs.template === 'fraud_review');
      return got.length === 5 ? got : undefined;
    }, { timeoutMs: 60_000, what: 'five fraud_review emails to the risk team' });
    assert.ok(alerts.every((m) => m.to === 'risk@eventline.local'));
    assert.ok(alerts.some((m) => /\[block\]/.test(m.subject)));
  });

  it('replaying every processor input from the beginning reproduces identical decisions and sends nothing twice', async () => {
    const before = { emails: sendgrid.sent.length, sms: twilio.sent.length };
    const topics = ['risk.fraud-scores.v1', 'billing.dunning-steps.v1', 'notify.dispatch-requests.v1'] as const;
    const decisionsOf = async () => {
      let total = 0;
      for (const topic of topics) total += await t.rt.kafka.recordCount(topic);
      const records = (await collect(t.rt.kafka, topics, total)) as Incoming<(typeof topics)[number]>[];
      assert.equal(records.length, total);
      const byId = new Map<string, string[]>();
      for (const r of records) {
        const { received_at: _ignored, ...value } = r.value as unknown as Record<string, unknown>;
        void _ignored;
        const list = byId.get(String(value.event_id)) ?? [];
        list.push(JSON.stringify(value));
        byId.set(String(value.event_id), list);
      }
      return byId;
    };
    const first = await decisionsOf();
    await pipeline.stopProcessors();
    for (const [group, topic] of [
      ['processor.fraud', 'stripe.events.v1'],
      ['processor.dunning', 'stripe.events.v1'],
      ['processor.dunning', 'billing.dunning-steps.v1'],
      ['processor.dispatch', 'notify.dispatch-requests.v1'],
      ['processor.dispatch', 'notify.delivery-events.v1'],
    ] as const) {
      await t.rt.kafka.resetOffsets(group, topic);
    }
    await pipeline.startProcessors();
    await eventually(async () => {
      for (const [group, topic] of [['processor.fraud', 'stripe.events.v1'], ['processor.dunning', 'stripe.events.v1'], ['processor.dispatch', 'notify.dispatch-requests.v1']] as const) {
        const committed = await t.rt.kafka.committedOffsets(group, topic);
        for (const o of await t.rt.kafka.topicOffsets(topic)) {
          const c = committed.find((x) => x.partition === o.partition)?.offset ?? '-1';
          if (BigInt(o.high) > BigInt(o.low) && BigInt(c) < BigInt(o.high)) return undefined;
        }
      }
      return true;
    }, { timeoutMs: 60_000, what: 'the processors to re-read everything' });
    const second = await decisionsOf();
    assert.deepEqual([...second.keys()].sort(), [...first.keys()].sort(), 'no new decisions');
    for (const [id, copies] of second) assert.equal(new Set(copies).size, 1, `every copy of ${id} is identical`);
    assert.deepEqual({ emails: sendgrid.sent.length, sms: twilio.sent.length }, before, 'nothing sent twice');
  });
});
