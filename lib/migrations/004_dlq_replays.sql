-- Which dead letters have been replayed (re-appended to their original topic for their group).
-- The DLQ topics themselves are append-only; this is the ledger `eventline dlq` keeps beside them.
CREATE TABLE IF NOT EXISTS public.dlq_replays (
  dlq_topic text NOT NULL,
  dlq_partition int NOT NULL,
  dlq_offset bigint NOT NULL,
  group_name text NOT NULL,
  origin text NOT NULL,
  times int NOT NULL DEFAULT 1,
  replayed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
COMMENT ON TABLE public.dlq_replays IS 'Dead letters re-appended by `eventline dlq replay`: the DLQ record, its origin (<topic>:<partition>:<offset>), how many times and when last.';
