-- Versions of each projection's tables. Each version lives in its own schema (<name>_v<N>); the
-- analytics views point at the active one. A rebuild fills a new version while the active one keeps
-- serving, then the views are switched in one transaction (blue/green).
CREATE TABLE IF NOT EXISTS public.projection_versions (
  projection text NOT NULL,
  version int NOT NULL,
  schema_name text NOT NULL UNIQUE,
  revision int NOT NULL,
  status text NOT NULL CHECK (status IN ('building', 'active', 'retired', 'snapshot')),
  until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz,
  PRIMARY KEY (projection, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS projection_versions_one_active ON public.projection_versions (projection) WHERE status = 'active';
COMMENT ON TABLE public.projection_versions IS 'Versions of each projection (schema <name>_v<N>); exactly one is active and backs the analytics views.';
