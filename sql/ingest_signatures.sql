-- Webhook signature schemes, through attribution._verify_signature at a
-- pinned time: the vectors of API-CONTRACTS.md section H and their one-byte
-- alterations, tolerance, rotation, header names and encodings, body checks
-- and event ids.  Nothing is stored; ingest_webhook is tested in
-- ingest_webhook.

CREATE TEMP TABLE vectors (
    name        text PRIMARY KEY,
    source      text NOT NULL,
    secret      text NOT NULL,
    header      text NOT NULL,
    signature   text NOT NULL,
    body        text NOT NULL,
    signed_at   timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00'
);
INSERT INTO vectors (name, source, secret, header, signature, body) VALUES
('stripe', 'stripe', 'whsec_test_secret_0123456789abcdef', 'Stripe-Signature',
 't=1767225600,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29',
 '{"id":"evt_test_001","object":"event","type":"invoice.paid","created":1767225600,"data":{"object":{"id":"in_test_001","object":"invoice","billing_reason":"subscription_create","amount_paid":2900,"currency":"usd"}}}'),
('stripe_old_secret', 'stripe', 'whsec_old_rotated_secret_fedcba9876543210', 'Stripe-Signature',
 't=1767225600,v1=5dcb27689cd51db9876cf21d753b338b9f09cc4df2fb6b8dbf0f5e0a0055b8df',
 '{"id":"evt_test_001","object":"event","type":"invoice.paid","created":1767225600,"data":{"object":{"id":"in_test_001","object":"invoice","billing_reason":"subscription_create","amount_paid":2900,"currency":"usd"}}}'),
('paddle', 'paddle', 'pdl_ntfset_01testdestination_TESTSECRETKEY0123456789', 'Paddle-Signature',
 'ts=1767225600;h1=7a9834065fcf3eef75486d8a2251efbee6bf644564f9d05bef01be4108677f17',
 '{"event_id":"evt_01test0000000000000000000","event_type":"transaction.completed","occurred_at":"2026-01-01T00:00:00.000000Z","notification_id":"ntf_01test0000000000000000000","data":{"id":"txn_01test0000000000000000000","status":"completed","origin":"web","custom_data":{"app_user_id":"u_42"},"currency_code":"USD","details":{"totals":{"grand_total":"2900"}}}}'),
('lemonsqueezy', 'lemonsqueezy', 'ls_test_secret_42', 'X-Signature',
 '4c29c09d21c88ed8a952c6055ea7ceede98ef7f3505449e9e3843663dcf2b67a',
 '{"meta":{"event_name":"subscription_payment_success","custom_data":{"app_user_id":"u_42"}},"data":{"type":"subscription-invoices","id":"1001","attributes":{"subscription_id":2002,"billing_reason":"renewal","status":"paid","currency":"USD","total":2900}}}'),
('friendbuy', 'friendbuy', 'fb_test_secret_key', 'X-Friendbuy-Hmac-SHA256',
 'zrO5skzIWwMsupI8Ve7GLt9+WDv8SzCQeWP4QxDe5rE=',
 '{"id":"255e4e45-446d-499d-a680-44ab1eca73fb","type":"advocateReward","data":[{"rewardId":"r-1","rewardType":"credit","rewardUnit":"USD","customerId":"u_42","emailAddress":"adv@example.com","amount":20,"createdOn":"2026-01-01T00:00:00.000Z"}],"createdOn":"2026-01-01T00:00:01.000Z"}'),
('mentionme', 'mentionme', 'mm_test_secret', 'X-MentionMe-Signature',
 'sha256=3b46da199e5c2f152084a232d9b111c54eb1719fc508694fa07347ea111eb14a',
 '{"type":"referral.created","customer":{"uniqueIdentifier":"u_42"}}'),
