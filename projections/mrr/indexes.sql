-- Secondary indexes of an MRR projection version in schema {{schema}}: created with the tables for a
-- version applied batch by batch, after the load for a bulk rebuild (lib/projection.ts BulkLoad).
-- movements and customer_mrr are replaced per customer (delete, insert), so their keys are unique
-- indexes rather than constraints: nothing upserts into them.
CREATE INDEX IF NOT EXISTS subscription_versions_customer ON {{schema}}.subscription_versions (customer_id);
CREATE INDEX IF NOT EXISTS discount_versions_customer ON {{schema}}.discount_versions (customer_id);
CREATE INDEX IF NOT EXISTS discount_versions_coupon ON {{schema}}.discount_versions (coupon_id);
CREATE UNIQUE INDEX IF NOT EXISTS movements_key ON {{schema}}.movements (customer_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS invoices_key ON {{schema}}.invoices (invoice_id);
CREATE INDEX IF NOT EXISTS invoices_customer ON {{schema}}.invoices (customer_id);
CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_key ON {{schema}}.subscriptions (subscription_id);
CREATE INDEX IF NOT EXISTS subscriptions_customer ON {{schema}}.subscriptions (customer_id);
CREATE UNIQUE INDEX IF NOT EXISTS lineage_key ON {{schema}}.lineage (customer_id, seq, subscription_id);
CREATE INDEX IF NOT EXISTS lineage_subscription ON {{schema}}.lineage (subscription_id);
CREATE UNIQUE INDEX IF NOT EXISTS status_changes_key ON {{schema}}.status_changes (customer_id, currency, seq);
CREATE INDEX IF NOT EXISTS movements_currency_time ON {{schema}}.movements (currency, occurred_at);
CREATE INDEX IF NOT EXISTS movements_customer_time ON {{schema}}.movements (customer_id, currency, occurred_at, seq);
CREATE UNIQUE INDEX IF NOT EXISTS customer_mrr_key ON {{schema}}.customer_mrr (customer_id, currency);
