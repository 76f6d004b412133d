import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Incoming } from '../../lib/kafka/index.ts';
import { ensureActive } from '../../lib/projection-versions.ts';
import type { DeliveryEventReceived, DeliveryKind, NotificationDispatched, NotificationRequested } from '../../lib/topics.ts';
import { applyInBatches } from '../../test/support/batches.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { deliveryProjection } from './main.ts';
import { applyNotificationRecords, type DeliveryTopic } from './store.ts';

const day = Date.UTC(2026, 10, 12, 9, 0, 0);
const min = 60_000;

/**
 * One variant's messages, built by hand: `sent` messages, the first `delivered` of them reported
 * delivered, the first `opened` opened and the first `clicked` clicked (opened ⊆ delivered, clicked
 * ⊆ delivered). The first `engagedOnly` of them have no delivered callback (lost) but are opened and
 * clicked: the view counts them delivered all the same.
 */
interface Arm {
  readonly experiment: string | null;
  readonly template: string;
  readonly variant: string | null;
  readonly sent: number;
  readonly delivered: number;
  readonly opened: number;
  readonly clicked: number;
  readonly engagedOnly?: number;
}

function records(arm: Arm): Incoming<DeliveryTopic>[] {
  const out: Incoming<DeliveryTopic>[] = [];
  const as = <R extends Incoming<DeliveryTopic>['record']>(record: R, value: unknown) => ({ record, value }) as unknown as Incoming<DeliveryTopic>;
  for (let i = 0; i < arm.sent; i++) {
    const id = `ntf_${arm.experiment ?? 'none'}_${arm.variant ?? 'none'}_${i}`;
    const user = `user_${arm.variant ?? 'none'}_${i}`;
    const request: NotificationRequested = {
      event_id: `req:${id}`, occurred_at: day, received_at: day, notification_id: id, user_id: user, template: arm.template, category: 'billing', priority: 'NORMAL',
      channel: null, data: '{}', idempotency_key: null, requested_by: 'test', source_event_id: null, send_at: null, escalation: null, recurrence: null, sequence: null, avoid_channels: [],
    };
    const sent: NotificationDispatched = {
      event_id: `${id}:sent:email:1`, occurred_at: day + min, received_at: day + min, notification_id: id, user_id: user, template: arm.template, category: 'billing',
      priority: 'NORMAL', channel: 'email', status: 'sent', reason: null, provider: 'sendgrid', provider_message_id: `SG-${id}`, attempt: 1,
      deferred_until: null, locale: 'en-US', digest_id: null, request_event_id: `req:${id}`, seq: 1, fallback: [], due_at: null, digest_date: null, cap_date: null,
      destination_country: null, price_micros: null, price_currency: null, route_reason: null,
      template_version: 3, experiment: arm.experiment, variant: arm.variant,
    };
    out.push(as('NotificationRequested', request), as('NotificationDispatched', sent));
    const event = (kind: DeliveryKind, at: number) => {
      const e: DeliveryEventReceived = {
        event_id: `${id}:${kind}`, occurred_at: at, received_at: at, provider: 'sendgrid', channel: 'email', notification_id: id, provider_message_id: null, kind,
        provider_event: kind, recipient: null, reason: null, error_code: null, bounce_type: null, url: kind === 'clicked' ? 'https://app.example.com/billing' : null, user_id: null, raw: '{}',
      };
      out.push(as('DeliveryEventReceived', e));
    };
    const engagedOnly = i < (arm.engagedOnly ?? 0);
    if (i < arm.delivered && !engagedOnly) event('delivered', day + 2 * min);
    if (i >= arm.delivered) event('bounced', day + 2 * min);
    if (i < arm.opened) event('opened', day + 30 * min);
    if (i < arm.clicked) event('clicked', day + 31 * min);
  }
  return out;
}

