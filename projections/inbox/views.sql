-- Analytics views over inbox projection version {{schema}}. No titles, bodies or template data:
-- they are rendered from the request's data, which may hold personal data.

CREATE VIEW analytics.inbox_items AS
SELECT notification_id::text AS notification_id, user_id, template, category, locale, created_at, seen_at, read_at, archived_at
FROM {{schema}}.items;
COMMENT ON VIEW analytics.inbox_items IS 'One row per in-app inbox item (a notification sent on the in_app channel) with its state: seen, read, archived.';
COMMENT ON COLUMN analytics.inbox_items.notification_id IS 'Eventline notification id (ntf_...).';
COMMENT ON COLUMN analytics.inbox_items.user_id IS 'Recipient user id.';
COMMENT ON COLUMN analytics.inbox_items.template IS 'Template, e.g. payment_failed.';
COMMENT ON COLUMN analytics.inbox_items.category IS 'Notification category.';
COMMENT ON COLUMN analytics.inbox_items.locale IS 'Locale the dispatcher chose for it.';
COMMENT ON COLUMN analytics.inbox_items.created_at IS 'When it was sent to the inbox (its in_app sent outcome).';
COMMENT ON COLUMN analytics.inbox_items.seen_at IS 'When the user first saw it (seen, or read, which implies seen); null while unseen.';
COMMENT ON COLUMN analytics.inbox_items.read_at IS 'When it was read: the first read since the latest unread; null while unread.';
COMMENT ON COLUMN analytics.inbox_items.archived_at IS 'When it was first archived; null while in the feed.';
