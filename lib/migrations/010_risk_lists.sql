-- Allow and block lists for fraud scoring (lib/risk/lists.ts): the read model of the
-- RiskListChanged events on risk.fraud-scores.v1, read by the fraud processor and by
-- POST /v1/risk/assess (each keeps a copy, read again every few seconds).
CREATE SCHEMA IF NOT EXISTS risk;
CREATE TABLE IF NOT EXISTS risk.lists (
  list text NOT NULL CHECK (list IN ('allow', 'block')),
  kind text NOT NULL CHECK (kind IN ('email', 'email_domain', 'card_fingerprint', 'bin', 'ip', 'country', 'customer')),
  value text NOT NULL,
  reason text,
  added_by text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, value)
);
COMMENT ON TABLE risk.lists IS 'Allow and block list entries: one list per (kind, value). Changed only through eventline risk lists or /v1/risk/lists, which append a RiskListChanged.';
