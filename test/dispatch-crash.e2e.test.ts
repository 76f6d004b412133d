import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { notificationRequest } from '../notify/index.ts';
import { defaultPreferences } from '../projections/preferences/document.ts';
import { applyPreferenceChanges } from '../projections/preferences/store.ts';
import { startApp, type RunningApp } from './support/app.ts';
import { collect } from './support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { FakeSendGrid } from './support/fake-providers.ts';
import { exited, spawnEventline } from './support/process.ts';
import { providerEnv } from './support/providers.ts';

const N = 40;

describe('the dispatch processor is killed -9 while the provider is answering', () => {
  let t: TestEnv;
  let app: RunningApp;
  let sendgrid: FakeSendGrid;

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    sendgrid.delayMs = 400;
    t = await createTestEnv('dcrash', {
      ...providerEnv,
      SENDGRID_API_KEY: 'SG.test-key',
      SENDGRID_API_URL: sendgrid.url,
      EVENTLINE_DISPATCH_RECONCILE_MS: '5000',
      EVENTLINE_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt); // receives SendGrid's "processed" events: the evidence of a send
    sendgrid.webhookUrl = `${app.url}/webhooks/sendgrid`;
    const at = Date.now();
    await applyPreferenceChanges(
      t.rt.db,
      Array.from({ length: N }, (_, i) => ({
        event_id: `pref_${i}`,
        occurred_at: at,
        received_at: at,
        user_id: `user_${i}`,
        change: 'updated',
        actor: 'test',
        reason: null,
        source: 'api',
        category: null,
        preferences: { ...defaultPreferences(), email: `user${i}@example.com`, email_confirmed_at: at },
        previous: null,
      })),
    );
    const requests = Array.from({ length: N }, (_, i) =>
      notificationRequest({ source: `crash-test:${i}`, userId: `user_${i}`, template: 'payment_failed', category: 'payment', priority: 'HIGH', data: { amount_due: 1000 + i, currency: 'usd', hosted_invoice_url: 'https://pay.test' }, requestedBy: 'test', at }),
    );
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', requests.map((value) => ({ key: value.user_id, record: 'NotificationRequested' as const, value })));
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
    await sendgrid?.close();
  });

  it('loses nothing and sends nothing twice', { timeout: 300_000 }, async () => {
    let kills = 0;
    while (kills < 4 && sendgrid.sent.length < N) {
      const child = spawnEventline(t.env, 'processor.dispatch');
      const seen = sendgrid.sent.length;
      // Kill right after the provider accepted a message, before its answer comes back.
      await eventually(() => (sendgrid.sent.length > seen ? true : undefined), { timeoutMs: 90_000, intervalMs: 5, what: 'a send to reach the provider' });
      child.kill('SIGKILL');
      await exited(child);
      kills++;
    }
    assert.ok(kills >= 3, `killed ${kills} times`);
    const last = spawnEventline(t.env, 'processor.dispatch');
    try {
      const outcomes = await collect(t.rt.kafka, ['notify.dispatches.v1'], (records) => new Set(records.filter((r) => r.value.status === 'sent').map((r) => r.value.notification_id)).size === N, { timeoutMs: 180_000 });
      const sentIds = new Set(outcomes.filter((r) => r.value.status === 'sent').map((r) => r.value.notification_id));
      assert.equal(sentIds.size, N, 'every notification has a sent outcome');
    } finally {
      last.kill('SIGTERM');
      await exited(last);
    }
    const perNotification = new Map<string, number>();
    for (const m of sendgrid.sent) perNotification.set(m.customArgs.notification_id ?? '', (perNotification.get(m.customArgs.notification_id ?? '') ?? 0) + 1);
    console.log(`  killed ${kills} times; the provider saw ${sendgrid.sent.length} messages for ${perNotification.size} notifications`);
    assert.equal(perNotification.size, N, 'every notification reached the provider');
    assert.deepEqual([...perNotification.values()].filter((n) => n !== 1), [], 'no notification reached the provider twice');
  });
});