('extole', 'extole', 'extole_client_key_secret', 'X-Extole-Signature',
 'af6a2a6a3da5e403fe7eb696e16b60f6353915c494e191c92411d5598190e566',
 '{"type":"reward_earned","event_id":"qb3jju459ugjr2aojk5e","partner_user_id":"u_42","face_value":50,"face_value_type":"USD","schema_version":1}'),
-- HMAC-SHA1 vectors computed with openssl dgst -sha1 -hmac.
('segment', 'segment', 'seg_test_shared_secret', 'X-Signature',
 '8bb6530b5f5783ead2daf306b6f17cb2cb73819d',
 '{"type":"page","messageId":"msg-page-0001","anonymousId":"anon-1","properties":{"url":"https://example.com/pricing?utm_source=google&utm_medium=cpc"}}'),
('rudderstack', 'rudderstack', 'rs_test_shared_secret', 'Authorization',
 'Bearer rs_test_shared_secret',
 '{"type":"identify","messageId":"msg-identify-0001","anonymousId":"anon-1","userId":"u_42"}');
INSERT INTO vectors (name, source, secret, header, signature, body, signed_at) VALUES
('paddle_sdk', 'paddle', 'VALID_SECRET', 'Paddle-Signature',
 'ts=1698796800;h1=a300428748dce5c70e4da19bffd60769591ea969c99dea3105d0ec9612cf43f9',
 '{"data": ["1", "2"]}', '2023-11-01 00:00:00+00');

-- Verify a vector, altered or not, one second after it was signed.
CREATE FUNCTION pg_temp.check(v vectors, signature text DEFAULT NULL, body text DEFAULT NULL,
                              secrets text[] DEFAULT NULL, now timestamptz DEFAULT NULL)
RETURNS attribution.ingest_result
LANGUAGE sql AS $$
    SELECT attribution._verify_signature(v.source,
               pg_catalog.jsonb_build_object(v.header, coalesce(signature, v.signature)),
               coalesce(body, v.body), coalesce(secrets, ARRAY[v.secret]),
               coalesce(now, v.signed_at + interval '1 second'))
$$;

