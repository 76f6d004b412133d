import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stripeHistory } from '../../cli/demo/stripe-history.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { buildVersion } from '../../lib/projection.ts';
import { activeVersion, listVersions } from '../../lib/projection-versions.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { runEventline } from '../../test/support/process.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { mrrProjection } from './main.ts';

type Json = Record<string, unknown>;

/**
 * The customers a `forever_only` policy must change, read from the raw history alone: a discount
 * whose coupon is not `forever` (embedded in the discount or the subscription, or defined by a
 * coupon.* event for clover's `source.coupon` ids), on a customer whose subscription was ever
 * active or past due (a discount on a trial that never paid changes no MRR).
 */
function customersWithFiniteDiscounts(events: readonly Json[]): Set<string> {
  const couponDuration = new Map<string, unknown>();
  for (const e of events) {
    const o = (e.data as Json).object as Json;
    if (String(e.type).startsWith('coupon.')) couponDuration.set(String(o.id), o.duration);
  }
  const finite = new Set<string>();
  const paying = new Set<string>();
  for (const e of events) {
    const o = (e.data as Json).object as Json;
    const type = String(e.type);
    if (type === 'customer.discount.created') {
      const embedded = o.coupon as Json | undefined;
      const duration = embedded ? embedded.duration : couponDuration.get(String((o.source as Json | undefined)?.coupon));
      if (duration !== 'forever') finite.add(String(o.customer));
    }
    if (type.startsWith('customer.subscription.')) {
      if (o.status === 'active' || o.status === 'past_due') paying.add(String(o.customer));
      const legacy = (o.discount as Json | null | undefined)?.coupon as Json | undefined;
      if (legacy && legacy.duration !== 'forever') finite.add(String(o.customer));
    }
  }
  return new Set([...finite].filter((c) => paying.has(c)));
}

describe('MRR policy versions side by side', () => {
  let t: TestEnv;
  let events: Json[];
  let dir: string;

  before(async () => {
    t = await createTestEnv('mrrpolicy');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    events = stripeHistory({ customers: 160, seed: 23, from: Date.UTC(2025, 9, 1) / 1000, to: Date.UTC(2026, 9, 1) / 1000 }) as Json[];
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords(events, Date.UTC(2026, 9, 2)));
    await buildVersion(t.rt, mrrProjection, { maxLag: 0 });
    dir = mkdtempSync(join(tmpdir(), 'eventline-policy-'));
  });
  after(async () => {
    await t?.cleanup();
  });

  const policyFile = (name: string, content: string): string => {
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  };

  it('refuses bad policy files and --policy for a projection without settings, creating no version', async () => {
    const versions = (await listVersions(t.rt.db, 'mrr')).length;
    const bad = await runEventline(t.env, ['replay', 'mrr', '--policy', policyFile('bad.json', '{"discounts": "most", "past_due": "churn_after_days -3"}')]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /discounts must be all or forever_only, not "most"/);
    assert.match(bad.stderr, /past_due must be counts or "churn_after_days N"/);
    const notJson = await runEventline(t.env, ['replay', 'mrr', '--policy', policyFile('not.json', 'discounts: all')]);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /is not JSON/);
    const other = await runEventline(t.env, ['replay', 'delivery', '--policy', policyFile('ok.json', '{}')]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /--policy applies to one projection that takes settings \(mrr\)/);
    const compareOther = await runEventline(t.env, ['projections', 'compare', 'mrr', 'active', '99']);
    assert.equal(compareOther.code, 1);
    assert.match(compareOther.stderr, /mrr has no version 99/);
    assert.equal((await listVersions(t.rt.db, 'mrr')).length, versions);
  });

  it('a side version with forever_only differs from the live one exactly on the customers with finite discounts; activating it keeps its policy through rebuilds', async () => {
    const live = await activeVersion(t.rt.db, 'mrr');
    assert.ok(live);
    const built = await runEventline(t.env, ['replay', 'mrr', '--policy', policyFile('forever.json', '{"discounts": "forever_only"}')]);
    assert.equal(built.code, 0, built.stderr);
    const side = (await listVersions(t.rt.db, 'mrr')).find((v) => v.status === 'side');
    assert.ok(side, built.stdout);
    assert.deepEqual(side.settings, { discounts: 'forever_only', cancel_at_period_end: 'at_cancellation', past_due: 'counts' });
    assert.equal((await activeVersion(t.rt.db, 'mrr'))?.version, live.version, 'the views still read the live version');

    const compared = await runEventline(t.env, ['projections', 'compare', 'mrr', 'active', String(side.version), '--json', '--limit', '100000']);
    assert.equal(compared.code, 0, compared.stderr);
    const result = JSON.parse(compared.stdout) as { differing_customers: number; differences: { customerId: string; aCents: number; bCents: number }[]; a: { bridge: { month: string }[] }; b: { bridge: unknown[] } };
    const expected = customersWithFiniteDiscounts(events);
    assert.ok(expected.size >= 3, `the history has ${expected.size} paying customers with finite discounts`);
    assert.deepEqual(new Set(result.differences.map((d) => d.customerId)), expected);
    assert.equal(result.differing_customers, expected.size);
    assert.ok(result.differences.every((d) => d.bCents > d.aCents), 'without the finite discount, MRR is higher');
    assert.ok(result.a.bridge.length >= 12 && result.b.bridge.length >= 12);

    // The printed form: both bridges and the differences.
    const printed = await runEventline(t.env, ['projections', 'compare', 'mrr', String(live.version), String(side.version), '--limit', '3']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`${side.schema} \\(side, \\{[^}]*"discounts":"forever_only"`));
    assert.match(printed.stdout, new RegExp(`${result.differences.length} customer-months differ \\(${expected.size} customers\\); the first 3:`));

    const activated = await runEventline(t.env, ['projections', 'activate', 'mrr', String(side.version)]);
    assert.equal(activated.code, 0, activated.stderr);
    assert.equal((await activeVersion(t.rt.db, 'mrr'))?.version, side.version);
    const rebuilt = await buildVersion(t.rt, mrrProjection, { fresh: true, maxLag: 0 });
    assert.deepEqual(rebuilt.settings, side.settings, 'a rebuild takes the active version settings');
    const same = await runEventline(t.env, ['projections', 'compare', 'mrr', String(side.version), String(rebuilt.version), '--json']);
    assert.equal((JSON.parse(same.stdout) as { differing_customer_months: number }).differing_customer_months, 0);
  });
});
