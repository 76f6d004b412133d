-- Secondary indexes of a delivery projection version in schema {{schema}}: created with the tables
-- for a version applied batch by batch, after the load for a bulk rebuild (lib/projection.ts
-- BulkLoad). Notifications by user: the API's and the preference centre's lookups.
CREATE INDEX IF NOT EXISTS notifications_user ON {{schema}}.notifications (user_id);
-- Newest first: the dashboard's latest notifications (ORDER BY requested_at DESC NULLS LAST LIMIT n).
CREATE INDEX IF NOT EXISTS notifications_requested ON {{schema}}.notifications (requested_at DESC NULLS LAST);
-- The costs and provider health views group by the day sent.
CREATE INDEX IF NOT EXISTS sends_sent ON {{schema}}.sends (sent_at);
