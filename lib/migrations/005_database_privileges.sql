-- PostgreSQL lets PUBLIC (every role of the cluster) connect to a new database and create
-- temporary tables in it. Here only the owner (the role Eventline runs as) and the analyst role
-- connect, and only the owner needs temporary tables. Superusers are not subject to these
-- privileges, and the grants are on this database only: other databases of the cluster keep theirs.
DO $$
DECLARE
  db text := current_database();
  owner_role text := (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database());
BEGIN
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', db, owner_role);
  -- The role running the migrations, if it is not the owner, keeps what it could do through PUBLIC.
  IF current_user <> owner_role THEN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', db, current_user);
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO eventline_analyst', db);
  EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', db);
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM eventline_analyst', db);
END $$;
