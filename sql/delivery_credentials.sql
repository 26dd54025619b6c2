-- Credentials: tokens are stored only as vault ciphertext, readable by
-- nobody but the owner; a new token resumes a paused destination.
SET timezone = 'UTC';

-- The test cluster's vault key is configured (pg_attribution.vault_key_file
-- in scripts/test.sh).
SELECT problem IS NULL AS vault_ready FROM attribution.vault_status();

INSERT INTO attribution.destinations (name, platform, endpoint, account, paused_until, pause_reason)
VALUES ('c_meta', 'meta', 'https://graph.facebook.com', '{"pixel_id": "7"}',
        'infinity', 'credential invalid: meta 190/463');

SET ROLE attribution_admin;
SELECT attribution.set_credential('c_meta', 'EAAB-secret-token-0001', '2026-06-01 00:00:00+00') > 0 AS stored;
SELECT destination, platform, kind, status, expires_at, last_error, refreshed_at IS NOT NULL AS refreshed,
       paused_until, pause_reason
  FROM attribution.credential_status WHERE destination = 'c_meta';
-- the secret is not readable, not even its ciphertext
DO $$
BEGIN
    PERFORM ciphertext FROM attribution.credentials;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution._store_credential(1, 'access_token', 'x', NULL);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
-- errors name no token
DO $$
BEGIN
    PERFORM attribution.set_credential('c_nowhere', 'EAAB-secret-token-0002');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.set_credential('c_meta', E'EAAB-secret-token-0003\n');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.set_credential('c_meta', '');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.set_credential('c_meta', 'x', NULL, 'password');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;

-- Stored as ciphertext bound to the destination: no trace of the token.
SELECT c.kind, position('EAAB-secret-token-0001'::bytea IN c.ciphertext) = 0 AS no_plaintext,
       length(c.ciphertext) = 1 + 4 + 12 + length('EAAB-secret-token-0001') + 16 AS vault_blob_size,
       d.credential_id = c.id AS destination_points_to_it
  FROM attribution.credentials c JOIN attribution.destinations d ON d.id = c.destination_id
 WHERE d.name = 'c_meta';

-- The platform refuses the token: the worker marks it invalid and pauses
-- the destination.  Storing a new one clears both.
UPDATE attribution.credentials SET status = 'invalid', last_error = 'meta 190'
 WHERE destination_id = (SELECT id FROM attribution.destinations WHERE name = 'c_meta');
UPDATE attribution.destinations SET paused_until = 'infinity', pause_reason = 'credential invalid'
 WHERE name = 'c_meta';
SELECT ciphertext AS old_ciphertext FROM attribution.credentials
 WHERE destination_id = (SELECT id FROM attribution.destinations WHERE name = 'c_meta') \gset
SET ROLE attribution_admin;
SELECT attribution.set_credential('c_meta', 'EAAB-secret-token-0004') > 0 AS stored;
SELECT destination, kind, status, expires_at, last_error, paused_until, pause_reason
  FROM attribution.credential_status WHERE destination = 'c_meta';
-- other kinds are kept apart
SELECT attribution.set_credential('c_meta', 'refresh-secret', NULL, 'refresh_token') > 0 AS stored;
SELECT destination, kind, status FROM attribution.credential_status
 WHERE destination = 'c_meta' ORDER BY kind;
RESET ROLE;
SELECT ciphertext <> :'old_ciphertext'::bytea AS replaced, count(*) OVER () AS credentials
  FROM attribution.credentials
 WHERE destination_id = (SELECT id FROM attribution.destinations WHERE name = 'c_meta')
   AND kind = 'access_token';

-- the application and the analyst may not store or see credentials
SET ROLE attribution_app;
DO $$
BEGIN
    PERFORM attribution.set_credential('c_meta', 'EAAB-secret-token-0005');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;
SET ROLE attribution_analyst;
DO $$
BEGIN
    PERFORM count(*) FROM attribution.credential_status;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;

-- without a key, nothing is stored
SET pg_attribution.vault_key_file = '';
SET ROLE attribution_admin;
DO $$
BEGIN
    PERFORM attribution.set_credential('c_meta', 'EAAB-secret-token-0006');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;
RESET pg_attribution.vault_key_file;

DELETE FROM attribution.destinations WHERE name = 'c_meta';
SELECT count(*) AS credentials_left FROM attribution.credentials;
