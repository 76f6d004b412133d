import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { Runtime } from '../../lib/runtime.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';

describe('health, readiness, metrics and the OpenAPI document', () => {
  let t: TestEnv;
  let app: RunningApp;
  before(async () => {
    t = await createTestEnv('health');
    app = await startApp(t.rt);
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  it('given every dependency up, then /readyz is 200 with each check, and /healthz answers', async () => {
    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { checks: Record<string, { ok: boolean }> };
    assert.deepEqual(Object.keys(body.checks).sort(), ['kafka', 'postgres', 'redis', 'registry']);
    assert.ok(Object.values(body.checks).every((c) => c.ok));
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
  });

  it('given the registry unreachable, then /readyz is 503 and names it', async () => {
    const env = { ...t.env, SCHEMA_REGISTRY_URL: 'http://127.0.0.1:9/apis/ccompat/v7' };
    const rt = new Runtime(loadConfig(env, 'test-health-down'));
    const down = await startApp(rt);
    try {
      const res = await fetch(`${down.url}/readyz`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { checks: Record<string, { ok: boolean }> };
      assert.equal(body.checks.registry?.ok, false);
      assert.equal(body.checks.postgres?.ok, true);
    } finally {
      await down.close();
      await rt.close();
    }
  });

  it('exposes Prometheus metrics, counting requests by route', async () => {
    await fetch(`${app.url}/healthz`);
    const text = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(text, /eventline_http_requests_total\{route="\/healthz",method="GET",status="200"\} \d+/);
    assert.match(text, /# TYPE eventline_http_request_duration_seconds histogram/);
    assert.match(text, /# TYPE eventline_consumer_lag gauge/);
  });

  it('serves an OpenAPI 3.1 document listing every contract route, and JSON 404s', async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, object> };
    assert.equal(doc.openapi, '3.1.0');
    const contract = ['/webhooks/stripe', '/webhooks/sendgrid', '/webhooks/twilio/status', '/webhooks/twilio/inbound', '/webhooks/vonage/status', '/v1/users/{userId}/preferences', '/v1/unsubscribe/{token}', '/v1/events'];
    const notifications = ['/v1/notifications', '/v1/notifications/{id}', '/v1/users/{userId}/inbox', '/v1/users/{userId}/token', '/v1/users/{userId}/push-subscriptions', '/v1/preference-centre/{token}'];
    const risk = ['/v1/risk/assess', '/v1/risk/lists', '/v1/risk/lists/{list}/{kind}/{value}', '/v1/risk/reviews', '/v1/dashboard/reviews'];
    for (const p of [...contract, ...notifications, ...risk, '/healthz', '/readyz', '/metrics']) {
      assert.ok(doc.paths[p], p);
    }
    const missing = await fetch(`${app.url}/v1/nothing-here`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, 'not_found');
  });
});
