import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { pauseStatus } from '../lib/decider/index.ts';
import { clearNamespace } from '../lib/redis.ts';
import { notificationRequest } from '../notify/index.ts';
import { defaultPreferences } from '../projections/preferences/document.ts';
import { applyPreferenceChanges } from '../projections/preferences/store.ts';
import { startApp, type RunningApp } from './support/app.ts';
import { createTestEnv, eventually, type TestEnv } from './support/env.ts';
import { FakeSendGrid } from './support/fake-providers.ts';
import { exited, runEventline, spawnEventline } from './support/process.ts';
import { providerEnv } from './support/providers.ts';

const N = 24;

describe('the instance rebuilding the state after a Redis loss is killed -9 mid-rebuild', () => {
  let t: TestEnv;
  let app: RunningApp;
  let sendgrid: FakeSendGrid;
  let n = 0;

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    t = await createTestEnv('takeover', {
      ...providerEnv,
      SENDGRID_API_KEY: 'SG.test-key',
      SENDGRID_API_URL: sendgrid.url,
      EVENTLINE_CONSUMER_SESSION_TIMEOUT_MS: '6000',
      // A short lease, and a rebuild slowed to a few seconds so it can be caught in the middle.
      EVENTLINE_REBUILD_LEASE_MS: '3000',
      EVENTLINE_REBUILD_BATCH: '2',
      EVENTLINE_REBUILD_THROTTLE_MS: '300',
    });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    const at = Date.now();
    await applyPreferenceChanges(
      t.rt.db,
      Array.from({ length: N + 1 }, (_, i) => ({ event_id: `pref_${i}`, occurred_at: at, received_at: at, user_id: `user_${i}`, change: 'updated', actor: 'test', reason: null, source: 'api', category: null, preferences: { ...defaultPreferences(), email: `user${i}@example.com`, email_confirmed_at: at }, previous: null })),
    );
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
    await sendgrid?.close();
  });

  async function request(user: number): Promise<string> {
    const r = notificationRequest({ source: `takeover:${n++}`, userId: `user_${user}`, template: 'payment_failed', category: 'payment', priority: 'HIGH', data: { amount_due: 1000, currency: 'usd', hosted_invoice_url: 'https://pay.test' }, requestedBy: 'test', at: Date.now() });
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: r.user_id, record: 'NotificationRequested', value: r }]);
    return r.notification_id;
  }

  it('the other instance takes over within seconds, and a notification requested afterwards is sent once', { timeout: 300_000 }, async () => {
    const children = [spawnEventline(t.env, 'processor.dispatch'), spawnEventline(t.env, 'processor.dispatch')];
    try {
      for (let i = 0; i < N; i++) await request(i);
      await eventually(() => (new Set(sendgrid.sent.map((m) => m.customArgs.notification_id)).size === N ? true : undefined), { timeoutMs: 90_000, what: 'the first notifications' });

      assert.ok((await clearNamespace(t.rt.redis)) > 0);
      // Whoever notices first takes the lease: find it, and check the stall is visible.
      const holding = await eventually(async () => ((await pauseStatus(t.rt, 'dispatch')).holder ?? undefined), { timeoutMs: 30_000, intervalMs: 20, what: 'an instance to take the rebuild lease' });
      const pid = Number(holding.split(':')[1]);
      const holder = children.find((c) => c.pid === pid);
      assert.ok(holder, `the lease holder ${holding} is one of the two instances`);
      const ready = (await (await fetch(`${app.url}/readyz`)).json()) as { paused: string[]; processors: { processor: string; holder: string | null; since: string | null }[] };
      assert.ok(ready.paused.includes('dispatch'), 'readyz names the paused processor');
      assert.equal(ready.processors.find((p) => p.processor === 'dispatch')?.holder, holding);

      holder.kill('SIGKILL');
      const killedAt = Date.now();
      await exited(holder);
      assert.equal((await pauseStatus(t.rt, 'dispatch')).paused, true, 'killed mid-rebuild');
      const status = await runEventline(t.env, ['status']);
      assert.match(status.stdout, /dispatch\s+PAUSED/);

      const takenOver = await eventually(
        async () => {
          const s = await pauseStatus(t.rt, 'dispatch');
          return !s.paused || (s.holder !== null && s.holder !== holding) ? Date.now() : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 20, what: 'another instance to take the lease' },
      );
      console.log(`  the other instance took the lease ${((takenOver - killedAt) / 1000).toFixed(1)} s after the holder died`);
      const resumed = await eventually(async () => ((await pauseStatus(t.rt, 'dispatch')).paused ? undefined : Date.now()), { timeoutMs: 60_000, intervalMs: 50, what: 'the other instance to finish the rebuild' });
      console.log(`  holder killed -9 mid-rebuild; the other instance finished it ${((resumed - killedAt) / 1000).toFixed(1)} s later (lease 3 s)`);

      const requestedAt = Date.now();
      const id = await request(N);
      await eventually(() => sendgrid.byNotification(id)[0], { timeoutMs: 30_000, what: 'the notification requested after the takeover' });
      console.log(`  the notification requested afterwards reached the provider in ${((Date.now() - requestedAt) / 1000).toFixed(1)} s`);
    } finally {
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(children.map((c) => exited(c)));
    }
    const perNotification = new Map<string, number>();
    for (const m of sendgrid.sent) perNotification.set(m.customArgs.notification_id ?? '', (perNotification.get(m.customArgs.notification_id ?? '') ?? 0) + 1);
    assert.equal(perNotification.size, N + 1);
    assert.deepEqual([...perNotification.values()].filter((c) => c !== 1), [], 'nothing reached the provider twice');
  });
});
