-- A version rebuilt with a bulk load is first 'loading': its fact tables are filled without the
-- derived rows or the secondary indexes, then one finishing step builds the indexes and derives
-- every read-model row once, and the version becomes 'live' (incremental, batch by batch). The
-- phase lives here so that a killed rebuild resumes where it was.
ALTER TABLE public.projection_versions ADD COLUMN IF NOT EXISTS phase text NOT NULL DEFAULT 'live';
ALTER TABLE public.projection_versions DROP CONSTRAINT IF EXISTS projection_versions_phase_check;
ALTER TABLE public.projection_versions ADD CONSTRAINT projection_versions_phase_check CHECK (phase IN ('loading', 'live'));
COMMENT ON COLUMN public.projection_versions.phase IS 'loading: a bulk rebuild is filling the fact tables (no derived rows, no secondary indexes yet); live: applied batch by batch.';
