-- ingest_webhook(): verify against the vault's secrets, store once per
-- (source, event id), answer duplicates, record rejections (never the body or
-- a secret), and what the application role may do.

-- A vault key of this test's own, in the data directory.
DO $$
BEGIN
    EXECUTE format('COPY (SELECT %L) TO %L', repeat('a1', 32),
                   current_setting('data_directory') || '/pg_attribution_regress.key');
END
$$;
SET pg_attribution.vault_key_file = 'pg_attribution_regress.key';

CREATE TEMP TABLE hooks (
    name        text PRIMARY KEY,
    source      text NOT NULL,
    secret      text NOT NULL,
    headers     jsonb NOT NULL,
    body        text NOT NULL
);
INSERT INTO hooks VALUES
('stripe', 'stripe', 'whsec_test_secret_0123456789abcdef',
 '{"Stripe-Signature": "t=1767225600,v1=44860e038c8adc6a55db43536761c717ffc73b14e82805cb334aab3359715a29,v1=5dcb27689cd51db9876cf21d753b338b9f09cc4df2fb6b8dbf0f5e0a0055b8df", "Content-Type": "application/json"}',
 '{"id":"evt_test_001","object":"event","type":"invoice.paid","created":1767225600,"data":{"object":{"id":"in_test_001","object":"invoice","billing_reason":"subscription_create","amount_paid":2900,"currency":"usd"}}}'),
('paddle', 'paddle', 'pdl_ntfset_01testdestination_TESTSECRETKEY0123456789',
 '{"paddle-signature": "ts=1767225600;h1=7a9834065fcf3eef75486d8a2251efbee6bf644564f9d05bef01be4108677f17"}',
 '{"event_id":"evt_01test0000000000000000000","event_type":"transaction.completed","occurred_at":"2026-01-01T00:00:00.000000Z","notification_id":"ntf_01test0000000000000000000","data":{"id":"txn_01test0000000000000000000","status":"completed","origin":"web","custom_data":{"app_user_id":"u_42"},"currency_code":"USD","details":{"totals":{"grand_total":"2900"}}}}'),
('lemonsqueezy', 'lemonsqueezy', 'ls_test_secret_42',
 '{"X-Event-Name": "subscription_payment_success", "X-SIGNATURE": "4c29c09d21c88ed8a952c6055ea7ceede98ef7f3505449e9e3843663dcf2b67a"}',
 '{"meta":{"event_name":"subscription_payment_success","custom_data":{"app_user_id":"u_42"}},"data":{"type":"subscription-invoices","id":"1001","attributes":{"subscription_id":2002,"billing_reason":"renewal","status":"paid","currency":"USD","total":2900}}}'),
('friendbuy', 'friendbuy', 'fb_test_secret_key',
 '{"X-Friendbuy-Hmac-SHA256": ["zrO5skzIWwMsupI8Ve7GLt9+WDv8SzCQeWP4QxDe5rE="]}',
 '{"id":"255e4e45-446d-499d-a680-44ab1eca73fb","type":"advocateReward","data":[{"rewardId":"r-1","rewardType":"credit","rewardUnit":"USD","customerId":"u_42","emailAddress":"adv@example.com","amount":20,"createdOn":"2026-01-01T00:00:00.000Z"}],"createdOn":"2026-01-01T00:00:01.000Z"}'),
('mentionme', 'mentionme', 'mm_test_secret',
 '{"X-MentionMe-Signature": "sha256=3b46da199e5c2f152084a232d9b111c54eb1719fc508694fa07347ea111eb14a"}',
 '{"type":"referral.created","customer":{"uniqueIdentifier":"u_42"}}'),
('extole', 'extole', 'extole_client_key_secret',
 '{"X-Extole-Signature": "af6a2a6a3da5e403fe7eb696e16b60f6353915c494e191c92411d5598190e566"}',
 '{"type":"reward_earned","event_id":"qb3jju459ugjr2aojk5e","partner_user_id":"u_42","face_value":50,"face_value_type":"USD","schema_version":1}'),
