-- Users by the phone their preferences give: a STOP reply from a number finds them.
CREATE INDEX IF NOT EXISTS user_preferences_phone ON preferences.user_preferences ((preferences ->> 'phone')) WHERE preferences ->> 'phone' IS NOT NULL;
