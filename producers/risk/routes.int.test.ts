import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { EntityStore } from '../../lib/decider/index.ts';
import { riskKinds, type CustomerRisk } from '../../lib/risk/state.ts';
import type { FraudScored } from '../../lib/topics.ts';
import { ProcessorGroup } from '../../processors/supervisor.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, eventually, type TestEnv } from '../../test/support/env.ts';
import { bearer, createKey } from '../../test/support/keys.ts';
import { runEventline } from '../../test/support/process.ts';
import { appendStripeEvents } from '../../test/support/stripe-records.ts';
import { charge, event } from '../../cli/demo/stripe-objects.ts';
import { runVersionedProjection } from '../../lib/projection.ts';
import { fraudProjection } from '../../projections/fraud/main.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * POST /v1/risk/assess and the allow and block lists against the real stack: the API, the fraud
 * processor (which counts assessments in the customer's windows), Kafka, Redis and Postgres.
 */
describe('risk assessment and lists', () => {
  let t: TestEnv;
  let app: RunningApp;
  let publish: string;
  let admin: string;
  let stop: (() => Promise<void>) | null = null;

  before(async () => {
    t = await createTestEnv('risk', { EVENTLINE_RISK_LISTS_REFRESH_MS: '100' });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    app = await startApp(t.rt);
    const group = new ProcessorGroup(t.rt, ['fraud'], { timerIntervalMs: 50 });
    await group.start({ watchMs: 60_000 });
    const projection = await runVersionedProjection(t.rt, fraudProjection, { pollMs: 100 });
    stop = async () => {
      await projection.stop();
      await group.stop();
    };
    publish = await createKey(t, ['publish']);
    admin = await createKey(t, ['admin', 'read']);
  });
  after(async () => {
    await stop?.();
    await app?.close();
    await t?.cleanup();
  });

  const assess = (body: unknown, key = publish) => fetch(`${app.url}/v1/risk/assess`, { method: 'POST', headers: bearer(key), body: JSON.stringify(body) });
  const addToList = (body: unknown, key = admin) => fetch(`${app.url}/v1/risk/lists`, { method: 'POST', headers: bearer(key), body: JSON.stringify(body) });
  type Answer = { assessment_id: string; score: number; action: string; factors: { name: string; weight: number; detail: string }[] };
  const assessed = async (body: unknown): Promise<Answer> => {
    const res = await assess(body);
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Answer;
  };

  it('given a card fingerprint on the block list, then its payment is blocked naming the entry; a customer on the allow list is allowed whatever else; both are events and the lists show them', async () => {
    const added = await addToList({ list: 'block', kind: 'card_fingerprint', value: 'fpStolen0001', reason: 'chargeback ring' });
    assert.equal(added.status, 201, await added.clone().text());
    assert.equal((await addToList({ list: 'block', kind: 'card_fingerprint', value: 'fpStolen0001', reason: 'chargeback ring' })).status, 200, 'unchanged');
    const blocked = await eventually(async () => {
      const a = await assessed({ customer_id: 'cus_risk1', amount: 1500, currency: 'usd', card_fingerprint: 'fpStolen0001' });
      return a.action === 'block' ? a : undefined;
    }, { what: 'the block list in the scorer' });
    assert.equal(blocked.score, 1);
    assert.deepEqual(blocked.factors.map((f) => [f.name, f.detail]), [['block_list', 'card_fingerprint fpStolen0001 (chargeback ring) is on the block list']]);
    assert.equal((await assessed({ customer_id: 'cus_risk1', amount: 1500, currency: 'usd', card_fingerprint: 'fpClean00001' })).action, 'allow', 'another card');

    // Allow wins over block: a customer on the allow list paying with a block-listed card (one never scored before).
    assert.equal((await addToList({ list: 'block', kind: 'card_fingerprint', value: 'fpStolen0002' })).status, 201);
    assert.equal((await addToList({ list: 'allow', kind: 'customer', value: 'cus_risk2', reason: 'known partner' })).status, 201);
    const allowed = await eventually(async () => {
      const a = await assessed({ customer_id: 'cus_risk2', amount: 1500, currency: 'usd', card_fingerprint: 'fpStolen0002', email: 'x@mailinator.com' });
      return a.action === 'allow' ? a : undefined;
    }, { what: 'the allow list in the scorer' });
    assert.deepEqual(allowed.factors.map((f) => f.name).sort(), ['allow_list', 'block_list', 'disposable_email']);

    const lists = (await (await fetch(`${app.url}/v1/risk/lists`, { headers: bearer(admin) })).json()) as { entries: { list: string; kind: string; value: string }[] };
    assert.deepEqual(lists.entries.map((e) => [e.list, e.kind, e.value]), [['allow', 'customer', 'cus_risk2'], ['block', 'card_fingerprint', 'fpStolen0001'], ['block', 'card_fingerprint', 'fpStolen0002']]);
    const events = await collect(t.rt.kafka, ['risk.fraud-scores.v1'], (rs) => rs.filter((r) => r.record === 'RiskListChanged').length >= 3);
    const changes = events.flatMap((r) => (r.record === 'RiskListChanged' ? [[r.value.list, r.value.kind, r.value.value, r.value.change]] : []));
    assert.deepEqual(changes.sort(), [['allow', 'customer', 'cus_risk2', 'added'], ['block', 'card_fingerprint', 'fpStolen0001', 'added'], ['block', 'card_fingerprint', 'fpStolen0002', 'added']]);
    const removed = await fetch(`${app.url}/v1/risk/lists/block/card_fingerprint/fpStolen0001`, { method: 'DELETE', headers: bearer(admin) });
    assert.equal(removed.status, 200);
    assert.equal((await fetch(`${app.url}/v1/risk/lists/block/card_fingerprint/fpStolen0001`, { method: 'DELETE', headers: bearer(admin) })).status, 404);
  });

  it('given assessments of one customer, then the processor counts them as attempts: the fourth within the hour carries the velocity factor (more than 3)', async () => {
    const store = new EntityStore(t.rt.redis);
    const body = { customer_id: 'cus_risk3', amount: 2500, currency: 'usd' };
    for (let i = 1; i <= 3; i++) {
      const a = await assessed(body);
      assert.ok(!a.factors.some((f) => f.name === 'payment_velocity'), `attempt ${i}: ${JSON.stringify(a.factors)}`);
      await eventually(async () => ((await store.get<CustomerRisk>({ kind: riskKinds.customer, key: 'cus_risk3' }))?.attempts.length === i ? true : undefined), { what: `attempt ${i} folded by the processor` });
    }
    const fourth = await assessed(body);
    assert.deepEqual(fourth.factors.filter((f) => f.name === 'payment_velocity').map((f) => f.detail), ['4 payment attempts within 60 minutes']);
    const scored = await collect(t.rt.kafka, ['risk.fraud-scores.v1'], (rs) => rs.some((r) => r.record === 'FraudScored' && r.value.source_event_id === fourth.assessment_id));
    const record = scored.find((r) => r.record === 'FraudScored' && r.value.source_event_id === fourth.assessment_id)!.value as FraudScored;
    assert.deepEqual([record.source_event_type, record.customer_id, record.amount, record.score], ['risk.assess', 'cus_risk3', 2500, fourth.score]);
  });

  it('given the same idempotency_key, then the same assessment and one record; another body with it is 409', async () => {
    const body = { customer_id: 'cus_risk4', amount: 900, currency: 'eur', idempotency_key: 'order-77' };
    const first = await assessed(body);
    const again = await assessed(body);
    assert.deepEqual(again, first);
    assert.equal((await assess({ ...body, amount: 901 })).status, 409);
    const marker = await assessed({ customer_id: 'cus_risk4', amount: 1, currency: 'eur' });
    const records = await collect(t.rt.kafka, ['risk.fraud-scores.v1'], (rs) => rs.some((r) => r.record === 'FraudScored' && r.value.source_event_id === marker.assessment_id));
    assert.equal(records.filter((r) => r.record === 'FraudScored' && r.value.source_event_id === first.assessment_id).length, 1);
  });

  it('given a charge disputed as fraudulent, then it is labelled so by the processor; an analyst labels another; the back-test measures policies against both, appending nothing', async () => {
    const v = '2025-09-30.clover';
    const now = Math.floor(Date.now() / 1000);
    await appendStripeEvents(t.rt.kafka, [
      event(v, { id: 'evt_btch1', type: 'charge.succeeded', created: now - 7200, object: charge({ id: 'ch_bt1', customer: 'cus_bt1', amount: 2900, created: now - 7200, fingerprint: 'fpBacktest1', cardCountry: 'FR' }) }),
      event(v, { id: 'evt_btch2', type: 'charge.succeeded', created: now - 3600, object: charge({ id: 'ch_bt2', customer: 'cus_bt2', amount: 2900, created: now - 3600, fingerprint: 'fpBacktest2', cardCountry: 'DE' }) }),
      event(v, { id: 'evt_btdp1', type: 'charge.dispute.created', created: now - 60, object: { id: 'dp_bt1', object: 'dispute', charge: 'ch_bt2', reason: 'fraudulent', amount: 2900, currency: 'usd' } }),
    ]);
    const labelled = await collect(t.rt.kafka, ['risk.fraud-scores.v1'], (rs) => rs.some((r) => r.record === 'PaymentLabeled' && r.value.payment_id === 'ch_bt2'));
    const auto = labelled.find((r) => r.record === 'PaymentLabeled' && r.value.payment_id === 'ch_bt2')!.value as { label: string; source: string; actor: string };
    assert.deepEqual([auto.label, auto.source, auto.actor], ['fraudulent', 'dispute', 'stripe']);
    // The analyst's review, once the charge is in analytics.fraud_scores.
    const review = (body: unknown, key = admin) => fetch(`${app.url}/v1/risk/reviews`, { method: 'POST', headers: bearer(key), body: JSON.stringify(body) });
    const reviewed = await eventually(async () => {
      const res = await review({ payment_id: 'ch_bt1', label: 'fraudulent', reason: 'customer confirmed the card was stolen' });
      return res.status === 201 ? ((await res.json()) as { customer_id: string; label: string }) : undefined;
    }, { what: 'the charge scored and reviewable' });
    assert.deepEqual([reviewed.customer_id, reviewed.label], ['cus_bt1', 'fraudulent']);
    assert.equal((await review({ payment_id: 'ch_never', label: 'legitimate' })).status, 404);
    assert.equal((await review({ payment_id: 'ch_bt1', label: 'maybe' })).status, 422);
    assert.equal((await review({ payment_id: 'ch_bt1', label: 'legitimate' }, publish)).status, 403);
    await collect(t.rt.kafka, ['risk.fraud-scores.v1'], (rs) => rs.some((r) => r.record === 'PaymentLabeled' && r.value.payment_id === 'ch_bt1'));

    // Both charges have a card from abroad (country mismatch 0.2): allowed today; a candidate blocking at 0.2 catches both.
    const policy = join(mkdtempSync(join(tmpdir(), 'eventline-policy-')), 'strict.json');
    writeFileSync(policy, JSON.stringify({ thresholds: { review: 0.1, require_3ds: 0.15, block: 0.2 } }));
    const before = await t.rt.kafka.topicOffsets('risk.fraud-scores.v1');
    const out = await runEventline(t.env, ['risk', 'backtest', '--policy', policy, '--json']);
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout) as { payments: number; fraudulent: number; current: { actions: Record<string, number>; block: { recall: number | null } }; candidate: { actions: Record<string, number>; block: { precision: number | null; recall: number | null } } };
    assert.deepEqual([report.payments, report.fraudulent], [2, 2]);
    assert.deepEqual([report.current.actions.block, report.current.block.recall], [0, 0]);
    assert.deepEqual([report.candidate.actions.block, report.candidate.block.precision, report.candidate.block.recall], [2, 1, 1]);
    assert.deepEqual(await t.rt.kafka.topicOffsets('risk.fraud-scores.v1'), before, 'nothing appended');
    const bad = await runEventline(t.env, ['risk', 'backtest', '--policy', join(tmpdir(), 'no-such-policy.json')]);
    assert.equal(bad.code, 1);
  });

  it('given bad input, then 4xx naming each problem, and nothing appended', async () => {
    const bad = await assess({ customer_id: 'alice', amount: -1, currency: 'dollars', email: 'nope', ip: '999.1.1.1', extra: 1 });
    assert.equal(bad.status, 422);
    const detail = JSON.stringify(await bad.json());
    for (const field of ['customer_id', 'amount', 'currency', 'email', 'ip', 'extra']) assert.ok(detail.includes(field), `${field} in ${detail}`);
    assert.equal((await fetch(`${app.url}/v1/risk/assess`, { method: 'POST', body: '{}' })).status, 401);
    assert.equal((await fetch(`${app.url}/v1/risk/assess`, { method: 'POST', headers: { ...bearer(publish), 'content-type': 'application/json' }, body: '{not json' })).status, 400);
    assert.equal((await addToList({ list: 'block', kind: 'ip', value: '1.2.3.4' }, publish)).status, 403, 'lists need admin');
    const badEntry = await addToList({ list: 'gray', kind: 'card_fingerprint', value: 'x' });
    assert.equal(badEntry.status, 422);
    const badValue = await addToList({ list: 'block', kind: 'country', value: 'Narnia' });
    assert.deepEqual([badValue.status, /country: expected an ISO 3166-1 alpha-2/.test(await badValue.text())], [422, true]);
    assert.equal((await fetch(`${app.url}/v1/risk/lists/gray/ip/1.2.3.4`, { method: 'DELETE', headers: bearer(admin) })).status, 400);
    const { rows } = await t.rt.db.query("SELECT 1 FROM risk.lists WHERE value IN ('1.2.3.4', 'NARNIA', 'x')");
    assert.equal(rows.length, 0);
  });

  it('given eventline risk lists, then entries are added, shown and removed from the command line; a bad kind exits 1', async () => {
    const add = await runEventline(t.env, ['risk', 'lists', 'add', '--list', 'block', '--kind', 'email_domain', '--value', 'Fraud.Example', '--reason', 'test', '--by', 'ops']);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /added email_domain fraud\.example to the block list/);
    const show = await runEventline(t.env, ['risk', 'lists', 'show']);
    assert.match(show.stdout, /block\s+email_domain\s+fraud\.example\s+test\s+ops/);
    const blocked = await eventually(async () => {
      const a = await assessed({ customer_id: 'cus_risk5', amount: 100, currency: 'usd', email: 'someone@fraud.example' });
      return a.action === 'block' ? a : undefined;
    }, { what: 'the domain blocked' });
    assert.equal(blocked.factors[0]?.name, 'block_list');
    const bad = await runEventline(t.env, ['risk', 'lists', 'add', '--list', 'block', '--kind', 'phone', '--value', '1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--kind: one of email, email_domain/);
    const remove = await runEventline(t.env, ['risk', 'lists', 'remove', '--list', 'block', '--kind', 'email_domain', '--value', 'fraud.example']);
    assert.equal(remove.code, 0, remove.stderr);
  });
});
