-- The SMS price table in force, installed by `eventline providers prices <file>`: running
-- dispatchers read it within a minute. Without a row they use the table shipped with Eventline
-- (processors/dispatch/prices/sms.json).
CREATE TABLE IF NOT EXISTS dispatch.price_tables (
  channel text PRIMARY KEY CHECK (channel IN ('sms', 'email')),
  prices jsonb NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT now(),
  installed_from text
);
COMMENT ON TABLE dispatch.price_tables IS 'Provider prices per destination country in force (one table per channel); see processors/dispatch/routing.ts.';
