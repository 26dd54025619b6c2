-- ingest/secrets: webhook signing secrets, encrypted by the vault.  No role
-- but the owner reads the table; administrators see the status view, which
-- holds no secret.

CREATE TABLE attribution.webhook_secrets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL REFERENCES attribution.webhook_sources (source)
                    ON UPDATE CASCADE ON DELETE CASCADE,
    ciphertext  bytea NOT NULL,
    fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{8}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE INDEX webhook_secrets_active_idx ON attribution.webhook_secrets (source, id)
    WHERE revoked_at IS NULL;
COMMENT ON TABLE attribution.webhook_secrets IS 'Webhook signing secrets, AES-256-GCM under the vault key; several active per source during rotation';
COMMENT ON COLUMN attribution.webhook_secrets.ciphertext IS 'Vault blob of the secret, bound to the purpose "webhook:<source>"';
COMMENT ON COLUMN attribution.webhook_secrets.fingerprint IS 'Head of an HMAC of the secret under the vault key: tells secrets apart without revealing them';

REVOKE ALL ON attribution.webhook_secrets FROM PUBLIC;
CREATE TRIGGER webhook_secrets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON attribution.webhook_secrets FOR EACH STATEMENT EXECUTE FUNCTION attribution._webhook_config_changed();

SELECT pg_catalog.pg_extension_config_dump('attribution.webhook_secrets', '');

CREATE VIEW attribution.webhook_secret_status AS
SELECT s.id, s.source, s.fingerprint, s.created_at, s.revoked_at, s.revoked_at IS NULL AS active
  FROM attribution.webhook_secrets s;
COMMENT ON VIEW attribution.webhook_secret_status IS 'Webhook secrets without the secrets: id, source, fingerprint, when created and revoked';

CREATE FUNCTION attribution.set_webhook_secret(source text, secret text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'attr_set_webhook_secret'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION attribution.set_webhook_secret(text, text) IS 'Store an active signing secret for a webhook source, encrypted; returns its id (an identical active secret is not stored twice). Pass the secret as a bind parameter';

CREATE FUNCTION attribution.revoke_webhook_secret(source text, secret_id bigint DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n integer;
BEGIN
    IF source IS NULL OR NOT EXISTS (SELECT 1 FROM attribution.webhook_sources w
                                      WHERE w.source = revoke_webhook_secret.source) THEN
        RAISE EXCEPTION 'unknown webhook source "%"', source
            USING ERRCODE = '22023',
                  HINT = 'Sources are the rows of attribution.webhook_sources, such as stripe, paddle or lemonsqueezy.';
    END IF;
    IF secret_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM attribution.webhook_secrets s
             WHERE s.id = secret_id AND s.source = revoke_webhook_secret.source) THEN
        RAISE EXCEPTION 'webhook secret % of source "%" does not exist', secret_id, source
            USING ERRCODE = '22023',
                  HINT = 'The secrets of a source are listed in attribution.webhook_secret_status.';
    END IF;
    UPDATE attribution.webhook_secrets s
       SET revoked_at = pg_catalog.now()
     WHERE s.source = revoke_webhook_secret.source
       AND (secret_id IS NULL OR s.id = secret_id)
       AND s.revoked_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION attribution.revoke_webhook_secret(text, bigint) IS 'Revoke one secret of a webhook source, or all of them when secret_id is NULL; returns how many were active';

GRANT SELECT ON attribution.webhook_secret_status TO attribution_admin;
GRANT EXECUTE ON FUNCTION attribution.set_webhook_secret(text, text),
                          attribution.revoke_webhook_secret(text, bigint)
   TO attribution_admin;