// Standard normal CDF for the expected figures, independent of analytics.normal_cdf (a Chebyshev
// fit): Φ(z) = (1 + erf(z/√2))/2 for z ≤ 0 as erfc(|z|/√2)/2, with erf by its Taylor series
// erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)) (x < 3, exact to ~1e-15) and erfc by its
// continued fraction beyond.
function erfc(x: number): number {
  if (x < 3) {
    let sum = 0;
    let term = x;
    for (let n = 0; n < 200 && Math.abs(term) > 1e-18; n++) {
      sum += term / (2 * n + 1);
      term *= (-x * x) / (n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = x;
  let c = x;
  let d = 0;
  for (let i = 1; i < 300; i++) {
    d = 1 / (x + (i / 2) * d);
    c = x + i / 2 / c;
    f *= c * d;
    if (Math.abs(c * d - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** The two-sided pooled two-proportion z-test, written out: c clicks of n delivered, against the control's c0 of n0. */
function twoProportionP(c: number, n: number, c0: number, n0: number): number {
  const pooled = (c + c0) / (n + n0);
  const z = (c / n - c0 / n0) / Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n0));
  return erfc(Math.abs(z) / Math.SQRT2); // = 2Φ(−|z|)
}
const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

interface Row {
  experiment: string;
  template: string;
  variant: string;
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  open_rate: number | null;
  click_rate: number | null;
  click_lift_vs_control: number | null;
  p_value: number | null;
  winner: boolean;
}

describe('analytics.template_experiments', () => {
  let t: TestEnv;
  let rows: Row[];
  const arms: Arm[] = [
    // exp_subject on trial_ending: every variant ≥ 100 delivered. 10 of control's and 5 of short's
    // 210/205 messages bounce; one of short's 40 clicks lost its delivered callback.
    { experiment: 'exp_subject', template: 'trial_ending', variant: 'control', sent: 210, delivered: 200, opened: 80, clicked: 20 },
    { experiment: 'exp_subject', template: 'trial_ending', variant: 'short', sent: 205, delivered: 200, opened: 90, clicked: 40, engagedOnly: 1 },
    { experiment: 'exp_subject', template: 'trial_ending', variant: 'long', sent: 125, delivered: 120, opened: 40, clicked: 15 },
    // exp_cta on payment_failed: no variant named control (a is, first by name), 60 delivered each.
    { experiment: 'exp_cta', template: 'payment_failed', variant: 'b', sent: 60, delivered: 60, opened: 30, clicked: 18 },
    { experiment: 'exp_cta', template: 'payment_failed', variant: 'a', sent: 60, delivered: 60, opened: 25, clicked: 3 },
    // exp_tone on receipt: the only other variant is significantly worse, so the control wins.
    { experiment: 'exp_tone', template: 'receipt', variant: 'control', sent: 150, delivered: 150, opened: 100, clicked: 45 },
    { experiment: 'exp_tone', template: 'receipt', variant: 'casual', sent: 150, delivered: 150, opened: 90, clicked: 15 },
    // Outside any experiment: not in the view.
    { experiment: null, template: 'receipt', variant: null, sent: 30, delivered: 30, opened: 10, clicked: 5 },
  ];

  before(async () => {
    t = await createTestEnv('experiments');
    const version = await ensureActive(t.rt.db, deliveryProjection);
    // Every event once, in an order that puts callbacks before their outcomes, by two writers.
    const all = arms.flatMap(records).reverse();
    await applyInBatches(all, 400, (batch) => t.rt.db.transaction((c) => applyNotificationRecords(c, version.schema, batch)));
    rows = (
      await t.rt.db.query<Row>(
        `SELECT experiment, template, variant, sent::int, delivered::int, opened::int, clicked::int, open_rate::float8, click_rate::float8,
                click_lift_vs_control::float8, p_value, winner
         FROM analytics.template_experiments ORDER BY experiment, template, variant`,
      )
    ).rows;
  });
  after(() => t?.cleanup());

  const row = (experiment: string, variant: string) => {
    const r = rows.find((x) => x.experiment === experiment && x.variant === variant);
    assert.ok(r, `${experiment}/${variant} is in the view`);
    return r;
  };
  const near = (actual: number | null, expected: number, what: string, relative = 1e-9) =>
    assert.ok(actual !== null && Math.abs(actual - expected) <= relative * Math.abs(expected), `${what}: ${actual} ≠ ${expected}`);

  it('given sent outcomes with an experiment, then one row per experiment, template and variant with unique messages counted', () => {
    assert.deepEqual(
      rows.map((r) => [r.experiment, r.template, r.variant, r.sent, r.delivered, r.opened, r.clicked]),
      [
        ['exp_cta', 'payment_failed', 'a', 60, 60, 25, 3],
        ['exp_cta', 'payment_failed', 'b', 60, 60, 30, 18],
        ['exp_subject', 'trial_ending', 'control', 210, 200, 80, 20],
        ['exp_subject', 'trial_ending', 'long', 125, 120, 40, 15],
        // 199 delivered callbacks + 1 message clicked whose callback was lost
        ['exp_subject', 'trial_ending', 'short', 205, 200, 90, 40],
        ['exp_tone', 'receipt', 'casual', 150, 150, 90, 15],
        ['exp_tone', 'receipt', 'control', 150, 150, 100, 45],
      ],
    );
  });

  it('given ≥ 100 delivered per variant and p < 0.05, then rates, lift and p-values are the written-out formulas and the best significant variant wins', () => {
    const control = row('exp_subject', 'control');
    const short = row('exp_subject', 'short');
    const long = row('exp_subject', 'long');
    // Rates per delivered message, 4 decimals.
    assert.equal(control.open_rate, round4(80 / 200));
    assert.equal(control.click_rate, round4(20 / 200));
    assert.equal(short.open_rate, round4(90 / 200));
    assert.equal(short.click_rate, round4(40 / 200));
    assert.equal(long.click_rate, round4(15 / 120));
    // Lift = (c/n) / (c0/n0) − 1: short 0.2/0.1 − 1 = 1; long 0.125/0.1 − 1 = 0.25.
    assert.equal(short.click_lift_vs_control, round4(40 / 200 / (20 / 200) - 1));
    assert.equal(long.click_lift_vs_control, round4(15 / 120 / (20 / 200) - 1));
    assert.equal(control.click_lift_vs_control, null);
    // short: pooled = 60/400 = 0.15, z = 0.1 / √(0.15 · 0.85 · (1/200 + 1/200)) ≈ 2.8006, p ≈ 0.0051.
    const pShort = twoProportionP(40, 200, 20, 200);
    assert.ok(pShort < 0.05 && pShort > 0.004, `${pShort}`);
    near(short.p_value, pShort, 'p short', 1e-6);
    // long: pooled = 35/320, z = 0.025 / √(p(1 − p)(1/120 + 1/200)) ≈ 0.70: not significant.
    const pLong = twoProportionP(15, 120, 20, 200);
    assert.ok(pLong > 0.05, `${pLong}`);
    near(long.p_value, pLong, 'p long', 1e-6);
    assert.equal(control.p_value, null);
    assert.deepEqual([control.winner, long.winner, short.winner], [false, false, true]);
  });

  it('given fewer than 100 delivered per variant, then no winner though p is small; without a variant named control the first by name is the control', () => {
    const a = row('exp_cta', 'a');
    const b = row('exp_cta', 'b');
    // b against a: pooled = 21/120 = 0.175, z = 0.25 / √(0.175 · 0.825 · (2/60)) ≈ 3.60, p ≈ 0.0003.
    const p = twoProportionP(18, 60, 3, 60);
    assert.ok(p < 0.001, `${p}`);
    near(b.p_value, p, 'p b', 1e-6);
    assert.equal(a.p_value, null);
    assert.equal(a.click_lift_vs_control, null);
    assert.equal(b.click_lift_vs_control, round4(18 / 60 / (3 / 60) - 1));
    assert.deepEqual([a.winner, b.winner], [false, false]);
  });

  it('given every other variant significantly worse with ≥ 100 delivered, then the control wins', () => {
    const control = row('exp_tone', 'control');
    const casual = row('exp_tone', 'casual');
    // pooled = 60/300 = 0.2, z = −0.2 / √(0.2 · 0.8 · (2/150)) ≈ −4.33, p ≈ 1.5e-5.
    const p = twoProportionP(15, 150, 45, 150);
    assert.ok(p < 1e-4, `${p}`);
    near(casual.p_value, p, 'p casual', 1e-6);
    assert.equal(casual.click_lift_vs_control, round4(15 / 150 / (45 / 150) - 1));
    assert.deepEqual([control.winner, casual.winner], [true, false]);
  });

  it('given the analyst role, then it reads the view and calls analytics.normal_cdf', async () => {
    const url = new URL(t.config.database.url);
    url.username = 'eventline_analyst';
    const analyst = new pg.Client({ connectionString: url.toString() });
    await analyst.connect();
    try {
      const res = await analyst.query<{ n: string; phi: number; tail: number; far: number }>(
        `SELECT (SELECT count(*) FROM analytics.template_experiments) AS n, analytics.normal_cdf(1.96) AS phi,
                analytics.normal_cdf(-5) AS tail, analytics.normal_cdf(-40) AS far`,
      );
      const r = res.rows[0];
      assert.equal(Number(r?.n), 7);
      // Φ(1.96) = 1 − erfc(1.96/√2)/2; Φ(−5) ≈ 2.8665e-7, to 1.2e-7 of itself.
      near(r?.phi ?? null, 1 - erfc(1.96 / Math.SQRT2) / 2, 'Φ(1.96)', 1e-7);
      near(r?.tail ?? null, erfc(5 / Math.SQRT2) / 2, 'Φ(−5)', 1.2e-7);
      assert.equal(r?.far, 0);
    } finally {
      await analyst.end();
    }
  });

  it('given the notifications view, then each notification shows the template version, experiment and variant it was sent with', async () => {
    const res = await t.rt.db.query<{ template_version: number | null; experiment: string | null; variant: string | null }>(
      `SELECT template_version, experiment, variant FROM analytics.notifications WHERE notification_id IN ('ntf_exp_cta_b_0', 'ntf_none_none_0') ORDER BY notification_id`,
    );
    assert.deepEqual(res.rows, [
      { template_version: 3, experiment: 'exp_cta', variant: 'b' },
      { template_version: 3, experiment: null, variant: null },
    ]);
  });
});
