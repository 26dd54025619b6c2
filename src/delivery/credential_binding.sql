-- delivery/credential_binding: a stored token goes only to the host it was
-- stored for.  attribution_admin may change a destination's endpoint (tests
-- and proxies need it) but may never read a token; were the token kept, an
-- administrator could point the endpoint at a host of its own and have the
-- worker send the Bearer token there.  So a change of the endpoint's origin
-- (scheme, user part, host and port) or of the platform drops every stored
-- credential of the destination: the owner of the new host must store the
-- tokens again with set_credential.  A change of path on the same origin
-- keeps them.

-- The origin of an endpoint URL, lower-cased: what a token is bound to.
CREATE FUNCTION attribution._endpoint_origin(endpoint text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN lower(substring(endpoint FROM '^[[:space:]]*([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)'));
COMMENT ON FUNCTION attribution._endpoint_origin(text) IS 'scheme://authority of an endpoint, lower-cased: the part of the URL a stored token is bound to';
-- the trigger's condition is evaluated as the administrator who updates
GRANT EXECUTE ON FUNCTION attribution._endpoint_origin(text) TO attribution_admin;

-- SECURITY DEFINER: the administrator who changes the endpoint may not
-- touch attribution.credentials itself.
CREATE FUNCTION attribution._destinations_unbind_credentials()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dropped int;
BEGIN
    DELETE FROM attribution.credentials c WHERE c.destination_id = OLD.id;
    GET DIAGNOSTICS dropped = ROW_COUNT;
    NEW.credential_id := NULL;
    IF dropped > 0 THEN
        RAISE NOTICE 'the % stored credential(s) of destination "%" were removed', dropped, NEW.name
            USING DETAIL = 'A token is only sent to the endpoint host and platform it was stored for.',
                  HINT = pg_catalog.format('Store the tokens again with attribution.set_credential(%L, ...).', NEW.name);
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION attribution._destinations_unbind_credentials() IS 'Trigger: drop the stored tokens of a destination whose endpoint origin or platform changes, so that no token reaches a host it was not stored for';

CREATE TRIGGER destinations_unbind_credentials
    BEFORE UPDATE OF endpoint, platform ON attribution.destinations
    FOR EACH ROW
    WHEN (attribution._endpoint_origin(OLD.endpoint) IS DISTINCT FROM attribution._endpoint_origin(NEW.endpoint)
          OR OLD.platform IS DISTINCT FROM NEW.platform)
    EXECUTE FUNCTION attribution._destinations_unbind_credentials();

-- A failing call's statement, which holds the token when the caller wrote
-- it as a literal, is kept out of the server log while the function runs
-- (the setting is restored when the error has been reported).  The C
-- functions that take secrets hide it with errhidestmt instead.
ALTER FUNCTION attribution.set_credential(text, text, timestamptz, text)
    SET log_min_error_statement = panic;