('segment', 'segment', 'seg_test_shared_secret',
 '{"X-Signature": "8bb6530b5f5783ead2daf306b6f17cb2cb73819d"}',
 '{"type":"page","messageId":"msg-page-0001","anonymousId":"anon-1","properties":{"url":"https://example.com/pricing?utm_source=google&utm_medium=cpc"}}'),
('rudderstack', 'rudderstack', 'rs_test_shared_secret',
 '{"Authorization": "Bearer rs_test_shared_secret"}',
 '{"type":"identify","messageId":"msg-identify-0001","anonymousId":"anon-1","userId":"u_42"}');

-- Start from no secrets or inbox rows of these sources; remember where the
-- rejections log stood.
DELETE FROM attribution.webhook_inbox WHERE source IN (SELECT source FROM hooks);
DELETE FROM attribution.webhook_secrets WHERE source IN (SELECT source FROM hooks);
SELECT coalesce(max(id), 0) AS rejections_before FROM attribution.webhook_rejections \gset

-- The vectors were signed on 2026-01-01: a tolerance wide enough for them.
UPDATE attribution.webhook_sources SET tolerance_seconds = 1000000000 WHERE source IN ('stripe', 'paddle');

-- Before any secret is stored, every call is refused with 503.
SELECT h.name, (r).status, (r).http_status, (r).detail
  FROM hooks h, attribution.ingest_webhook(h.source, h.headers, h.body) r
 WHERE h.name = 'stripe';

SELECT h.name, attribution.set_webhook_secret(h.source, h.secret) > 0 AS stored
  FROM hooks h ORDER BY h.name;

-- Each source accepts its vector, then answers the same call as a duplicate.
SELECT h.name, (r).status, (r).event_id, (r).http_status, (r).detail
  FROM hooks h, attribution.ingest_webhook(h.source, h.headers, h.body) r
 ORDER BY h.name;
SELECT h.name, (r).status, (r).event_id, (r).http_status, (r).detail
  FROM hooks h, attribution.ingest_webhook(h.source, h.headers, h.body) r
 ORDER BY h.name;

-- Statement triggers on the inbox fire when an event is stored (the
-- processor worker is woken by one).
BEGIN;
CREATE FUNCTION pg_temp.count_inbox_statements() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('regress.inbox_statements',
                       (coalesce(nullif(current_setting('regress.inbox_statements', true), ''), '0')::int + 1)::text,
                       true);
    RETURN NULL;
END
$$;
CREATE TRIGGER regress_inbox_statements AFTER INSERT ON attribution.webhook_inbox
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.count_inbox_statements();
SELECT r.status FROM attribution.ingest_webhook('rudderstack', '{"Authorization": "Bearer rs_test_shared_secret"}',
        '{"type":"track","messageId":"msg-trigger-0001"}') r;
SELECT current_setting('regress.inbox_statements', true) AS statement_triggers_fired;
ROLLBACK;

-- The inbox holds each body once, exactly as received.
SELECT i.source, i.event_id, i.event_type, i.body = h.body AS body_as_received,
       i.body_sha256 = encode(sha256(convert_to(h.body, 'UTF8')), 'hex') AS digest_ok
  FROM attribution.webhook_inbox i JOIN hooks h ON h.source = i.source
 ORDER BY i.source;

-- The same event id with another body: a duplicate, and the first body is kept.
SELECT * FROM attribution.ingest_webhook('rudderstack', '{"Authorization": "Bearer rs_test_shared_secret"}',
        '{"type":"identify","messageId":"msg-identify-0001","anonymousId":"anon-2","userId":"u_43"}');
SELECT body LIKE '%anon-1%' AS first_body_kept
  FROM attribution.webhook_inbox WHERE source = 'rudderstack' AND event_id = 'msg-identify-0001';

