/**
 * The MRR projection: stripe.events.v1 → subscription versions, discounts, coupons → movements and
 * customer MRR, in a versioned schema (mrr_v<N>) behind the analytics views mrr_movements,
 * mrr_lineage, subscriptions, invoices, customer_mrr, mrr_daily, mrr_status_daily,
 * mrr_reporting_daily, mrr_monthly, cohort_retention, saas_metrics_monthly and trials_monthly.
 * Safe to replay; order-independent.
 */
import { readFileSync } from 'node:fs';
import type { VersionedProjection } from '../../lib/projection.ts';
import { parsePolicy, policyJson } from './policy.ts';
import { applyStripeEvents, deriveAll, loadStripeEvents } from './store.ts';

const template = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');
const tablesSql = template('./tables.sql');
const viewsSql = template('./views.sql');
const indexesSql = template('./indexes.sql');

export const mrrProjection: VersionedProjection<'stripe.events.v1'> = {
  name: 'mrr',
  // 2: running sums behind mrr_daily, mrr_monthly and cohort_retention (the views read them instead
  // of every movement); a running deployment rebuilds into a new version, in bulk.
  // 3: monthly sums count each kind of movement and the change of paying customers
  // (saas_metrics_monthly); status changes and their daily sums (mrr_status_daily); each movement's
  // subscriptions (mrr_lineage); each subscription and invoice as it stands (subscriptions,
  // trials_monthly, invoices); the reporting-currency series (mrr_reporting_daily, a view only).
  // 4: tiered prices whose tiers webhooks left out count with the tiers fetched from Stripe's API
  // (price_tiers, from eventline.price_fetched records); invoice lines that may be usage and the
  // customers' metered prices (usage_revenue_monthly).
  revision: 4,
  topics: ['stripe.events.v1'],
  tables: (schema) => tablesSql.replaceAll('{{schema}}', schema),
  indexes: (schema) => indexesSql.replaceAll('{{schema}}', schema),
  views: (schema) => viewsSql.replaceAll('{{schema}}', schema),
  // The MRR policy of a side version (eventline replay mrr --policy <file>).
  parseSettings: (json) => policyJson(parsePolicy(json)),
  viewNames: ['mrr_movements', 'mrr_lineage', 'subscriptions', 'trials_monthly', 'invoices', 'usage_revenue_monthly', 'customer_mrr', 'mrr_daily', 'mrr_status_daily', 'mrr_reporting_daily', 'mrr_monthly', 'cohort_retention', 'saas_metrics_monthly'],
  forSchema: (schema) => ({
    name: 'mrr',
    topics: ['stripe.events.v1'],
    async apply(client, records) {
      await applyStripeEvents(
        client,
        schema,
        records.map((r) => r.value),
        records.map((r) => ({ partition: r.partition, offset: r.offset })),
      );
    },
  }),
  bulk: (schema) => ({
    load: (client, records) =>
      loadStripeEvents(
        client,
        schema,
        records.map((r) => r.value),
        records.map((r) => ({ partition: r.partition, offset: r.offset })),
      ),
    finish: async (client, log) => {
      await deriveAll(client, schema, log);
    },
  }),
};
