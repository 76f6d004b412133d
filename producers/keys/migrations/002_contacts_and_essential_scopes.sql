-- Two more key scopes: `contacts` (change a user's email and phone) and `essential` (request
-- notifications of the essential categories, security and payment). Same list as lib/http/auth.ts.
ALTER TABLE public.api_keys DROP CONSTRAINT IF EXISTS api_keys_scopes_check;
ALTER TABLE public.api_keys ADD CONSTRAINT api_keys_scopes_check
  CHECK (scopes <@ ARRAY['publish', 'preferences', 'read', 'admin', 'contacts', 'essential']::text[] AND cardinality(scopes) > 0);