-- One character changed to another of its class (hex digits stay hex,
-- base64 stays base64).
CREATE FUNCTION pg_temp.alter_at(s text, pos int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT overlay(s PLACING translate(substr(s, pos, 1),
                   'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                   'bcdefahijklmnopqrstuvwxyzg1234567890BCDEFAHIJKLMNOPQRSTUVWXYZG')
           FROM pos FOR 1)
$$;

-- Every vector verifies; event ids and types follow each source's rules.
SELECT v.name, (c).status, (c).event_id, (c).http_status, (c).detail,
       (c).event_id = encode(sha256(convert_to(v.body, 'UTF8')), 'hex') AS id_is_body_digest
  FROM vectors v, pg_temp.check(v) c
 ORDER BY v.name;

-- One-byte alterations of the body and of the signature fail (RudderStack's
-- shared secret authenticates the sender, not the body: a changed body passes).
SELECT v.name,
       (pg_temp.check(v, body => pg_temp.alter_at(v.body, 3))).detail AS body_altered,
       (pg_temp.check(v, signature => pg_temp.alter_at(v.signature, length(v.signature) - 4))).detail AS signature_altered
  FROM vectors v
 ORDER BY v.name;

-- Altered timestamps fail: the timestamp is signed.
SELECT v.name, (c).status, (c).detail
  FROM vectors v,
       pg_temp.check(v, signature => replace(v.signature, '=1767225600', '=1767225601')) c
 WHERE v.source IN ('stripe', 'paddle') AND v.name <> 'paddle_sdk'
 ORDER BY v.name;

-- The Paddle SDK's "has more space" body fails.
SELECT (pg_temp.check(v, body => '{"data":  ["1", "2"]}')).detail
  FROM vectors v WHERE v.name = 'paddle_sdk';

-- Hex digests compare case-insensitively.
SELECT v.name, (pg_temp.check(v, signature => upper(v.signature))).status
  FROM vectors v
 WHERE v.name IN ('lemonsqueezy', 'extole', 'segment')
 ORDER BY v.name;

-- Rotation: Stripe sends one v1 per active secret; any secret matching any v1 is enough.
CREATE TEMP TABLE stripe_both AS
SELECT v.*, 't=1767225600,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29,'
            'v1=5dcb27689cd51db9876cf21d753b338b9f09cc4df2fb6b8dbf0f5e0a0055b8df' AS both_signatures
  FROM vectors v WHERE v.name = 'stripe';
SELECT label, (pg_temp.check(v, signature => sig, secrets => secrets)).status
  FROM vectors v, stripe_both b,
       (VALUES ('both v1, current secret', 1, ARRAY['whsec_test_secret_0123456789abcdef']),
               ('both v1, old secret', 2, ARRAY['whsec_old_rotated_secret_fedcba9876543210']),
               ('both v1, unrelated secret', 3, ARRAY['whsec_unrelated']),
               ('both v1, unrelated and old secrets', 4, ARRAY['whsec_unrelated', 'whsec_old_rotated_secret_fedcba9876543210']),
               ('old v1 only, current and old secrets', 5, ARRAY['whsec_test_secret_0123456789abcdef', 'whsec_old_rotated_secret_fedcba9876543210']))
         AS t(label, ord, secrets),
       LATERAL (SELECT CASE WHEN t.ord = 5
                            THEN 't=1767225600,v1=5dcb27689cd51db9876cf21d753b338b9f09cc4df2fb6b8dbf0f5e0a0055b8df'
                            ELSE b.both_signatures END AS sig) s
 WHERE v.name = 'stripe'
 ORDER BY t.ord;

-- Stripe header forms.
SELECT label, (pg_temp.check(v, signature => sig)).status, (pg_temp.check(v, signature => sig)).detail
  FROM vectors v,
       (VALUES (1, 'only v0', 't=1767225600,v0=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29'),
               (2, 'v0 then v1', 't=1767225600,v0=00,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29'),
               (3, 'blanks around items', ' t=1767225600 , v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29 '),
               (4, 'v1 before t', 'v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29,t=1767225600'),
               (5, 'no t', 'v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29'),
               (6, 't not a number', 't=17672256OO,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29'),
               (7, 'short v1', 't=1767225600,v1=44860e038c8adc6a'),
               (8, 'empty', ''))
         AS t(ord, label, sig)
 WHERE v.name = 'stripe'
 ORDER BY t.ord;

-- Stripe tolerance (300 s by default): only old timestamps are refused.
SELECT label, (pg_temp.check(v, now => v.signed_at + lag)).status, (pg_temp.check(v, now => v.signed_at + lag)).detail
  FROM vectors v,
       (VALUES (1, '300 s old', interval '300 seconds'),
               (2, '301 s old', interval '301 seconds'),
               (3, 'an hour in the future', interval '-1 hour')) AS t(ord, label, lag)
 WHERE v.name = 'stripe'
 ORDER BY t.ord;

-- Paddle tolerance (5 s by default), configurable per source; NULL checks no age.
SELECT label, (pg_temp.check(v, now => v.signed_at + lag)).detail
  FROM vectors v,
       (VALUES (1, '5 s old', interval '5 seconds'),
               (2, '6 s old', interval '6 seconds')) AS t(ord, label, lag)
 WHERE v.name = 'paddle'
 ORDER BY t.ord;
BEGIN;
UPDATE attribution.webhook_sources SET tolerance_seconds = 600 WHERE source = 'paddle';
SELECT (pg_temp.check(v, now => v.signed_at + interval '300 seconds')).status AS tolerance_600_at_300s,
       (pg_temp.check(v, now => v.signed_at + interval '601 seconds')).status AS tolerance_600_at_601s
  FROM vectors v WHERE v.name = 'paddle';
UPDATE attribution.webhook_sources SET tolerance_seconds = NULL WHERE source = 'paddle';
SELECT (pg_temp.check(v, now => v.signed_at + interval '1 year')).status AS unchecked_a_year_later
  FROM vectors v WHERE v.name = 'paddle';
ROLLBACK;

-- Paddle header forms.
SELECT label, (pg_temp.check(v, signature => sig)).detail
  FROM vectors v,
       (VALUES (1, 'several h1', 'ts=1767225600;h1=0000000000000000000000000000000000000000000000000000000000000000;h1=7a9834065fcf3eef75486d8a2251efbee6bf644564f9d05bef01be4108677f17'),
               (2, 'no ts', 'h1=7a9834065fcf3eef75486d8a2251efbee6bf644564f9d05bef01be4108677f17'),
               (3, 'no h1', 'ts=1767225600'),
               (4, 'comma separated', 'ts=1767225600,h1=7a9834065fcf3eef75486d8a2251efbee6bf644564f9d05bef01be4108677f17'))
         AS t(ord, label, sig)
 WHERE v.name = 'paddle'
 ORDER BY t.ord;

-- Encodings: Friendbuy is base64 (hex refused); Mention Me hex by default,
-- base64 when configured or under "auto", its prefix optional.
SELECT (pg_temp.check(v, signature => encode(decode(v.signature, 'base64'), 'hex'))).detail AS friendbuy_as_hex
  FROM vectors v WHERE v.name = 'friendbuy';
SELECT label, (pg_temp.check(v, signature => sig)).status
  FROM vectors v,
       (VALUES (1, 'hex without prefix', '3b46da199e5c2f152084a232d9b111c54eb1719fc508694fa07347ea111eb14a'),
               (2, 'base64', 'sha256=' || encode(decode('3b46da199e5c2f152084a232d9b111c54eb1719fc508694fa07347ea111eb14a', 'hex'), 'base64')))
         AS t(ord, label, sig)
 WHERE v.name = 'mentionme'
 ORDER BY t.ord;
BEGIN;
UPDATE attribution.webhook_sources SET options = options || '{"encoding": "auto"}' WHERE source = 'mentionme';
SELECT (pg_temp.check(v)).status AS auto_hex,
       (pg_temp.check(v, signature => 'sha256=' || encode(decode('3b46da199e5c2f152084a232d9b111c54eb1719fc508694fa07347ea111eb14a', 'hex'), 'base64'))).status AS auto_base64
  FROM vectors v WHERE v.name = 'mentionme';
ROLLBACK;

-- Extole: "sha1=" + hex HMAC-SHA1 only behind allow_sha1_prefix.
SELECT (pg_temp.check(v, signature => 'sha1=e7c368645bb47b75b7b0d6c6bef2af194284f4d6')).detail AS sha1_not_allowed
  FROM vectors v WHERE v.name = 'extole';
BEGIN;
UPDATE attribution.webhook_sources SET options = options || '{"allow_sha1_prefix": true}' WHERE source = 'extole';
SELECT (pg_temp.check(v, signature => 'sha1=e7c368645bb47b75b7b0d6c6bef2af194284f4d6')).status AS sha1_allowed,
       (pg_temp.check(v)).status AS sha256_still_accepted
  FROM vectors v WHERE v.name = 'extole';
ROLLBACK;

-- RudderStack: Bearer, Basic (secret as user name, or alone) or a bare value in a configured header.
SELECT label, (pg_temp.check(v, signature => sig)).status, (pg_temp.check(v, signature => sig)).detail
  FROM vectors v,
       (VALUES (1, 'bearer, lower case', 'bearer rs_test_shared_secret'),
               (2, 'basic secret:', 'Basic ' || encode(convert_to('rs_test_shared_secret:', 'UTF8'), 'base64')),
               (3, 'basic secret', 'Basic ' || encode(convert_to('rs_test_shared_secret', 'UTF8'), 'base64')),
               (4, 'basic user:secret', 'Basic ' || encode(convert_to('user:rs_test_shared_secret', 'UTF8'), 'base64')),
               (5, 'wrong bearer', 'Bearer rs_test_shared_secreT'),
               (6, 'bare secret in Authorization', 'rs_test_shared_secret'),
               (7, 'basic not base64', 'Basic ***'))
         AS t(ord, label, sig)
 WHERE v.name = 'rudderstack'
 ORDER BY t.ord;
BEGIN;
UPDATE attribution.webhook_sources SET signature_header = 'X-Webhook-Token' WHERE source = 'rudderstack';
SELECT (attribution._verify_signature('rudderstack', '{"x-webhook-token": "rs_test_shared_secret"}',
                                      v.body, ARRAY[v.secret])).status AS custom_header
  FROM vectors v WHERE v.name = 'rudderstack';
ROLLBACK;

-- Header names compare case-insensitively; values may be arrays of strings.
SELECT label, (attribution._verify_signature('stripe', h, v.body, ARRAY[v.secret], v.signed_at)).detail
  FROM vectors v,
       (VALUES (1, 'lower case', jsonb_build_object('stripe-signature', 't=1767225600,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29')),
               (2, 'upper case', jsonb_build_object('STRIPE-SIGNATURE', 't=1767225600,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29')),
               (3, 'array', jsonb_build_object('Stripe-Signature', jsonb_build_array('t=1767225600,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29'))),
               (4, 'bad then good', jsonb_build_object('stripe-signature', 't=1767225600,v1=00', 'Stripe-Signature', 't=1767225600,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29')),
               (5, 'other headers only', '{"Content-Type": "application/json"}'::jsonb),
               (6, 'nested object ignored', jsonb_build_object('x', jsonb_build_object('Stripe-Signature', 't=1767225600,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29'))),
               (7, 'null headers', NULL))
         AS t(ord, label, h)
 WHERE v.name = 'stripe'
 ORDER BY t.ord;

-- Bodies are checked after the signature: JSON objects only, storable as jsonb.
SELECT label, (attribution._verify_signature('rudderstack', '{"Authorization": "Bearer rs_test_shared_secret"}',
                                             b, ARRAY['rs_test_shared_secret'])).detail
  FROM (VALUES (1, 'not JSON', 'type=page'),
               (2, 'truncated', '{"type":"page","messageId":"m-1"'),
               (3, 'an array', '[{"type":"page"}]'),
               (4, 'a string', '"page"'),
               (5, 'empty', ''),
               (6, 'NUL escape', '{"type":"page","messageId":"m\u0000"}'),
               (7, 'huge exponent', '{"type":"page","value":1e5000}'),
               (8, '65 levels', repeat('[', 65) || repeat(']', 65)),
               (9, '64 levels', '{"a":' || repeat('[', 63) || repeat(']', 63) || '}'),
               (10, 'unicode escapes', '{"type":"p\u00e2ge","messageId":"m-\ud83d\ude00"}'))
         AS t(ord, label, b)
 ORDER BY t.ord;

-- Event ids: paths joined by ':', optional parts left out, the body digest
-- when a required part is absent; over-long ids become a digest.
BEGIN;
UPDATE attribution.webhook_sources
   SET event_id_paths = '{meta.event_name,data.type,data.id,data.attributes.updated_at?}',
       event_type_path = 'meta.event_name'
 WHERE source = 'rudderstack';
SELECT label, (r).event_id, (r).event_id = encode(sha256(convert_to(b, 'UTF8')), 'hex') AS is_digest
  FROM (VALUES (1, 'all parts', '{"meta":{"event_name":"order_created"},"data":{"type":"orders","id":7,"attributes":{"updated_at":"2026-01-01T00:00:00Z"}}}'),
               (2, 'optional part absent', '{"meta":{"event_name":"order_created"},"data":{"type":"orders","id":"7"}}'),
               (3, 'required part absent', '{"meta":{"event_name":"order_created"},"data":{"type":"orders"}}'),
               (4, 'required part null', '{"meta":{"event_name":"order_created"},"data":{"type":"orders","id":null}}'),
               (5, 'part in an array is not the path', '{"meta":{"event_name":"x"},"data":[{"type":"orders","id":"7"}]}'),
               (6, 'duplicate key: the last wins', '{"meta":{"event_name":"a"},"data":{"type":"t","id":"1","id":"2"}}'),
               (7, 'escaped characters', '{"meta":{"event_name":"a\"b"},"data":{"type":"t\u00e9","id":"1"}}'),
               (8, 'long id', '{"meta":{"event_name":"' || repeat('e', 300) || '"},"data":{"type":"t","id":"1"}}'))
         AS t(ord, label, b),
       LATERAL (SELECT attribution._verify_signature('rudderstack', '{"Authorization": "Bearer s"}', b, ARRAY['s']) AS r) s
 ORDER BY t.ord;
SELECT (attribution._verify_signature('rudderstack', '{"Authorization": "Bearer s"}',
        '{"meta":{"event_name":"' || repeat('e', 300) || '"},"data":{"type":"t","id":"1"}}', ARRAY['s'])).event_id
       = 'sha256:' || encode(sha256(convert_to(repeat('e', 300) || ':t:1', 'UTF8')), 'hex') AS long_id_is_its_digest;
ROLLBACK;

-- Size limit: pg_attribution.max_webhook_body bytes at most.
SET pg_attribution.max_webhook_body = 1024;
SELECT octet_length(b) AS bytes,
       (attribution._verify_signature('rudderstack', '{"Authorization": "Bearer s"}', b, ARRAY['s'])).status,
       (attribution._verify_signature('rudderstack', '{"Authorization": "Bearer s"}', b, ARRAY['s'])).http_status,
       (attribution._verify_signature('rudderstack', '{"Authorization": "Bearer s"}', b, ARRAY['s'])).detail
  FROM (VALUES ('{"type":"page","pad":"' || repeat('x', 1024 - 24) || '"}'),
               ('{"type":"page","pad":"' || repeat('x', 1025 - 24) || '"}')) AS t(b)
 ORDER BY 1;
RESET pg_attribution.max_webhook_body;

-- No active secret, or a disabled source: refused with 503 so the sender retries later.
SELECT (attribution._verify_signature('stripe', '{}', '{}', '{}')).detail AS no_secret;
BEGIN;
UPDATE attribution.webhook_sources SET enabled = false WHERE source = 'stripe';
SELECT (c).status, (c).http_status, (c).detail FROM vectors v, pg_temp.check(v) c WHERE v.name = 'stripe';
ROLLBACK;

-- Unknown sources and null arguments are errors, not rejections.
DO $$
BEGIN
    PERFORM attribution._verify_signature('nosuch', '{}', '{}', ARRAY['s']);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution._verify_signature(NULL, '{}', '{}', ARRAY['s']);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution._verify_signature('stripe', '{}', NULL, ARRAY['s']);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution._verify_signature('stripe', '["Stripe-Signature"]', '{}', ARRAY['s']);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;

-- Settings the sources table refuses.
DO $$
BEGIN
    UPDATE attribution.webhook_sources SET options = '{"encoding": "base32"}' WHERE source = 'friendbuy';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    UPDATE attribution.webhook_sources SET tolerance_seconds = 60 WHERE source = 'friendbuy';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    UPDATE attribution.webhook_sources SET event_id_paths = '{data..id}' WHERE source = 'friendbuy';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;

-- The verification helper is for superusers and tests only.
SELECT r.rolname, has_function_privilege(r.rolname,
           'attribution._verify_signature(text, jsonb, text, text[], timestamptz)', 'EXECUTE') AS can_verify,
       has_function_privilege(r.rolname, 'attribution.ingest_webhook(text, jsonb, text)', 'EXECUTE') AS can_ingest
  FROM pg_roles r
 WHERE r.rolname IN ('attribution_app', 'attribution_analyst', 'attribution_admin')
 ORDER BY r.rolname;
