import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { NotificationDispatched } from '../../lib/topics.ts';
import type { Kafka } from '../../lib/kafka/index.ts';
import { assignVariant, notificationRequest, publishTemplate, shippedLocales, Templates } from '../../notify/index.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { FakeSendGrid } from '../../test/support/fake-providers.ts';
import { storedPreferences } from '../../test/support/preferences.ts';
import { runEventline } from '../../test/support/process.ts';
import { fakeProviderEnv } from '../../test/support/providers.ts';
import { ProcessorGroup } from '../supervisor.ts';

/**
 * Template versions against the real stack: `eventline templates publish` (a process of its own)
 * appends and stores a version; the running dispatcher uses it for the next notification without
 * a restart and records the version (and the variant) on the outcome.
 */
describe('published template versions and experiments', () => {
  let t: TestEnv;
  let sendgrid: FakeSendGrid;
  let stop: (() => Promise<void>) | null = null;
  let n = 0;
  const dir = mkdtempSync(join(tmpdir(), 'eventline-templates-'));

  before(async () => {
    sendgrid = await new FakeSendGrid().start();
    t = await createTestEnv('templates', { ...fakeProviderEnv({ sendgrid }), EVENTLINE_TEMPLATE_REFRESH_MS: '100' });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const group = new ProcessorGroup(t.rt, ['dispatch'], { timerIntervalMs: 50 });
    await group.start({ watchMs: 60_000 });
    stop = () => group.stop();
  });
  after(async () => {
    await stop?.();
    await t?.cleanup();
    await sendgrid?.close();
  });

  function file(name: string, subject: string): string {
    const path = join(dir, name);
    writeFileSync(path, `--- subject\n${subject}\n--- text\nThanks, {{money amount_due currency}} received.\n--- html\n<p>Thanks, {{money amount_due currency}} received.</p>\n--- sms\nPaid {{money amount_due currency}}\n`);
    return path;
  }

  async function receipt(): Promise<{ id: string; user: string }> {
    const user = `user_t${n++}`;
    await storedPreferences(t.rt.db, user, { email: `${user}@example.com` });
    const r = notificationRequest({ source: `tpl:${user}`, userId: user, template: 'receipt', category: 'billing', priority: 'NORMAL', data: { amount_due: 4900, currency: 'usd' }, requestedBy: 'test', at: Date.now() });
    await (await t.rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: user, record: 'NotificationRequested', value: r }]);
    return { id: r.notification_id, user };
  }

  async function sent(id: string): Promise<NotificationDispatched> {
    const records = await collect(t.rt.kafka, ['notify.dispatches.v1'], (rs) => rs.some((r) => r.value.notification_id === id && r.value.status === 'sent'));
    return records.find((r) => r.value.notification_id === id && r.value.status === 'sent')!.value;
  }

  it('given a version published while the dispatcher runs, then the next notification renders it and records its version; before, the shipped file (version 0)', async () => {
    const before = await receipt();
    assert.equal((await sent(before.id)).template_version, 0);
    const shippedSubject = (await eventually(() => sendgrid.byNotification(before.id)[0], { what: 'the first email' })).subject;

    const published = await runEventline(t.env, ['templates', 'publish', 'receipt', '--file', file('v1.hbs', 'Your receipt for {{money amount_due currency}}'), '--by', 'ops']);
    assert.equal(published.code, 0, published.stderr);
    assert.match(published.stdout, /published receipt en-US version 1/);
    const events = await collect(t.rt.kafka, ['notify.templates.v1'], (rs) => rs.some((r) => r.value.version === 1));
    assert.deepEqual(events.map((r) => [r.value.template, r.value.locale, r.value.version, r.value.published_by]), [['receipt', 'en-US', 1, 'ops']]);

    // Read by the dispatcher within its refresh: the next notification after that uses it.
    const after = await eventually(
      async () => {
        const next = await receipt();
        const outcome = await sent(next.id);
        return outcome.template_version === 1 ? { next, outcome } : undefined;
      },
      { what: 'a notification rendered with version 1', timeoutMs: 20_000 },
    );
    assert.deepEqual([after.outcome.template, after.outcome.locale, after.outcome.experiment, after.outcome.variant], ['receipt', 'en-US', null, null]);
    const email = await eventually(() => sendgrid.byNotification(after.next.id)[0], { what: 'the email' });
    assert.equal(email.subject, 'Your receipt for $49.00');
    assert.notEqual(email.subject, shippedSubject);
  });

  it('given an experiment published with two variants, then each user gets the variant of the stable hash, renders it, and the outcome records it', async () => {
    const published = await runEventline(t.env, ['templates', 'publish', 'receipt', '--experiment', 'receipt-subject-test', '--variant', `control=1:${file('control.hbs', 'Receipt: {{money amount_due currency}}')}`, '--variant', `short=1:${file('short.hbs', 'Paid {{money amount_due currency}} ✓')}`]);
    assert.equal(published.code, 0, published.stderr);
    assert.match(published.stdout, /version 2 \(experiment receipt-subject-test: control 1, short 1\)/);
    const first = await eventually(
      async () => {
        const next = await receipt();
        const outcome = await sent(next.id);
        return outcome.template_version === 2 ? { next, outcome } : undefined;
      },
      { what: 'a notification rendered with version 2', timeoutMs: 20_000 },
    );
    const results = [first];
    for (let i = 0; i < 11; i++) {
      const next = await receipt();
      results.push({ next, outcome: await sent(next.id) });
    }
    const subjects = { control: 'Receipt: $49.00', short: 'Paid $49.00 ✓' } as const;
    for (const { next, outcome } of results) {
      const expected = assignVariant('receipt-subject-test', next.user, [{ name: 'control', weight: 1 }, { name: 'short', weight: 1 }]) as keyof typeof subjects;
      assert.deepEqual([outcome.template_version, outcome.experiment, outcome.variant], [2, 'receipt-subject-test', expected], next.user);
      const email = await eventually(() => sendgrid.byNotification(next.id)[0], { what: 'the email' });
      assert.equal(email.subject, subjects[expected]);
    }
    assert.deepEqual([...new Set(results.map((r) => r.outcome.variant))].sort(), ['control', 'short'], 'both arms used');
  });

  it('given a version with a syntax error or a variable the template does not declare, then publish refuses it (exit 1) and appends nothing', async () => {
    const broken = join(dir, 'broken.hbs');
    writeFileSync(broken, '--- subject\n{{#if amount_due}}unclosed\n--- text\nx\n--- html\n<p>x</p>\n--- sms\nx\n');
    const refused = await runEventline(t.env, ['templates', 'publish', 'receipt', '--file', broken]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /subject/);
    const undeclared = await runEventline(t.env, ['templates', 'publish', 'receipt', '--file', file('typo.hbs', 'Receipt {{amount_dew}}')]);
    assert.equal(undeclared.code, 1);
    assert.match(undeclared.stderr, /amount_dew/);
    const { rows } = await t.rt.db.query<{ n: string }>('SELECT count(*) AS n FROM dispatch.template_versions');
    assert.equal(Number(rows[0]?.n), 2, 'only the two versions published above');
  });

  it('given the append of a version failing (the broker refusing it), then no version is stored and the number is not used up: the next publish takes it', async () => {
    const failing = new Proxy(t.rt.kafka, {
      get: (target, prop, receiver) => (prop === 'appender' ? () => Promise.resolve({ append: () => Promise.reject(new Error('broker refused the append')) }) : Reflect.get(target, prop, receiver)),
    }) as Kafka;
    const templates = new Templates();
    const sections = { subject: 'Your receipt', text: 'Paid {{money amount_due currency}}.', html: '<p>Paid {{money amount_due currency}}.</p>', sms: 'Paid {{money amount_due currency}}' };
    const input = { template: 'payment_failed', locale: 'fr-FR', sections, experiment: null, variants: [], publishedBy: 'test' };
    await assert.rejects(publishTemplate(t.rt.db, failing, input, templates, shippedLocales(templates)), /broker refused the append/);
    const stored = await t.rt.db.query<{ version: number }>("SELECT version FROM dispatch.template_versions WHERE template = 'payment_failed' AND locale = 'fr-FR'");
    assert.deepEqual(stored.rows, [], 'nothing stored for a version the topic does not have');
    const published = await publishTemplate(t.rt.db, t.rt.kafka, input, templates, shippedLocales(templates));
    assert.equal(published.version, 1);
    const onTopic = await collect(t.rt.kafka, ['notify.templates.v1'], (rs) => rs.some((r) => r.value.event_id === published.event_id));
    assert.deepEqual(onTopic.filter((r) => r.value.template === 'payment_failed' && r.value.locale === 'fr-FR').map((r) => r.value.version), [1]);
  });
});
