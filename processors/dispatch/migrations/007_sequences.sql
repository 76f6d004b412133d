-- Drip sequences requested through the API share the series table: DELETE on a sequence's id ends it.
COMMENT ON TABLE dispatch.series IS 'Recurring series (recurrence) and drip sequences (sequence) requested through POST /v1/notifications, by their first notification''s id.';
COMMENT ON COLUMN dispatch.series.every IS 'day, week or month for a recurring series; sequence for a drip sequence.';
COMMENT ON COLUMN dispatch.series.category IS 'The category a cancel is checked against: for a sequence, an essential one when any step is essential.';
