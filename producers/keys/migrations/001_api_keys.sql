-- API keys for the /v1 routes and the dashboard. Only a SHA-256 of the secret is stored.
CREATE TABLE IF NOT EXISTS public.api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  secret_hash text NOT NULL,
  scopes text[] NOT NULL CHECK (scopes <@ ARRAY['publish', 'preferences', 'read', 'admin']::text[] AND cardinality(scopes) > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  last_used_at timestamptz
);
COMMENT ON TABLE public.api_keys IS 'API keys (eventline keys create|list|revoke). The secret is shown once at creation; only its SHA-256 is kept.';
