-- Web Push subscriptions registered per user (POST /v1/users/:userId/push-subscriptions), the
-- addresses the push channel sends to (processors/dispatch/push.ts). The id is derived from the
-- endpoint ('psub_' + the first 32 hex digits of its SHA-256), so registering the same browser again
-- finds the same row. A subscription the user deletes, or whose push service answers 404/410, is
-- deleted, not marked: an endpoint identifies a browser (personal data), kept only while it is used;
-- the removals are logged (subscription id and push service host, never the endpoint).
CREATE SCHEMA IF NOT EXISTS dispatch;

CREATE TABLE IF NOT EXISTS dispatch.push_subscriptions (
  id text PRIMARY KEY CHECK (id ~ '^psub_[0-9a-f]{32}$'),
  user_id text NOT NULL,
  endpoint text NOT NULL UNIQUE,
  p256dh text NOT NULL,
  auth text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_success_at timestamptz
);
CREATE INDEX IF NOT EXISTS push_subscriptions_user ON dispatch.push_subscriptions (user_id, created_at);
COMMENT ON TABLE dispatch.push_subscriptions IS 'Web Push subscriptions per user (endpoint and the browser''s p256dh/auth keys); deleted when the user removes one or the push service answers 404/410.';
