-- Recurring notifications requested through the API: DELETE /v1/notifications/:id on a series id
-- cancels the whole series, whatever its first occurrence's status.
CREATE TABLE IF NOT EXISTS dispatch.series (
  series_id text PRIMARY KEY,
  user_id text NOT NULL,
  category text NOT NULL,
  every text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  cancelled_at timestamptz
);
COMMENT ON TABLE dispatch.series IS 'Recurring series requested through POST /v1/notifications (recurrence), by their first occurrence''s notification id.';
