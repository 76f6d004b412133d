import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { createLogger } from '../../lib/log.ts';
import { Runtime } from '../../lib/runtime.ts';
import { Names, type AnyTopicName } from '../../lib/topics.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { providerEnv, sendgridHeaders, stripeSignature } from '../../test/support/providers.ts';

/** Every series of the HTTP request metrics, as exposition lines without their values. */
async function httpSeries(url: string): Promise<Set<string>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return new Set(
    text
      .split('\n')
      .filter((l) => l.startsWith('eventline_http_requests_total{') || l.startsWith('eventline_http_request_duration_seconds_count{'))
      .map((l) => l.slice(0, l.lastIndexOf(' '))),
  );
}

/** Record counts of every topic of the namespace. */
async function topicCounts(t: TestEnv): Promise<Record<string, number>> {
  const names = new Names(t.config.namespace);
  const logical = (await t.rt.kafka.listTopics()).map((p) => names.logicalTopic(p)).filter((n): n is AnyTopicName => n !== null);
  return Object.fromEntries(await Promise.all(logical.sort().map(async (n) => [n, await t.rt.kafka.recordCount(n)] as const)));
}

/** JSON text of an object whose `field` holds arrays nested so the whole body is `depth` levels deep. */
function nestedBody(prefix: Record<string, unknown>, field: string, depth: number): string {
  const inner = `${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}`;
  return `${JSON.stringify(prefix).slice(0, -1)}${Object.keys(prefix).length > 0 ? ',' : ''}"${field}":${inner}}`;
}

