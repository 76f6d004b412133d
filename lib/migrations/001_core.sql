-- Core tables shared by every component.

-- Read models for analysts live in (or are exposed through views in) this schema.
CREATE SCHEMA IF NOT EXISTS analytics;
COMMENT ON SCHEMA analytics IS 'Eventline read models for analysts: views over the projections. Money in integer minor units, currency lowercase ISO 4217.';

-- Consumer offsets of each projection, written in the same transaction as its rows (exactly-once effect).
CREATE TABLE IF NOT EXISTS public.projection_checkpoints (
  projection text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  next_offset bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition)
);
COMMENT ON TABLE public.projection_checkpoints IS 'Next Kafka offset to apply per projection and partition; advanced in the same transaction as the projection''s rows.';
