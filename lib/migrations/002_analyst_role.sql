-- Analysts connect as eventline_analyst: they can read the analytics schema and nothing else.
-- (Roles are per cluster; the grants below are per database.) `eventline setup` sets its password
-- from EVENTLINE_ANALYST_PASSWORD when given.
DO $$
BEGIN
  CREATE ROLE eventline_analyst LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

GRANT USAGE ON SCHEMA analytics TO eventline_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO eventline_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO eventline_analyst;
