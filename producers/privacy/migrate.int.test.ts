import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { customer, event, invoice } from '../../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { isSealed } from '../../lib/privacy/crypto.ts';
import { Serde } from '../../lib/serde.ts';
import type { PreferencesChanged } from '../../lib/topics.ts';
import { defaultPreferences } from '../../projections/preferences/document.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { runEventline } from '../../test/support/process.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { Runtime } from '../../lib/runtime.ts';
import { MIGRATED_FROM } from './migrate.ts';

/**
 * `eventline privacy migrate`: topics written before personal data was sealed are copied into a new
 * namespace, sealed, resumably. The records "from before" are written by a serde whose sealer
 * returns the plain value, as that version of Eventline wrote them.
 */
describe('eventline privacy migrate', () => {
  let t: TestEnv;
  let target: string;
  let to: Runtime;
  const v = '2025-09-30.clover';
  const email = 'mo.migrate@mo-family.example';
  const name = 'Mo Migrate';

  before(async () => {
    t = await createTestEnv('migrate');
    target = `${t.namespace}-sealed`;
    to = new Runtime({ ...t.config, namespace: target });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
  });
  after(async () => {
    try {
      await to.kafka.deleteTopics((await to.kafka.listTopics()).filter((x) => x.startsWith(`${target}.`)));
      for (const subject of await to.kafka.registry.subjects(`${target}.`)) await to.kafka.registry.deleteSubject(subject);
    } finally {
      await to.close();
      await t?.cleanup();
    }
  });

  /** Appends records as Eventline wrote them before sealing: personal fields in plain text. */
  async function appendPlain(first: number, count: number): Promise<void> {
    const old = new Serde(t.rt.kafka.registry, t.rt.kafka.names);
    old.useSealer({ seal: (_subject, plain) => Promise.resolve(plain), open: (x) => Promise.resolve(x) });
    const now = Math.floor(Date.now() / 1000);
    const stripe = [];
    const prefs = [];
    for (let i = first; i < first + count; i++) {
      const e = i % 2 === 0 ? event(v, { type: 'customer.created', created: now - 1000 + i, object: customer({ id: `cus_m${i}`, email: `${i}.${email}`, name: `${name} ${i}`, phone: `+1415555${String(i).padStart(4, '0')}`, created: now - 1000, userId: `user_m${i}` }) }) : event(v, { type: 'invoice.paid', created: now - 1000 + i, object: { ...invoice(v, { id: `in_m${i}`, customer: `cus_m${i - 1}`, subscription: null, amountDue: 1900, status: 'paid', created: now - 1000 }), customer_email: `${i - 1}.${email}` } });
      stripe.push(...stripeRecords([e]));
      const value: PreferencesChanged = { event_id: `pref_m${i}`, occurred_at: 1000 + i, received_at: 1000 + i, user_id: `user_m${i}`, change: 'updated', actor: 'key_1', reason: null, source: 'api', category: null, preferences: { ...defaultPreferences(), email: `${i}.${email}` }, previous: null };
      prefs.push({ key: value.user_id, value: await old.encode('notify.preference-changes.v1', { record: 'PreferencesChanged', value }) });
    }
    const appender = await t.rt.kafka.appender();
    await appender.appendRaw('stripe.events.v1', await Promise.all(stripe.map(async (r) => ({ key: r.key, value: await old.encode('stripe.events.v1', r) }))));
    await appender.appendRaw('notify.preference-changes.v1', prefs);
  }

  async function raw(rt: Runtime, topic: 'stripe.events.v1' | 'notify.preference-changes.v1'): Promise<{ text: string; values: unknown[]; headers: Record<string, string>[] }> {
    let text = '';
    const values: unknown[] = [];
    const headers: Record<string, string>[] = [];
    await rt.kafka.readToEnd(topic, (r) => {
      text += r.raw.value?.toString('latin1') ?? '';
      values.push(r.value);
      headers.push(r.headers);
    });
    return { text, values, headers };
  }

  it('copies every record sealed into the new namespace, opening to what was there; again, only what was appended since', async () => {
    await appendPlain(0, 6);
    assert.ok((await raw(t.rt, 'stripe.events.v1')).text.includes(email), 'the records from before are plain');

    const first = await runEventline(t.env, ['privacy', 'migrate', '--to', target]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /stripe\.events\.v1: 6 copied \(0 before\)/);
    assert.match(first.stdout, /notify\.preference-changes\.v1: 6 copied \(0 before\)/);
    for (const topic of ['stripe.events.v1', 'notify.preference-changes.v1'] as const) {
      const [source, copy] = [await raw(t.rt, topic), await raw(to, topic)];
      assert.equal(copy.values.length, source.values.length);
      assert.ok(!copy.text.includes(email) && !copy.text.includes(name), `${topic}: nothing personal in the copy's bytes`);
      const opened = await Promise.all(copy.values.map((value) => to.kafka.serde.opened(topic === 'stripe.events.v1' ? 'StripeEventReceived' : 'PreferencesChanged', value as object)));
      const plain = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, val: unknown) => (typeof val === 'string' && val.startsWith('{') ? JSON.parse(val) : val))) as unknown;
      assert.deepEqual(opened.map(plain).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), source.values.map(plain).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), `${topic}: the copy opens to the original`);
      assert.ok(copy.headers.every((h) => /^\d+:\d+$/.test(h[MIGRATED_FROM] ?? '')), 'each copy names where it came from');
    }
    const pref = (await raw(to, 'notify.preference-changes.v1')).values[0] as PreferencesChanged;
    assert.ok(pref.preferences.email && isSealed(pref.preferences.email));

    await appendPlain(6, 2);
    const second = await runEventline(t.env, ['privacy', 'migrate', '--to', target]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /stripe\.events\.v1: 2 copied \(6 before\)/);
    assert.equal((await raw(to, 'stripe.events.v1')).values.length, 8, 'nothing copied twice');
    const third = await runEventline(t.env, ['privacy', 'migrate', '--to', target]);
    assert.match(third.stdout, /^0 records copied/m);
  });

  it('refuses to migrate into its own namespace, or into one whose topics are not copies', async () => {
    const same = await runEventline(t.env, ['privacy', 'migrate', '--to', t.namespace]);
    assert.notEqual(same.code, 0);
    assert.match(same.stderr, /another namespace/);
    // A namespace in use: its records were appended by Eventline, not copied.
    const other = new Runtime({ ...t.config, namespace: `${t.namespace}-used` });
    try {
      await createTopics(other.kafka);
      await registerSchemas(other.kafka);
      await (await other.kafka.appender()).append('stripe.events.v1', stripeRecords([event(v, { type: 'customer.created', created: 1, object: customer({ id: 'cus_used', email: 'u@example.com', created: 1 }) })]));
      const used = await runEventline(t.env, ['privacy', 'migrate', '--to', `${t.namespace}-used`]);
      assert.notEqual(used.code, 0);
      assert.match(used.stderr, /holds records that are not copies/);
    } finally {
      await other.kafka.deleteTopics((await other.kafka.listTopics()).filter((x) => x.startsWith(`${t.namespace}-used.`)));
      for (const subject of await other.kafka.registry.subjects(`${t.namespace}-used.`)) await other.kafka.registry.deleteSubject(subject);
      await other.close();
    }
    const missing = await runEventline(t.env, ['privacy', 'migrate']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--to/);
  });
});
