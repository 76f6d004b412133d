-- Secondary indexes of a fraud projection version in schema {{schema}}: created with the tables for
-- a version applied batch by batch, after the load for a bulk rebuild (lib/projection.ts BulkLoad).
-- A customer's scores over time, and the newest scores first (the dashboard).
CREATE INDEX IF NOT EXISTS scores_customer ON {{schema}}.scores (customer_id, occurred_at);
CREATE INDEX IF NOT EXISTS scores_occurred ON {{schema}}.scores (occurred_at);
