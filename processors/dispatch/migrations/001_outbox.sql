-- The local outbox: where email and SMS go when no provider credentials are configured (the
-- embedded default), one row per message, exactly once per idempotency key.
CREATE SCHEMA IF NOT EXISTS dispatch;

CREATE TABLE IF NOT EXISTS dispatch.outbox (
  id bigserial PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  notification_id text NOT NULL,
  channel text NOT NULL CHECK (channel IN ('email', 'sms')),
  recipient text NOT NULL,
  subject text,
  body_text text NOT NULL,
  body_html text,
  headers jsonb NOT NULL DEFAULT '{}',
  message_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS outbox_created ON dispatch.outbox (created_at DESC);
CREATE INDEX IF NOT EXISTS outbox_notification ON dispatch.outbox (notification_id);
COMMENT ON TABLE dispatch.outbox IS 'Messages "sent" to the local outbox instead of SendGrid/Twilio (no credentials configured).';
