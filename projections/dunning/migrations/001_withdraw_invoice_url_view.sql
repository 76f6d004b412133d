-- analytics.dunning_cases of revision 1 shows hosted_invoice_url, a bearer link that pays or shows
-- the invoice. Revision 2 leaves it out, but a view changes only when a new version of the
-- projection is activated (lib/projection-versions.ts), after a rebuild. Until then analysts may
-- not read the old view; the activation creates the new one and grants it to them again.
DO $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM information_schema.columns
    WHERE table_schema = 'analytics' AND table_name = 'dunning_cases' AND column_name = 'hosted_invoice_url'
  ) THEN
    REVOKE ALL ON analytics.dunning_cases FROM eventline_analyst;
  END IF;
END $$;
