-- Secondary indexes of an inbox projection version in schema {{schema}}. A user's feed, newest
-- first, paged by keyset (created_at, notification_id): GET /v1/users/:userId/inbox.
CREATE INDEX IF NOT EXISTS items_feed ON {{schema}}.items (user_id, created_at DESC, notification_id DESC);
