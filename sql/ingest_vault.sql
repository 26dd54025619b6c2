-- The vault: secrets at rest under AES-256-GCM, the key outside the
-- database.  No role reads a secret; a missing, unusable or different key is
-- a clear error; tampered or moved ciphertexts do not decrypt; revocation.

DO $$
BEGIN
    EXECUTE format('COPY (SELECT %L) TO %L', repeat('b2', 32),
                   current_setting('data_directory') || '/pg_attribution_vault_a.key');
    EXECUTE format('COPY (SELECT %L) TO %L', repeat('c3', 32),
                   current_setting('data_directory') || '/pg_attribution_vault_b.key');
    -- base64 of 32 bytes is a key too
    EXECUTE format('COPY (SELECT %L) TO %L', encode(decode(repeat('b2', 32), 'hex'), 'base64'),
                   current_setting('data_directory') || '/pg_attribution_vault_a64.key');
    EXECUTE format('COPY (SELECT %L) TO %L', 'not a key',
                   current_setting('data_directory') || '/pg_attribution_vault_bad.key');
END
$$;
SELECT coalesce(max(id), 0) AS rejections_before FROM attribution.webhook_rejections \gset

-- Without a key, nothing can be stored; the hint says how to make one.
SET pg_attribution.vault_key_file = '';
SELECT key_file, key_id, problem FROM attribution.vault_status();
DO $$
DECLARE
    hint text;
BEGIN
    PERFORM attribution.set_webhook_secret('stripe', 'whsec_vault_test_one');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
    RAISE NOTICE 'hint: %', hint;
END
$$;
SET pg_attribution.vault_key_file = 'pg_attribution_vault_missing.key';
DO $$
BEGIN
    PERFORM attribution.set_webhook_secret('stripe', 'whsec_vault_test_one');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
SET pg_attribution.vault_key_file = 'pg_attribution_vault_bad.key';
DO $$
BEGIN
    PERFORM attribution.set_webhook_secret('stripe', 'whsec_vault_test_one');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
SELECT key_id, problem FROM attribution.vault_status();

-- The setting is for superusers only.
SET ROLE attribution_admin;
DO $$
BEGIN
    SET pg_attribution.vault_key_file = '/tmp/elsewhere.key';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;

-- With a key (hex or base64: the same key has the same id).
SET pg_attribution.vault_key_file = 'pg_attribution_vault_a64.key';
SELECT key_id, problem FROM attribution.vault_status();
SET pg_attribution.vault_key_file = 'pg_attribution_vault_a.key';
SELECT key_id, problem FROM attribution.vault_status();

DELETE FROM attribution.webhook_secrets WHERE source IN ('stripe', 'paddle', 'lemonsqueezy');
SELECT attribution.set_webhook_secret('stripe', 'whsec_vault_test_one') AS one \gset
SELECT attribution.set_webhook_secret('stripe', 'whsec_vault_test_two') AS two \gset
SELECT attribution.set_webhook_secret('stripe', 'whsec_vault_test_one') = :one AS same_secret_same_id;
SELECT attribution.set_webhook_secret('paddle', 'whsec_vault_test_one') <> :one AS other_source_new_id;

-- Ciphertexts hold no trace of the secret, differ for equal secrets (random
-- nonces), and have the layout version, key id, nonce, ciphertext, tag.
SELECT s.source, octet_length(s.ciphertext) = 1 + 4 + 12 + length('whsec_vault_test_one') + 16 AS layout,
       get_byte(s.ciphertext, 0) AS version,
       strpos(encode(s.ciphertext, 'escape'), 'whsec_vault') = 0 AS no_plaintext,
       s.fingerprint ~ '^[0-9a-f]{8}$' AS fingerprint_format
  FROM attribution.webhook_secrets s
 WHERE s.id IN (:one, (SELECT max(id) FROM attribution.webhook_secrets WHERE source = 'paddle'))
 ORDER BY s.source;
SELECT count(DISTINCT ciphertext) AS distinct_ciphertexts, count(DISTINCT fingerprint) AS same_fingerprint
  FROM attribution.webhook_secrets
 WHERE source IN ('stripe', 'paddle') AND fingerprint = (SELECT fingerprint FROM attribution.webhook_secrets WHERE id = :one);

-- Fingerprints are keyed: not a plain digest of the secret.
SELECT fingerprint <> left(encode(sha256('whsec_vault_test_one'), 'hex'), 8) AS not_sha256,
       fingerprint <> left(md5('whsec_vault_test_one'), 8) AS not_md5
  FROM attribution.webhook_secrets WHERE id = :one;

-- No role but the owner reads the secrets table; the status view has no secret.
SELECT r.rolname,
       has_table_privilege(r.rolname, 'attribution.webhook_secrets', 'SELECT') AS table_select,
       has_column_privilege(r.rolname, 'attribution.webhook_secrets', 'ciphertext', 'SELECT') AS ciphertext_select,
       has_table_privilege(r.rolname, 'attribution.webhook_secret_status', 'SELECT') AS status_select,
       has_function_privilege(r.rolname, 'attribution.set_webhook_secret(text, text)', 'EXECUTE') AS can_set,
       has_function_privilege(r.rolname, 'attribution.vault_status()', 'EXECUTE') AS can_check_vault
  FROM pg_roles r
 WHERE r.rolname IN ('attribution_app', 'attribution_analyst', 'attribution_admin')
 ORDER BY r.rolname;
