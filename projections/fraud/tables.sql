-- Fraud projection tables, per version in schema {{schema}}.
CREATE TABLE {{schema}}.scores (
  event_id text PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  customer_id text NOT NULL,
  source_event_id text NOT NULL,
  source_event_type text NOT NULL,
  payment_id text,
  amount bigint,
  currency text,
  score numeric(5, 4) NOT NULL,
  action text NOT NULL,
  factors jsonb NOT NULL,
  model_version text NOT NULL
);
