-- Delivery projection tables, created per version in schema {{schema}}.

CREATE TABLE {{schema}}.notifications (
  notification_id text PRIMARY KEY,
  user_id text,
  template text,
  category text,
  priority text,
  requested_at timestamptz,
  status text,
  status_rank int NOT NULL DEFAULT -1,
  status_at timestamptz
);
CREATE INDEX ON {{schema}}.notifications (user_id);

-- One message per notification and channel: what the daily metrics count (a message opened three
-- times counts once).
CREATE TABLE {{schema}}.messages (
  notification_id text NOT NULL,
  channel text NOT NULL,
  provider text,
  provider_message_id text,
  sent_at timestamptz,
  delivered_at timestamptz,
  opened_at timestamptz,
  clicked_at timestamptz,
  bounced_at timestamptz,
  failed_at timestamptz,
  unsubscribed_at timestamptz,
  attempts int NOT NULL DEFAULT 0,
  PRIMARY KEY (notification_id, channel)
);
CREATE INDEX ON {{schema}}.messages ((COALESCE(sent_at, failed_at)));

-- Every step of every notification, once (the timeline of GET /v1/notifications/:id).
CREATE TABLE {{schema}}.steps (
  notification_id text NOT NULL,
  event_id text NOT NULL,
  step text NOT NULL,
  status text,
  rank int NOT NULL,
  at timestamptz NOT NULL,
  channel text,
  provider text,
  detail text,
  PRIMARY KEY (notification_id, event_id)
);

-- Provider message id → notification, for delivery events that do not carry the notification id.
CREATE TABLE {{schema}}.message_ids (
  provider_message_id text PRIMARY KEY,
  notification_id text NOT NULL,
  channel text NOT NULL
);

-- Delivery events whose message is not known yet (they arrived before the dispatch outcome).
CREATE TABLE {{schema}}.orphan_events (
  provider_message_id text NOT NULL,
  event_id text NOT NULL,
  event jsonb NOT NULL,
  PRIMARY KEY (provider_message_id, event_id)
);