SELECT attname FROM pg_attribute
 WHERE attrelid = 'attribution.webhook_secret_status'::regclass AND attnum > 0
 ORDER BY attnum;
SET ROLE attribution_admin;
SELECT source, active, revoked_at IS NULL AS not_revoked
  FROM attribution.webhook_secret_status WHERE source IN ('stripe', 'paddle') ORDER BY id;
DO $$
BEGIN
    PERFORM ciphertext FROM attribution.webhook_secrets;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;
SET ROLE attribution_analyst;
DO $$
BEGIN
    PERFORM 1 FROM attribution.webhook_secret_status;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;

-- No function of the extension returns something a secret could be read from
-- (the model aggregates' bytea states hold path counts, nothing else).
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'attribution'::regnamespace
   AND p.proname !~ '^_?(markov|shapley)'
   AND (p.prorettype = 'bytea'::regtype
        OR p.proname ~ 'secret' AND p.prorettype NOT IN ('bigint'::regtype, 'integer'::regtype))
 ORDER BY 1;

-- Errors of set_webhook_secret never quote the secret.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES (1, 'nosuch', 'whsec_quoted_never_1'),
                                   (2, 'stripe', ''),
                                   (3, 'stripe', 'whsec_quoted_never_' || repeat('x', 600)),
                                   (4, NULL, 'whsec_quoted_never_2')) t(ord, src, sec) ORDER BY ord LOOP
        BEGIN
            PERFORM attribution.set_webhook_secret(r.src, r.sec);
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: % (quotes secret: %)', SQLSTATE, SQLERRM,
                r.sec <> '' AND strpos(SQLERRM, r.sec) > 0;
        END;
    END LOOP;
END
$$;

-- Verification decrypts the stored secrets: a webhook signed with either
-- active one passes, a forged one does not.
UPDATE attribution.webhook_sources SET tolerance_seconds = NULL WHERE source = 'stripe';
SELECT label, r.status, r.event_id, r.detail
  FROM (VALUES (1, 'signed with one', 'abd72ea377552ab2a0da99068d54215974697a698d96ae1274f80f2f48a0ca33'),
               (2, 'signed with two', 'be309ba17492ccff5a30fcb37b175b6c471434de4703c4fa93e84dfe889f62d8'),
               (3, 'forged', '0000000000000000000000000000000000000000000000000000000000000000'))
         AS t(ord, label, sig),
       LATERAL attribution.ingest_webhook('stripe', jsonb_build_object('Stripe-Signature', 't=1767225600,v1=' || t.sig),
                                          '{"id":"evt_vault_1","type":"invoice.paid"}') r
 ORDER BY t.ord;

-- Another key: a clear error, no garbage.
SET pg_attribution.vault_key_file = 'pg_attribution_vault_b.key';
DO $$
DECLARE
    hint text;
BEGIN
    PERFORM attribution.ingest_webhook('stripe', '{}', '{}');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
    RAISE NOTICE 'hint: %', hint;
END
$$;
SET pg_attribution.vault_key_file = 'pg_attribution_vault_a.key';

-- A tampered ciphertext, or one moved to another source (its purpose is
-- authenticated), does not decrypt.
BEGIN;
UPDATE attribution.webhook_secrets
   SET ciphertext = set_byte(ciphertext, octet_length(ciphertext) - 20,
                             get_byte(ciphertext, octet_length(ciphertext) - 20) # 1)
 WHERE id = :one;
DO $$
BEGIN
    PERFORM attribution.ingest_webhook('stripe', '{}', '{}');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
ROLLBACK;
BEGIN;
DELETE FROM attribution.webhook_secrets WHERE source = 'lemonsqueezy';
UPDATE attribution.webhook_secrets SET source = 'lemonsqueezy' WHERE id = :two;
DO $$
BEGIN
    PERFORM attribution.ingest_webhook('lemonsqueezy', '{}', '{}');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
ROLLBACK;

-- Revocation: one secret, then all of a source; unknown ids and sources are errors.
SELECT attribution.revoke_webhook_secret('stripe', :two) AS revoked_one;
SELECT attribution.revoke_webhook_secret('stripe', :two) AS revoked_again;
SELECT source, count(*) FILTER (WHERE active) AS active, count(*) FILTER (WHERE NOT active) AS revoked
  FROM attribution.webhook_secret_status WHERE source IN ('stripe', 'paddle') GROUP BY source ORDER BY source;
SELECT attribution.revoke_webhook_secret('stripe') AS revoked_rest;
SELECT (attribution.ingest_webhook('stripe', '{"Stripe-Signature": "t=1767225600,v1=00"}', '{}')).detail AS after_revoke;
DO $$
BEGIN
    PERFORM attribution.revoke_webhook_secret('stripe', -1);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.revoke_webhook_secret('nosuch');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
-- A revoked secret can be stored again: it becomes a new active secret.
SELECT attribution.set_webhook_secret('stripe', 'whsec_vault_test_one') > :two AS stored_anew;

-- Leave the database as found.
DELETE FROM attribution.webhook_inbox WHERE source = 'stripe' AND event_id = 'evt_vault_1';
DELETE FROM attribution.webhook_secrets WHERE source IN ('stripe', 'paddle', 'lemonsqueezy');
DELETE FROM attribution.webhook_rejections WHERE id > :rejections_before;
UPDATE attribution.webhook_sources SET tolerance_seconds = 300 WHERE source = 'stripe';
RESET pg_attribution.vault_key_file;
