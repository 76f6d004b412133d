-- Settings a version of a projection was built with (for MRR, its policy: docs/analytics.md "MRR
-- policy settings"); NULL is the projection's default. A version keeps its settings for good; a
-- rebuild of the active version (a new revision) takes the active version's settings.
-- A 'side' version is built next to the active one with other settings, to be compared with it
-- (`eventline projections compare`) and perhaps activated; it is never continued by a rebuild.
ALTER TABLE public.projection_versions ADD COLUMN IF NOT EXISTS settings jsonb;
ALTER TABLE public.projection_versions DROP CONSTRAINT IF EXISTS projection_versions_status_check;
ALTER TABLE public.projection_versions ADD CONSTRAINT projection_versions_status_check CHECK (status IN ('building', 'active', 'retired', 'snapshot', 'side'));
COMMENT ON COLUMN public.projection_versions.settings IS 'The settings this version computes with (MRR: its policy); NULL: the default.';
