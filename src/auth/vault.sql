-- auth/vault: the key that encrypts secrets at rest (AES-256-GCM).  The key
-- is read from the file named by pg_attribution.vault_key_file; nothing of
-- it is stored in the database.

CREATE FUNCTION attribution.vault_status(OUT key_file text, OUT key_id text, OUT problem text)
RETURNS record
AS 'MODULE_PATHNAME', 'attr_vault_status'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION attribution.vault_status() IS 'Whether secrets can be stored: the configured key file, the non-reversible id of its key, or what is wrong with it';

GRANT EXECUTE ON FUNCTION attribution.vault_status() TO attribution_admin;
