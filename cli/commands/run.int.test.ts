import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { exited, spawnEventline } from '../../test/support/process.ts';
import { freePort } from '../../test/support/stack.ts';
import type { ChildProcess } from 'node:child_process';
import { event, subscription } from '../demo/stripe-objects.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';

describe('a process without the HTTP component (npm start consumers) serves its metrics and probes on EVENTLINE_METRICS_PORT', () => {
  let t: TestEnv;
  let child: ChildProcess;
  let port: number;

  before(async () => {
    t = await createTestEnv('metricsport');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    port = await freePort();
    child = spawnEventline({ ...t.env, EVENTLINE_METRICS_PORT: String(port) }, 'projection.mrr');
    const created = Math.floor(Date.now() / 1000);
    const sub = subscription('2025-09-30.clover', { id: 'sub_metrics', customer: 'cus_metrics', status: 'active', created, items: [{ unitAmount: 1000 }] });
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords([event('2025-09-30.clover', { id: 'evt_metrics', type: 'customer.subscription.created', created, object: sub })]));
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await exited(child);
    }
    await t?.cleanup();
  });

  it('answers /metrics with the consumer metrics it records, /readyz with its dependencies, and nothing else', async () => {
    const metrics = await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => null);
        if (!res?.ok) return undefined;
        const text = await res.text();
        // The consumer joined and reported its lag: the series only this process can record.
        return /^eventline_consumer_lag\{[^}]*group="projection\.mrr\.v\d+"/m.test(text) ? text : undefined;
      },
      { timeoutMs: 60_000, what: "the consumers' /metrics with their lag" },
    );
    assert.match(metrics, /^eventline_dependency_up\{dependency="kafka"\} 1$/m);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { status: string }).status, 'ready');
    assert.equal((await fetch(`http://127.0.0.1:${port}/webhooks/stripe`, { method: 'POST', body: '{}' })).status, 404, 'no webhook route here');
  });
});
