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

-- Running sums behind analytics.delivery_metrics_daily: per UTC day a message was sent (or failed
-- to send), channel, category and template, how many messages and how many of them reached each
-- fact. A batch subtracts what its notifications' messages counted before and adds what they count
-- after (a later callback, or a request that names the template after its messages), in the same
-- transaction.
CREATE TABLE {{schema}}.daily_metrics (
  day date NOT NULL,
  channel text NOT NULL,
  category text NOT NULL,
  template text NOT NULL,
  messages int NOT NULL,
  sent int NOT NULL,
  delivered int NOT NULL,
  opened int NOT NULL,
  clicked int NOT NULL,
  bounced int NOT NULL,
  failed int NOT NULL,
  unsubscribed int NOT NULL,
  PRIMARY KEY (day, channel, category, template)
);

-- Where each sent message went, what it cost and what was sent, from its `sent` outcome (one per
-- notification and channel): behind analytics.messaging_costs, analytics.provider_health and
-- analytics.template_experiments (the template version, and the experiment and variant the user was
-- assigned, when the version has variants).
CREATE TABLE {{schema}}.sends (
  notification_id text NOT NULL,
  channel text NOT NULL,
  provider text,
  country text,
  price_micros bigint,
  price_currency text,
  route_reason text,
  sent_at timestamptz NOT NULL,
  template_version int,
  experiment text,
  variant text,
  PRIMARY KEY (notification_id, channel)
);
