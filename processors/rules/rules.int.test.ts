import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { listDeadLetters } from '../../lib/dlq.ts';
import type { Incoming, RunningConsumer } from '../../lib/kafka/index.ts';
import { runProcessor } from '../../lib/processor.ts';
import { notificationIdFor } from '../../notify/index.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect, plain } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { runEventline } from '../../test/support/process.ts';
import { providerEnv } from '../../test/support/providers.ts';
import { loadRules, rulesProcessor } from './main.ts';

// The shipped rules plus one for a type another service registers at run time (YAML, as an operator would write it).
const dir = mkdtempSync(join(tmpdir(), 'eventline-rules-'));
const rulesFile = join(dir, 'rules.yaml');
writeFileSync(
  rulesFile,
  `rules:
  - name: security-alert
    event: SecurityAlertRaised
    template: security_alert
    category: security
    priority: HIGH
    recipient: user_id
    data: { alert: alert, ip: ip, device: device }
  - name: usage-threshold
    event: UsageThresholdReached
    template: usage_threshold
    priority: NORMAL
    recipient: user_id
    data: all
  - name: acme-password-changed
    event: com.acme.PasswordChanged
    external: true
    template: security_alert
    priority: HIGH
    recipient: account.user_id
    data: { alert: alert }
`,
);

