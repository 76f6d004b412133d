-- Current notification preferences per user, folded from notify.preference-changes.v1.
-- The latest change by (occurred_at, event_id) wins, so arrival order and duplicates do not matter.
CREATE SCHEMA IF NOT EXISTS preferences;

CREATE TABLE IF NOT EXISTS preferences.user_preferences (
  user_id text PRIMARY KEY,
  preferences jsonb NOT NULL,
  changed_at timestamptz NOT NULL,
  event_id text NOT NULL,
  change text NOT NULL,
  actor text NOT NULL
);

-- Unsubscribe tokens are single-use: a token's nonce is recorded when it is used.
CREATE TABLE IF NOT EXISTS preferences.used_unsubscribe_tokens (
  nonce text PRIMARY KEY,
  user_id text NOT NULL,
  used_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE VIEW analytics.user_preferences AS
SELECT user_id,
       preferences ->> 'locale' AS locale,
       preferences ->> 'timezone' AS timezone,
       (preferences ->> 'unsubscribed')::boolean AS unsubscribed,
       COALESCE((preferences -> 'channels' ->> 'email')::boolean, true) AS email_enabled,
       COALESCE((preferences -> 'channels' ->> 'sms')::boolean, true) AS sms_enabled,
       COALESCE((preferences -> 'channels' ->> 'push')::boolean, false) AS push_enabled,
       COALESCE((preferences -> 'channels' ->> 'in_app')::boolean, true) AS in_app_enabled,
       preferences -> 'categories' AS categories,
       preferences -> 'quiet_hours' AS quiet_hours,
       (preferences ->> 'daily_max')::int AS daily_max,
       changed_at AS last_changed_at,
       change AS last_change
FROM preferences.user_preferences;

COMMENT ON VIEW analytics.user_preferences IS 'Current notification preferences per user (contact details left out), one row per user who ever changed them. The full history is the topic notify.preference-changes.v1.';
COMMENT ON COLUMN analytics.user_preferences.user_id IS 'Stripe customer metadata.user_id, else the Stripe customer id.';
COMMENT ON COLUMN analytics.user_preferences.locale IS 'BCP 47 locale used for templates.';
COMMENT ON COLUMN analytics.user_preferences.timezone IS 'IANA time zone for quiet hours and digests.';
COMMENT ON COLUMN analytics.user_preferences.unsubscribed IS 'Opted out of every non-essential category (security and payment still arrive).';
COMMENT ON COLUMN analytics.user_preferences.email_enabled IS 'Email channel on.';
COMMENT ON COLUMN analytics.user_preferences.sms_enabled IS 'SMS channel on.';
COMMENT ON COLUMN analytics.user_preferences.push_enabled IS 'Push channel on.';
COMMENT ON COLUMN analytics.user_preferences.in_app_enabled IS 'In-app channel on.';
COMMENT ON COLUMN analytics.user_preferences.categories IS 'Per category and channel overrides (JSON), e.g. {"marketing": {"email": false}}.';
COMMENT ON COLUMN analytics.user_preferences.quiet_hours IS 'Local quiet hours {start, end} or null.';
COMMENT ON COLUMN analytics.user_preferences.daily_max IS 'Most non-critical messages per local day, or null for no cap.';
COMMENT ON COLUMN analytics.user_preferences.last_changed_at IS 'When the latest change happened.';
COMMENT ON COLUMN analytics.user_preferences.last_change IS 'updated, unsubscribed or resubscribed.';