-- Rejections: recorded with reason, digest and length, never the body.  (The
-- age of a stale signature depends on today's date: it is masked.)
UPDATE attribution.webhook_sources SET tolerance_seconds = 300 WHERE source = 'stripe';
SELECT label, (r).status, (r).event_id, (r).http_status,
       regexp_replace((r).detail, 'is \d+ seconds old', 'is N seconds old') AS detail
  FROM (VALUES (1, 'stale', 'stripe',
                (SELECT headers FROM hooks WHERE name = 'stripe'),
                '{"id":"evt_test_001","object":"event","type":"invoice.paid","created":1767225600,"data":{"object":{"id":"in_test_001","object":"invoice","billing_reason":"subscription_create","amount_paid":2900,"currency":"usd"}}}'),
               (2, 'forged', 'lemonsqueezy',
                '{"X-Signature": "0000000000000000000000000000000000000000000000000000000000000000"}'::jsonb,
                '{"meta":{"event_name":"order_created"},"data":{"type":"orders","id":"1"}}'),
               (3, 'unsigned', 'friendbuy', '{}'::jsonb, '{"id":"x"}'),
               (4, 'malformed', 'rudderstack', '{"Authorization": "Bearer rs_test_shared_secret"}'::jsonb, '{"type":'))
         AS t(ord, label, source, headers, body),
       LATERAL attribution.ingest_webhook(t.source, t.headers, t.body) r
 ORDER BY t.ord;
SET pg_attribution.max_webhook_body = 1024;
SELECT * FROM attribution.ingest_webhook('rudderstack', '{"Authorization": "Bearer rs_test_shared_secret"}',
        '{"type":"page","pad":"' || repeat('x', 2000) || '"}');
RESET pg_attribution.max_webhook_body;
UPDATE attribution.webhook_sources SET enabled = false WHERE source = 'extole';
SELECT r.* FROM hooks h, attribution.ingest_webhook(h.source, h.headers, h.body) r WHERE h.name = 'extole';
UPDATE attribution.webhook_sources SET enabled = true WHERE source = 'extole';

SELECT source, reason, http_status, body_length, signature_timestamp,
       body_sha256 ~ '^[0-9a-f]{64}$' AS has_digest,
       regexp_replace(detail, 'is \d+ seconds old', 'is N seconds old') AS detail
  FROM attribution.webhook_rejections
 WHERE id > :rejections_before
 ORDER BY id;
-- No rejection names a secret.
SELECT count(*) AS rejections_naming_a_secret
  FROM attribution.webhook_rejections r, hooks h
 WHERE r.id > :rejections_before AND strpos(r.detail, h.secret) > 0;
-- A rejected event is not an event.
SELECT count(*) AS inbox_rows FROM attribution.webhook_inbox WHERE source IN (SELECT source FROM hooks);

-- An unknown source is an error, and is not recorded.
DO $$
BEGIN
    PERFORM attribution.ingest_webhook('nosuch', '{}', '{}');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
SELECT count(*) AS rejections_of_unknown FROM attribution.webhook_rejections
 WHERE source = 'nosuch' AND id > :rejections_before;

-- The application role ingests (SECURITY DEFINER) but reads nothing.
GRANT SELECT ON hooks TO attribution_app;
SET ROLE attribution_app;
SELECT (attribution.ingest_webhook(h.source, h.headers, h.body)).status FROM hooks h WHERE h.name = 'paddle';
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_inbox', 'webhook_rejections', 'webhook_secrets', 'webhook_sources'] LOOP
        BEGIN
            EXECUTE format('SELECT count(*) FROM attribution.%I', t);
            RAISE NOTICE '%: readable', t;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: %', t, SQLSTATE;
        END;
    END LOOP;
END
$$;
DO $$
BEGIN
    PERFORM attribution.set_webhook_secret('stripe', 'whsec_app_tries');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;

-- Leave the database as found: no inbox rows, secrets or rejections of this test.
DELETE FROM attribution.webhook_inbox WHERE source IN (SELECT source FROM hooks);
DELETE FROM attribution.webhook_secrets WHERE source IN (SELECT source FROM hooks);
DELETE FROM attribution.webhook_rejections WHERE id > :rejections_before;
UPDATE attribution.webhook_sources SET tolerance_seconds = 300 WHERE source = 'stripe';
UPDATE attribution.webhook_sources SET tolerance_seconds = 5 WHERE source = 'paddle';
RESET pg_attribution.vault_key_file;
