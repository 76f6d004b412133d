-- A preference change may now also be a contact confirmation (the user followed the link sent to a
-- new email or phone).
COMMENT ON COLUMN analytics.user_preferences.last_change IS 'updated, unsubscribed, resubscribed or contact_confirmed.';