describe('the HTTP edge: metrics, decoding errors, nesting limits and security headers', () => {
  let t: TestEnv;
  let rt: Runtime;
  let app: RunningApp;
  const logLines: { level: string; msg: string; err?: string }[] = [];
  let publishKey: string;
  let readKey: string;
  let preferencesKey: string;

  before(async () => {
    t = await createTestEnv('httpedge', providerEnv);
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    // The app logs into memory at debug level, so a test can say what reached the error level.
    const sink = { write: (line: string) => void logLines.push(JSON.parse(line) as { level: string; msg: string }) };
    rt = new Runtime(t.config, createLogger({ ...t.config, logLevel: 'debug' }, sink));
    app = await startApp(rt);
    [publishKey, readKey, preferencesKey] = await Promise.all([createKey(t, ['publish']), createKey(t, ['read']), createKey(t, ['preferences'])]);
  });
  after(async () => {
    await app?.close();
    await rt?.close();
    await t?.cleanup();
  });

  it('given many distinct paths no route matches, whatever status they get, then the request metrics gain no series', async () => {
    // Given one request of each kind already counted (a malformed escape answers 400, an unknown path 404)
    await fetch(`${app.url}/assets/%ZZwarm`);
    await fetch(`${app.url}/nothing-warm`);
    await fetch(`${app.url}/v1/notifications/%ZZwarm`, { headers: bearer(readKey) });
    const before = await httpSeries(app.url);
    // When 150 distinct such paths arrive
    const statuses = new Set<number>();
    for (let i = 0; i < 50; i++) {
      for (const [path, headers] of [
        [`/assets/%ZZ${i}`, {}],
        [`/nothing-${i}/here`, {}],
        [`/v1/notifications/%C3%28${i}`, bearer(readKey)],
      ] as const) {
        statuses.add((await fetch(`${app.url}${path}`, { headers })).status);
      }
    }
    // Then they are counted under the one unmatched label, with no new series
    assert.deepEqual([...statuses].sort(), [400, 404]);
    const afterwards = await httpSeries(app.url);
    assert.deepEqual([...afterwards].filter((s) => !before.has(s) && !s.includes('route="/metrics"')), []);
    assert.ok([...afterwards].some((s) => s.includes('route="unmatched",method="GET",status="400"')));
    assert.ok(![...afterwards].some((s) => s.includes('%') || s.includes('nothing-')), 'no label carries a request path');
  });

  it('given a malformed percent-escape in a route parameter, then 400 bad_request as JSON and nothing at the error level of the log', async () => {
    logLines.length = 0;
    const cases: [string, Record<string, string>][] = [
      ['/v1/notifications/%ZZ', bearer(readKey)],
      ['/v1/users/%E0%A4%A/preferences', bearer(preferencesKey)],
      ['/v1/unsubscribe/%ZZ', {}],
      ['/assets/%ZZ', {}],
    ];
    for (const [path, headers] of cases) {
      const res = await fetch(`${app.url}${path}`, { headers });
      assert.equal(res.status, 400, path);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/, path);
      const body = (await res.json()) as { error: string; detail: string };
      assert.equal(body.error, 'bad_request', path);
      assert.match(body.detail, /percent-escape/, path);
    }
    assert.deepEqual(logLines.filter((l) => l.level === 'error' || l.level === 'fatal'), []);
    assert.ok(!logLines.some((l) => /URIError|decodeURIComponent/.test(JSON.stringify(l)) && /\n\s+at /.test(l.err ?? '')), 'no stack trace');
  });

  it('given a JSON body nested deeper than 32 levels on any JSON route, then 400 bad_request and nothing is appended to any topic', async () => {
    const countsBefore = await topicCounts(t);
    const notification = { user_id: 'user_deep', template: 'receipt', category: 'billing' };
    for (const depth of [33, 10_000]) {
      const sendgrid = `[${nestedBody({ email: 'a@example.com', event: 'delivered', sg_event_id: `sg_${depth}`, sg_message_id: 'm1', timestamp: 1 }, 'deep', depth - 1)}]`;
      const stripe = nestedBody({ id: `evt_deep${depth}`, object: 'event', type: 'invoice.paid', created: Math.floor(Date.now() / 1000), data: { object: { id: 'in_1', object: 'invoice', customer: 'cus_1' } } }, 'deep', depth);
      const cases: [string, string, string, Record<string, string>][] = [
        ['POST', '/v1/events', nestedBody({ type: 'UserSignedUp', key: 'user_deep' }, 'data', depth), bearer(publishKey)],
        ['POST', '/v1/notifications', nestedBody(notification, 'data', depth), bearer(publishKey)],
        ['PUT', '/v1/users/user_deep/preferences', nestedBody({ reason: 'deep' }, 'categories', depth), bearer(preferencesKey)],
        ['POST', '/webhooks/sendgrid', sendgrid, sendgridHeaders(sendgrid)],
        ['POST', '/webhooks/stripe', stripe, { 'content-type': 'application/json', 'stripe-signature': stripeSignature(stripe) }],
      ];
      for (const [method, path, body, headers] of cases) {
        const res = await fetch(`${app.url}${path}`, { method, headers, body });
        const answer = (await res.json()) as { error: string; detail: string };
        assert.equal(res.status, 400, `${method} ${path} at depth ${depth}: ${JSON.stringify(answer)}`);
        assert.equal(answer.error, 'bad_request', `${method} ${path} at depth ${depth}`);
        assert.match(answer.detail, /deeper than 32 levels/, `${method} ${path} at depth ${depth}`);
      }
    }
    assert.deepEqual(await topicCounts(t), countsBefore);
    assert.deepEqual(logLines.filter((l) => l.level === 'error'), []);
  });

  it('given a JSON body that is not UTF-8, then 400 bad_request and nothing is appended', async () => {
    const countsBefore = await topicCounts(t);
    const text = JSON.stringify({ type: 'UserSignedUp', key: 'user_8', event_id: 'bad-utf8', data: { user_id: 'user_8', email: 'PLACEHOLDER@example.com' } });
    const at = text.indexOf('PLACEHOLDER');
    const body = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(text.slice(at + 'PLACEHOLDER'.length))]);
    const res = await fetch(`${app.url}/v1/events`, { method: 'POST', headers: bearer(publishKey), body });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { detail: string }).detail, /UTF-8/);
    assert.deepEqual(await topicCounts(t), countsBefore);
  });

  it('given a body whose Content-Encoding it is not in, then 400 (or 415 for an unknown encoding) and nothing at the error level of the log', async () => {
    logLines.length = 0;
    const body = JSON.stringify({ type: 'UserSignedUp', key: 'user_enc', data: { user_id: 'user_enc', email: 'enc@example.com' } });
    for (const [encoding, status] of [['gzip', 400], ['deflate', 400], ['br', 400], ['x-unknown', 415]] as const) {
      for (const [path, headers] of [['/v1/events', bearer(publishKey)], ['/webhooks/stripe', { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body) }]] as const) {
        const res = await fetch(`${app.url}${path}`, { method: 'POST', headers: { ...headers, 'content-encoding': encoding }, body });
        assert.equal(res.status, status, `${path} ${encoding}`);
        assert.ok(((await res.json()) as { error: string }).error, `${path} ${encoding}: a JSON error`);
      }
    }
    assert.deepEqual(logLines.filter((l) => l.level === 'error'), []);
  });

  it('given any answer (page, API, error, webhook, metrics), then it carries the security headers; the dashboard keeps its own policy for its scripts', async () => {
    const requests: [string, string, RequestInit?][] = [
      ['GET', '/healthz'],
      ['GET', '/readyz'],
      ['GET', '/metrics'],
      ['GET', '/openapi.json'],
      ['GET', '/nothing-here'],
      ['GET', '/assets/%ZZ'],
      ['GET', '/assets/chart.js'],
      ['GET', '/'],
      ['POST', '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'key=nope' }],
      ['GET', '/v1/dashboard'],
      ['GET', '/v1/notifications/ntf_missing', { headers: bearer(readKey) }],
      ['POST', '/v1/events', { headers: bearer(readKey), body: '{}' }],
      ['POST', '/webhooks/stripe', { body: '{}' }],
      ['GET', '/v1/unsubscribe/not-a-token', { headers: { accept: 'text/html' } }],
    ];
    for (const [method, path, init] of requests) {
      const res = await fetch(`${app.url}${path}`, { method, redirect: 'manual', ...init });
      await res.arrayBuffer();
      const what = `${method} ${path} (${res.status})`;
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', what);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, what);
      if (path === '/assets/chart.js') assert.equal(res.headers.get('cache-control'), 'public, max-age=300', what);
      else assert.equal(res.headers.get('cache-control'), 'no-store', what);
      const csp = res.headers.get('content-security-policy') ?? '';
      if (path === '/' || path === '/login') assert.match(csp, /script-src 'self'/, what);
      else assert.doesNotMatch(csp, /script-src/, `${what}: no script runs under the default policy`);
    }
    const login = await fetch(`${app.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${readKey}`, redirect: 'manual' });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const dashboard = await fetch(`${app.url}/`, { headers: { cookie } });
    assert.match(dashboard.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const page = await dashboard.text();
    const scripts = page.match(/<script[^>]*>/g) ?? [];
    assert.ok(page.includes('id="mrr-chart"') && scripts.length === 3, 'the dashboard page, with Chart.js, its CSV export and its script');
    assert.ok(scripts.every((tag) => /^<script src="\/assets\/[a-z.]+">$/.test(tag)), `every script comes from /assets: ${scripts.join(' ')}`);
  });
});
