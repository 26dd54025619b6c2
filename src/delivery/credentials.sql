-- delivery/credentials: platform tokens, stored only encrypted by the vault
-- (AES-256-GCM under the key of pg_attribution.vault_key_file).  Nobody but
-- the extension's owner reads the table; administrators see the status
-- view.  The delivery worker decrypts with the additional data
-- "destination:<destination_id>:<kind>".

CREATE TABLE attribution.credentials (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination_id      int NOT NULL REFERENCES attribution.destinations (id) ON DELETE CASCADE,
    kind                text NOT NULL DEFAULT 'access_token'
                        CHECK (kind IN ('access_token', 'refresh_token', 'developer_token',
                                        'client_id', 'client_secret')),
    ciphertext          bytea NOT NULL,
    status              text NOT NULL DEFAULT 'valid'
                        CHECK (status IN ('valid', 'invalid', 'expired', 'revoked')),
    expires_at          timestamptz,
    refreshed_at        timestamptz,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (destination_id, kind)
);
COMMENT ON TABLE attribution.credentials IS 'Platform tokens per destination, encrypted by the vault; readable only by the extension owner (see credential_status)';
COMMENT ON COLUMN attribution.credentials.ciphertext IS 'Vault blob of the token; additional data "destination:<destination_id>:<kind>"';
COMMENT ON COLUMN attribution.credentials.status IS 'valid; invalid, expired or revoked when the platform refused it (the destination is paused until a new token is stored)';
COMMENT ON COLUMN attribution.credentials.refreshed_at IS 'When the token was last stored or refreshed';
REVOKE ALL ON attribution.credentials FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('attribution.credentials', '');

-- The destination's access token, for the worker.  Not a foreign key: the
-- credential already cascades from its destination, and a second cascade
-- back would make deleting a destination fail.
COMMENT ON COLUMN attribution.destinations.credential_id IS 'The destination''s access token in attribution.credentials (set by set_credential; the row with kind access_token)';

-- Written in C: the token is encrypted and stored in one step, so no SQL
-- function ever returns a ciphertext.
CREATE FUNCTION attribution._store_credential(destination_id int, kind text, token text,
                                              expires_at timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'attr_store_credential'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION attribution._store_credential(int, text, text, timestamptz) IS 'Encrypt a token with the vault, bound to the destination and kind, and store it as the valid credential of that kind; returns its id';

CREATE VIEW attribution.credential_status AS
SELECT c.id, d.name AS destination, d.platform, c.kind, c.status, c.expires_at,
       c.refreshed_at, c.last_error, c.created_at, c.updated_at,
       d.paused_until, d.pause_reason
  FROM attribution.credentials c
  JOIN attribution.destinations d ON d.id = c.destination_id;
COMMENT ON VIEW attribution.credential_status IS 'Status of each stored credential, without the secret';

-- Store (or replace) a token.  A new token clears an invalid, expired or
-- revoked state and resumes a destination paused for it.
CREATE FUNCTION attribution.set_credential(destination text, token text,
                                           expires_at timestamptz DEFAULT NULL,
                                           kind text DEFAULT 'access_token')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dest int;
    cred bigint;
BEGIN
    IF destination IS NULL OR token IS NULL OR kind IS NULL THEN
        RAISE EXCEPTION 'destination, token and kind must be given'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind NOT IN ('access_token', 'refresh_token', 'developer_token', 'client_id', 'client_secret') THEN
        RAISE EXCEPTION 'credential kind "%" is unknown', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use access_token, refresh_token, developer_token, client_id or client_secret.';
    END IF;
    SELECT d.id INTO dest FROM attribution.destinations d WHERE d.name = destination FOR UPDATE;
    IF dest IS NULL THEN
        RAISE EXCEPTION 'destination "%" does not exist', destination
            USING ERRCODE = 'undefined_object';
    END IF;

    cred := attribution._store_credential(dest, set_credential.kind, token, set_credential.expires_at);

    IF set_credential.kind = 'access_token' THEN
        UPDATE attribution.destinations d
           SET credential_id = cred, paused_until = NULL, pause_reason = NULL
         WHERE d.id = dest;
        -- the events held while the destination was paused may go now
        PERFORM attribution._wake_after_requeue();
    ELSE
        -- a refused credential of another kind paused the destination too
        UPDATE attribution.destinations d
           SET paused_until = NULL, pause_reason = NULL
         WHERE d.id = dest AND d.paused_until IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM attribution.credentials x
                            WHERE x.destination_id = dest AND x.status <> 'valid');
    END IF;
    RETURN cred;
END
$fn$;
COMMENT ON FUNCTION attribution.set_credential(text, text, timestamptz, text) IS 'Store a platform token for a destination, encrypted by the vault; a new token resumes a destination paused for an invalid one. Returns the credential id';

GRANT EXECUTE ON FUNCTION attribution.set_credential(text, text, timestamptz, text) TO attribution_admin;
GRANT SELECT ON attribution.credential_status TO attribution_admin;