describe('domain-event rules: POST /v1/events → processor.rules → notify.dispatch-requests.v1, against the real stack', () => {
  let t: TestEnv;
  let app: RunningApp;
  let key: string;
  let running: RunningConsumer;

  before(async () => {
    t = await createTestEnv('rules', { ...providerEnv, EVENTLINE_RULES: rulesFile });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    // SecurityAlertRaised becomes an essential notification: publishing it takes the essential scope too.
    key = await createKey(t, ['publish', 'essential']);
    // As the processor.rules component starts it: the file EVENTLINE_RULES names, validated.
    running = await runProcessor(t.rt, rulesProcessor(t.rt, loadRules(t.config.rules.path)));
  });
  after(async () => {
    await running?.stop();
    await app?.close();
    await t?.cleanup();
  });

  const publish = async (event: Record<string, unknown>): Promise<{ event_id: string; duplicate: boolean }> => {
    const res = await fetch(`${app.url}/v1/events`, { method: 'POST', headers: bearer(key), body: JSON.stringify(event) });
    assert.equal(res.status, 202, await res.clone().text());
    return (await res.json()) as { event_id: string; duplicate: boolean };
  };
  /** The requests appended so far, once the one caused by `marker` is among them (same key and user: same partitions, in order). */
  const requestsUpTo = (marker: string) =>
    collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (got) => got.some((r) => r.record === 'NotificationRequested' && r.value.source_event_id === marker));
  const requestsOf = (records: readonly Incoming<'notify.dispatch-requests.v1'>[], eventId: string) =>
    records.flatMap((r) => (r.record === 'NotificationRequested' && r.value.source_event_id === eventId ? [r.value] : []));
  const alert = (eventId: string, userId = 'user_sec') => ({
    type: 'SecurityAlertRaised',
    key: userId,
    event_id: eventId,
    occurred_at: Date.now(),
    data: { user_id: userId, alert: 'new_device_login', ip: '203.0.113.5', device: 'Firefox on Linux' },
  });

  it('given a SecurityAlertRaised published twice, then one NotificationRequested to its user with the rule\'s template, category, priority and data', async () => {
    const event = alert('sec-rules-1');
    assert.equal((await publish(event)).duplicate, false);
    assert.equal((await publish(event)).duplicate, true);
    await publish(alert('sec-marker-1'));
    const requests = requestsOf(await requestsUpTo('sec-marker-1'), 'sec-rules-1');
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.deepEqual(
      {
        notification_id: request?.notification_id,
        user_id: request?.user_id,
        template: request?.template,
        category: request?.category,
        priority: request?.priority,
        channel: request?.channel,
        requested_by: request?.requested_by,
        occurred_at: request?.occurred_at,
        data: JSON.parse(request?.data ?? 'null') as unknown,
      },
      {
        notification_id: notificationIdFor('rule:security-alert:sec-rules-1'),
        user_id: 'user_sec',
        template: 'security_alert',
        category: 'security',
        priority: 'HIGH',
        channel: null,
        requested_by: 'processor.rules',
        occurred_at: event.occurred_at,
        data: { alert: 'new_device_login', ip: '203.0.113.5', device: 'Firefox on Linux' },
      },
    );
  });

  it('given the same event delivered again past the publisher\'s dedupe (a replay), then the same notification id; events without a rule give nothing', async () => {
    const domain = await collect(t.rt.kafka, ['domain.events.v1'], (got) => got.some((r) => r.value.event_id === 'sec-rules-1'));
    const original = domain.find((r) => r.value.event_id === 'sec-rules-1');
    assert.ok(original);
    await (await t.rt.kafka.appender()).appendRaw('domain.events.v1', [{ key: original.key, value: original.raw.value }]);
    await publish({ type: 'UserSignedUp', key: 'user_sec', event_id: 'signup-user_sec', data: { user_id: 'user_sec', email: 'sec@example.com' } });
    await publish({ type: 'UsageThresholdReached', key: 'user_sec', event_id: 'usage-user_sec', occurred_at: Date.now(), data: { user_id: 'user_sec', metric: 'api_calls', used: 80_000, limit: 100_000, threshold_percent: 80 } });
    await publish(alert('sec-marker-2'));
    const records = await requestsUpTo('sec-marker-2');
    const copies = requestsOf(records, 'sec-rules-1');
    assert.equal(copies.length, 2);
    assert.deepEqual(plain(copies[1]), plain(copies[0]), 'a redelivery is the same request: the dispatcher sends it once');
    assert.deepEqual(requestsOf(records, 'signup-user_sec'), []);
    const [usage] = requestsOf(records, 'usage-user_sec');
    assert.deepEqual([usage?.template, usage?.category, usage?.priority, JSON.parse(usage?.data ?? 'null')], [
      'usage_threshold',
      'billing',
      'NORMAL',
      { user_id: 'user_sec', metric: 'api_calls', used: 80_000, limit: 100_000, threshold_percent: 80 },
    ]);
  });

  it('given a type another service registered and a rule for it, then it notifies with no Eventline change; without its recipient, it is dead-lettered', async () => {
    await t.rt.kafka.registry.register(`${t.namespace}.domain.events.v1-com.acme.PasswordChanged`, {
      type: 'record',
      name: 'PasswordChanged',
      namespace: 'com.acme',
      fields: [
        { name: 'event_id', type: 'string' },
        { name: 'occurred_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'received_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'key', type: 'string' },
        { name: 'producer', type: 'string' },
        {
          name: 'data',
          type: {
            type: 'record',
            name: 'PasswordChangedData',
            fields: [
              { name: 'account', type: { type: 'record', name: 'Account', fields: [{ name: 'user_id', type: ['null', 'string'], default: null }] } },
              { name: 'alert', type: 'string' },
            ],
          },
        },
      ],
    });
    await publish({ type: 'com.acme.PasswordChanged', key: 'acct_1', event_id: 'pw-1', occurred_at: Date.now(), data: { account: { user_id: 'user_acme' }, alert: 'password_changed' } });
    await publish({ type: 'com.acme.PasswordChanged', key: 'acct_2', event_id: 'pw-2', occurred_at: Date.now(), data: { account: { user_id: null }, alert: 'password_changed' } });
    const [request] = requestsOf(await requestsUpTo('pw-1'), 'pw-1');
    assert.deepEqual([request?.user_id, request?.template, request?.category, request?.priority, JSON.parse(request?.data ?? 'null')], [
      'user_acme',
      'security_alert',
      'security',
      'HIGH',
      { alert: 'password_changed' },
    ]);
    const [dead] = await eventually(async () => {
      const entries = await listDeadLetters(t.rt, 'processor.rules');
      return entries.length > 0 ? entries : undefined;
    }, { what: 'the event without its recipient in dlq.processor.rules.v1' });
    assert.equal(dead?.key, 'acct_2');
    assert.equal(dead?.errorCode, 'unprocessable');
    assert.match(dead?.error ?? '', /com\.acme\.PasswordChanged pw-2: rule acme-password-changed: the recipient field account\.user_id is missing/);
  });

  it('given a bad rules file, then `eventline run --only processor.rules` refuses to start, listing every problem', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        rules: [
          { name: 'a', event: 'SecurityAlertRaised', template: 'no_such_template', priority: 'HIGH', recipient: 'user_id' },
          { name: 'b', event: 'SecurityAlertRaised', template: 'security_alert', category: 'marketing', priority: 'SOON', recipient: 'user_id' },
          { name: 'c', event: 'OrderTeleported', template: 'receipt', recipient: 'user_id' },
        ],
      }),
    );
    const refused = await runEventline({ ...t.env, EVENTLINE_RULES: bad }, ['run', '--only', 'processor.rules', '--no-migrate']);
    assert.equal(refused.code, 2, refused.stderr);
    for (const problem of [
      'rules[0] (a).template: no_such_template is not a template',
      'rules[1] (b).priority: expected one of CRITICAL, HIGH, NORMAL, LOW',
      'rules[1] (b).category: security_alert is sent as security, not marketing',
      'rules[2] (c).event: eventline.domain.OrderTeleported is not in schemas/domain.events.v1',
    ]) {
      assert.ok(refused.stderr.includes(problem), `${problem}\n${refused.stderr}`);
    }
    assert.match(refused.stderr, /\[config_invalid\]/);
    const malformed = join(dir, 'malformed.yaml');
    writeFileSync(malformed, 'rules: [ {name: a');
    const broken = await runEventline({ ...t.env, EVENTLINE_RULES: malformed }, ['run', '--only', 'processor.rules', '--no-migrate']);
    assert.equal(broken.code, 2, broken.stderr);
    assert.match(broken.stderr, /malformed\.yaml: not valid YAML/);
  });
});
