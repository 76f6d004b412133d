-- Inbox projection tables, created per version in schema {{schema}}. Ids compare bytewise
-- (COLLATE "C"): the feed's keyset order and JavaScript's agree.

-- The request of every notification, whatever its channels (whether it goes in-app is known only
-- from its outcome): what an item's title and body are rendered from. One request per notification
-- id; should two records name one, the smaller event id is kept (order-independent).
CREATE TABLE {{schema}}.requests (
  notification_id text COLLATE "C" PRIMARY KEY,
  user_id text NOT NULL,
  template text NOT NULL,
  category text NOT NULL,
  data text NOT NULL,
  requested_at timestamptz NOT NULL,
  event_id text COLLATE "C" NOT NULL
);

-- One in-app item per notification whose in_app channel was sent: the earliest `sent` outcome
-- (occurred_at, then event id) names its user, template, category, locale and created_at. The
-- item states are folded from item_events (evolve.ts) whenever either changes.
CREATE TABLE {{schema}}.items (
  notification_id text COLLATE "C" PRIMARY KEY,
  user_id text NOT NULL,
  template text NOT NULL,
  category text NOT NULL,
  locale text,
  created_at timestamptz NOT NULL,
  sent_event_id text COLLATE "C" NOT NULL,
  seen_at timestamptz,
  read_at timestamptz,
  archived_at timestamptz
);

-- Every in-app state change (notify.delivery-events.v1, channel in_app), once per event id; kept
-- for notifications with no item yet too, so an item that arrives later starts in its state.
CREATE TABLE {{schema}}.item_events (
  notification_id text COLLATE "C" NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (notification_id, event_id)
);
