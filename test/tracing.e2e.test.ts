/**
 * Tracing across Kafka hops, as npm start runs Eventline: the HTTP ingress and the consumers in two
 * processes, each exporting by OTLP to a local receiver. One Stripe webhook that fails a payment is
 * one trace: the request, its append, the dunning decision, the dispatch and the SendGrid call,
 * each span the child of the one before, though every hop crosses Kafka (and a process).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { charge, customer, event, invoice, subscription } from '../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { collect } from './support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { FakeSendGrid } from './support/fake-providers.ts';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';
import { exited, spawnEventline } from './support/process.ts';
import { fakeProviderEnv, stripeSignature } from './support/providers.ts';
import { freePort } from './support/stack.ts';
import { startApp } from './support/app.ts';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

describe('tracing: one webhook is one trace through the append, the processors, the dispatch and the provider call', () => {
  let t: TestEnv;
  let sendgrid: FakeSendGrid;
  let receiver: OtlpReceiver;
  let url: string;
  const children: ChildProcess[] = [];
  const now = Math.floor(Date.now() / 1000);
  const v = '2025-09-30.clover';

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    receiver = await new OtlpReceiver().start();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    t = await createTestEnv('trace', {
      ...fakeProviderEnv({ sendgrid }),
      PORT: String(port),
      EVENTLINE_PUBLIC_URL: url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    children.push(spawnEventline(t.env, 'http'), spawnEventline(t.env, 'processor.fraud,processor.dunning,processor.dispatch'));
    await eventually(async () => ((await fetch(`${url}/readyz`).catch(() => null))?.ok ? true : undefined), { timeoutMs: 60_000, what: 'the HTTP process to be ready' });
  });
  after(async () => {
    for (const child of children) child.kill('SIGTERM');
    for (const child of children) await exited(child);
    await t?.cleanup();
    await sendgrid?.close();
    await receiver?.close();
  });

  async function webhook(e: Record<string, unknown>, headers: Record<string, string> = {}): Promise<void> {
    const body = JSON.stringify(e);
    const res = await fetch(`${url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body), ...headers }, body });
    assert.equal(res.status, 200, await res.text());
  }

  it('continues the caller’s trace from the webhook to SendGrid, each hop the child of the one before', { timeout: 240_000 }, async () => {
    await webhook(event(v, { type: 'customer.created', created: now - 3600, object: customer({ id: 'cus_Trace', email: 'trace@example.com', name: 'Tracy Doe', created: now - 3600, userId: 'user_trace', country: 'US' }) }));
    await webhook(event(v, { type: 'customer.subscription.created', created: now - 3500, object: subscription(v, { id: 'sub_Trace', customer: 'cus_Trace', status: 'active', items: [{ unitAmount: 4900 }], created: now - 3500 }) }));
    // The caller (a load balancer, an upstream service) started the trace.
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const failed = event(v, { type: 'invoice.payment_failed', created: now - 60, object: invoice(v, { id: 'in_Trace1', customer: 'cus_Trace', subscription: 'sub_Trace', amountDue: 4900, status: 'open', created: now - 120 }) });
    await webhook(failed, { traceparent: `00-${traceId}-${callerSpan}-01` });

    const email = await eventually(() => sendgrid.sent.find((m) => m.customArgs.template === 'payment_failed'), { timeoutMs: 90_000, what: 'the payment_failed email at the SendGrid API' });
    const notificationId = email.customArgs.notification_id ?? '';

    // A span's ancestors within the trace, nearest first.
    const ancestors = (spans: readonly ReceivedSpan[], s: ReceivedSpan): ReceivedSpan[] => {
      const parent = spans.find((p) => p.spanId === s.parentSpanId);
      return parent ? [parent, ...ancestors(spans, parent)] : [];
    };
    const chain = await eventually(
      () => {
        const spans = receiver.trace(traceId);
        const request = spans.find((s) => s.name === 'POST /webhooks/stripe' && s.kind === SERVER && s.parentSpanId === callerSpan);
        const append = request && spans.find((s) => s.name === 'send stripe.events.v1' && s.kind === PRODUCER && s.parentSpanId === request.spanId);
        const dunning = append && spans.find((s) => s.name === 'dunning decide' && s.kind === CONSUMER && s.parentSpanId === append.spanId);
        const provider = spans.find((s) => s.name === 'sendgrid send' && s.kind === CLIENT && s.attributes['eventline.notification_id'] === notificationId);
        const path = provider ? ancestors(spans, provider) : [];
        const dispatch = path.find((s) => s.name === 'dispatch process' && s.attributes['messaging.destination.name'] === 'notify.dispatch-requests.v1');
        return request && append && dunning && dispatch && provider && path.includes(dunning) ? { spans, request, append, dunning, dispatch, provider, path } : undefined;
      },
      { timeoutMs: 60_000, what: () => `the trace's spans at the receiver; it has ${receiver.trace(traceId).map((s) => `${s.name}(${s.kind})`).join(', ') || 'none'}` },
    );

    assert.equal(chain.request.attributes['http.route'], '/webhooks/stripe');
    assert.equal(chain.request.attributes['http.response.status_code'], 200);
    assert.equal(chain.dunning.attributes['messaging.consumer.group.name'], 'processor.dunning');
    assert.equal(chain.dunning.attributes['messaging.destination.name'], 'stripe.events.v1');
    // From the provider call back to the caller: dispatch, the dunning decisions (the step's timer
    // fires into the trace of the decision that set it), the append, the request.
    const names = chain.path.map((s) => s.name);
    assert.equal(names.at(-1), 'POST /webhooks/stripe');
    assert.ok(names.indexOf('dispatch process') < names.lastIndexOf('dunning decide'), `dispatch after dunning: ${names.join(' <- ')}`);
    assert.equal(chain.provider.attributes['eventline.provider_message_id'] !== undefined, true, 'the provider call records the provider message id');
    // Two processes, one trace: the ingress made the request's spans, the consumers the rest.
    assert.equal(chain.request.resource['service.name'], 'eventline');
    assert.notEqual(chain.request.resource['process.pid'], chain.dunning.resource['process.pid'], 'the request and the decision were traced by different processes');
    // Nothing personal in any span of the trace.
    const flat = JSON.stringify(chain.spans);
    for (const personal of ['trace@example.com', 'Tracy', '+1415']) assert.ok(!flat.includes(personal), `no span carries ${personal}`);
    assert.equal(receiver.refused, 0, 'every export was OTLP/JSON at /v1/traces');

    // The record itself carries the context: another consumer joins the trace from the headers.
    const records = await collect(t.rt.kafka, ['stripe.events.v1'], (rs) => rs.some((r) => r.value.event_id === failed.id));
    const record = records.find((r) => r.value.event_id === failed.id)!;
    assert.match(record.headers.traceparent ?? '', new RegExp(`^00-${traceId}-${chain.append.spanId}-01$`));
  });

  it('a webhook without a caller’s trace starts its own, and a charge without dunning still reaches the fraud decider in it', { timeout: 120_000 }, async () => {
    const paid = event(v, { type: 'charge.succeeded', created: now - 30, object: charge({ id: 'ch_Trace', customer: 'cus_Trace', amount: 4900, created: now - 30 }) });
    await webhook(paid);
    const fraud = await eventually(
      () => {
        const request = receiver.spans.find((s) => s.name === 'POST /webhooks/stripe' && s.parentSpanId === null && receiver.trace(s.traceId).some((d) => d.name === 'fraud decide' && d.attributes['messaging.destination.name'] === 'stripe.events.v1'));
        return request ? receiver.trace(request.traceId) : undefined;
      },
      { timeoutMs: 60_000, what: 'a trace rooted at a webhook request with a fraud decision in it' },
    );
    assert.ok(fraud.some((s) => s.name === 'send stripe.events.v1'), 'the append is in the trace');
  });

  it('is off without an endpoint: nothing is exported and no record carries a trace header, even when the caller sent one', { timeout: 60_000 }, async () => {
    // This test process never started tracing: its own HTTP app is Eventline without OTEL_* set.
    const app = await startApp(t.rt);
    try {
      const e = event(v, { type: 'customer.updated', created: now - 10, object: customer({ id: 'cus_Off', email: 'off@example.com', name: 'Off', created: now - 10, userId: 'user_off', country: 'US' }) });
      const body = JSON.stringify(e);
      const res = await fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body), traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` }, body });
      assert.equal(res.status, 200);
      const records = await collect(t.rt.kafka, ['stripe.events.v1'], (rs) => rs.some((r) => r.value.event_id === e.id));
      const record = records.find((r) => r.value.event_id === e.id)!;
      assert.equal(record.headers.traceparent, undefined);
    } finally {
      await app.close();
    }
  });
});
