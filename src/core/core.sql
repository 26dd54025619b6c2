-- core: the schema's roles and the privileges every component builds on.

COMMENT ON SCHEMA attribution IS 'pg_attribution: landings, identities, billing ledger, attribution models and conversion delivery';

-- Three roles, created once per cluster (roles are not extension members):
--   attribution_app      the application: capture and ingest calls, nothing else
--   attribution_analyst  reads the views
--   attribution_admin    configures rules, destinations, credentials, schedules
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['attribution_app', 'attribution_analyst', 'attribution_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;

REVOKE ALL ON SCHEMA attribution FROM PUBLIC;
GRANT USAGE ON SCHEMA attribution TO attribution_app, attribution_analyst, attribution_admin;
