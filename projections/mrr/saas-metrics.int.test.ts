/**
 * analytics.saas_metrics_monthly, formula by formula, over monthly sums written by hand (one
 * currency per case): rounding once, half away from zero (where half to even would differ), the
 * denominators that are 0, negative net churn. The view is the deployed one, made in a schema of
 * its own over a fresh version's tables.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { mrrProjection } from './main.ts';

type Kinds = { n?: number; e?: number; c?: number; x?: number; r?: number };

describe('saas_metrics_monthly: each formula on months computed by hand', () => {
  let t: TestEnv;
  const schema = 'saas_cases';
  const views = `${schema}_views`;

  before(async () => {
    t = await createTestEnv('saas');
    await t.rt.db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; DROP SCHEMA IF EXISTS ${views} CASCADE; CREATE SCHEMA ${views}`);
    await t.rt.db.query(mrrProjection.tables(schema));
    const ddl = mrrProjection.views(schema).split(';').find((stmt) => stmt.includes('CREATE VIEW analytics.saas_metrics_monthly AS')) ?? '';
    await t.rt.db.query(ddl.replace('analytics.saas_metrics_monthly', `${views}.saas_metrics_monthly`));

    // One month's sums: cents and movement counts per kind, and the change of paying customers.
    const month = async (currency: string, first: string, cents: Kinds, counts: Kinds, deltaCustomers: number) => {
      const k = (o: Kinds) => [o.n ?? 0, o.e ?? 0, o.c ?? 0, o.x ?? 0, o.r ?? 0];
      const movements = k(counts).reduce((a, b) => a + b, 0);
      await t.rt.db.query(
        `INSERT INTO ${schema}.monthly_sums (currency, month, movements, new_cents, expansion_cents, contraction_cents, churn_cents, reactivation_cents,
           new_count, expansion_count, contraction_count, churn_count, reactivation_count, delta_customers)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [currency, first, movements, ...k(cents), ...k(counts), deltaCustomers],
      );
    };
    // aaa: 1 cent of new against 20,000 of churn: quick ratio 0.00005 → 0.0001 (half to even: 0.0000).
    await month('aaa', '2026-01-01', { n: 20000 }, { n: 1 }, 1);
    await month('aaa', '2026-02-01', { n: 1, x: -20000 }, { n: 1, x: 1 }, 0);
    // bbb: one customer of 10 churns, two new ones bring 2 + 3: ARPA 5 / 2 = 2.5 → 3, LTV 5 × 1 / (2 × 1) = 2.5 → 3 (half to even: 2).
    await month('bbb', '2026-01-01', { n: 10 }, { n: 1 }, 1);
    await month('bbb', '2026-02-01', { n: 5, x: -10 }, { n: 2, x: 1 }, 1);
    // ccc: expansion beyond contraction: net churn (100 − 600) / 2000 = −0.25, NRR 1.25.
    await month('ccc', '2026-01-01', { n: 2000 }, { n: 2 }, 2);
    await month('ccc', '2026-02-01', { e: 600, c: -100 }, { e: 1, c: 1 }, 0);
    // ddd: 1 cent of expansion on 20,000: net churn −0.00005 → −0.0001, NRR 1.00005 → 1.0001 (half to even: −0.0000, 1.0000).
    await month('ddd', '2026-01-01', { n: 20000 }, { n: 1 }, 1);
    await month('ddd', '2026-02-01', { e: 1 }, { e: 1 }, 0);
    // eee: the only customer churns: no customers at the end, so no ARPA and no LTV.
    await month('eee', '2026-01-01', { n: 500 }, { n: 1 }, 1);
    await month('eee', '2026-02-01', { x: -500 }, { x: 1 }, -1);
  });
  after(() => t?.cleanup());

  const february = async (currency: string) =>
    (
      await t.rt.db.query(
        `SELECT opening_mrr_cents, closing_mrr_cents, arr_cents, net_new_mrr_cents, customers_opening, customers_closing, new_customers, churned_customers, reactivated_customers,
                quick_ratio::text, gross_mrr_churn_rate::text, net_mrr_churn_rate::text, grr::text, nrr::text, logo_churn_rate::text, arpa_cents, ltv_cents
         FROM ${views}.saas_metrics_monthly WHERE currency = $1 AND month = '2026-02-01'`,
        [currency],
      )
    ).rows[0];

  it('rounds each ratio once, half away from zero, to 4 decimals', async () => {
    const aaa = await february('aaa');
    assert.deepEqual([aaa?.opening_mrr_cents, aaa?.closing_mrr_cents, aaa?.net_new_mrr_cents, aaa?.quick_ratio, aaa?.gross_mrr_churn_rate, aaa?.grr], [20000, 1, -19999, '0.0001', '1.0000', '0.0000']);
    const ddd = await february('ddd');
    assert.deepEqual([ddd?.quick_ratio, ddd?.gross_mrr_churn_rate, ddd?.net_mrr_churn_rate, ddd?.grr, ddd?.nrr], [null, '0.0000', '-0.0001', '1.0000', '1.0001']);
  });

  it('rounds ARPA and LTV once to the whole cent, half away from zero', async () => {
    const bbb = await february('bbb');
    assert.deepEqual(
      [bbb?.closing_mrr_cents, bbb?.arr_cents, bbb?.customers_opening, bbb?.customers_closing, bbb?.new_customers, bbb?.churned_customers, bbb?.logo_churn_rate, bbb?.arpa_cents, bbb?.ltv_cents],
      [5, 60, 1, 2, 2, 1, '1.0000', 3, 3],
    );
    assert.deepEqual([bbb?.quick_ratio, bbb?.gross_mrr_churn_rate, bbb?.net_mrr_churn_rate, bbb?.nrr], ['0.5000', '1.0000', '1.0000', '0.0000']);
  });

  it('gives a negative net MRR churn and NRR above 1 when expansion outweighs contraction', async () => {
    const ccc = await february('ccc');
    assert.deepEqual([ccc?.quick_ratio, ccc?.gross_mrr_churn_rate, ccc?.net_mrr_churn_rate, ccc?.grr, ccc?.nrr, ccc?.logo_churn_rate, ccc?.arpa_cents, ccc?.ltv_cents], ['6.0000', '0.0500', '-0.2500', '0.9500', '1.2500', '0.0000', 1250, null]);
  });

  it('is NULL where a denominator is 0: no opening MRR, no contraction or churn, no customers', async () => {
    const january = (await t.rt.db.query(`SELECT currency, quick_ratio, gross_mrr_churn_rate, net_mrr_churn_rate, grr, nrr, logo_churn_rate, ltv_cents FROM ${views}.saas_metrics_monthly WHERE month = '2026-01-01' ORDER BY currency`)).rows;
    assert.deepEqual(january.map((r) => Object.values(r).slice(1)), Array.from({ length: 5 }, () => [null, null, null, null, null, null, null]));
    const eee = await february('eee');
    assert.deepEqual([eee?.closing_mrr_cents, eee?.customers_closing, eee?.quick_ratio, eee?.logo_churn_rate, eee?.arpa_cents, eee?.ltv_cents], [0, 0, '0.0000', '1.0000', null, null]);
  });
});
