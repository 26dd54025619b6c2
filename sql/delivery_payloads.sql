-- Payload builders: the exact element each platform gets for fixed inputs,
-- including the hashing vectors of API-CONTRACTS.md.
SET timezone = 'UTC';

-- Test fixtures: a conversion with its billing event, and a touch.
CREATE FUNCTION pg_temp.add_conv(p_kind text, p_object text, p_customer text, p_user text,
                                 p_at timestamptz, p_minor bigint, p_currency text DEFAULT 'USD',
                                 p_ltv bigint DEFAULT NULL, p_details jsonb DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    be bigint;
    cid bigint;
BEGIN
    INSERT INTO attribution.billing_events (provider, kind, fact_key, customer_id, object_id,
                                            amount_minor, currency, occurred_at, user_id, details)
    VALUES ('stripe', p_kind, p_object || ':' || p_kind, p_customer, p_object, p_minor, p_currency,
            p_at, p_user, p_details)
    RETURNING id INTO be;
    INSERT INTO attribution.conversions (billing_event_id, provider, customer_id, user_id, kind,
                                         occurred_at, value_minor, currency, value, ltv_minor,
                                         is_first_payment)
    VALUES (be, 'stripe', p_customer, p_user, p_kind, p_at, p_minor, p_currency,
            attribution._minor_to_major(p_minor, p_currency), coalesce(p_ltv, p_minor),
            p_kind = 'subscription_started')
    RETURNING id INTO cid;
    RETURN cid;
END
$$;

CREATE FUNCTION pg_temp.conv(p_object text, p_kind text DEFAULT NULL) RETURNS bigint
LANGUAGE sql AS $$
    SELECT c.id FROM attribution.conversions c
      JOIN attribution.billing_events b ON b.id = c.billing_event_id
     WHERE b.object_id = p_object AND (p_kind IS NULL OR c.kind = p_kind)
$$;

CREATE FUNCTION pg_temp.dest(p_name text) RETURNS int
LANGUAGE sql AS $$ SELECT id FROM attribution.destinations WHERE name = p_name $$;

-- Destinations are disabled: build_payload ignores the routing gates, and
-- nothing is routed to them here.
INSERT INTO attribution.destinations (name, platform, enabled, endpoint, account, kind_map,
                                      value_mode, adjustment_policy, click_window)
VALUES
    ('p_google', 'google_ads', false, 'https://googleads.googleapis.com',
     '{"customer_id": "123-456-7890"}', '{"subscription_started": "555", "renewal": 556}',
     'payment', 'restate', '90 days'),
    ('p_meta', 'meta', false, 'https://graph.facebook.com',
     '{"pixel_id": "1234567890123456"}', '{}', 'predicted_ltv', 'negative_event', '28 days'),
    ('p_meta_web', 'meta', false, 'https://graph.facebook.com',
     '{"pixel_id": "1", "action_source": "website", "event_source_url": "https://app.example.com/billing/success"}',
     '{"subscription_started": "Purchase", "renewal": true}', 'ltv', 'custom_event', '28 days'),
    ('p_tiktok', 'tiktok', false, 'https://business-api.tiktok.com',
     '{"event_source": "web", "event_source_id": "CMOCKPIXEL123", "page_url": "https://app.example.com/billing/success"}',
     '{}', 'payment', 'none', '60 days'),
    ('p_linkedin', 'linkedin', false, 'https://api.linkedin.com',
     '{}', '{"subscription_started": 123456, "renewal": "urn:lla:llaPartnerConversion:654321"}',
     'payment', 'none', '90 days'),
    ('p_hook', 'webhook', false, 'https://hooks.example.com/conversions', '{}', '{}',
     'payment', 'negative_event', '90 days');

-- user_123 signed in from one browser that carried every click id.
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, gclid, gclid_at,
                                     fbc, fbc_at, fbp, ttclid, ttp, li_fat_id, clicked_at, ip, user_agent)
VALUES ('v_123', 'user_123', '2025-12-31 23:00:00+00', 'https://app.example.com/?gclid=Cj0KCQiAtest_BwE',
        'paid_search', 'Cj0KCQiAtest_BwE', '2025-12-31 23:00:00+00',
        'fb.1.1767000000000.IwAR2F4-test', '2025-12-29 09:20:00+00', 'fb.1.1766990000000.1116446470',
        'E.C.P.mockclick', '2mockttpcookie', 'df5gf5-gh6t7-ph4j7h-fgf6n1', '2025-12-31 23:00:00+00',
        '203.0.113.7', 'Mozilla/5.0');
SELECT attribution.link_customer('stripe', 'cus_123', 'user_123', 'John_Smith@gmail.com');
SELECT attribution.set_consent('user_123', true, false);
SELECT attribution.set_predicted_ltv('user_123', 348, 'usd');
SELECT pg_temp.add_conv('subscription_started', 'in_dlv_001', 'cus_123', 'user_123',
                        '2026-01-01 00:00:00+00', 2900) > 0 AS added;

-- The hashing vectors the builders must reproduce.
SELECT attribution.hash_email('John_Smith@gmail.com', 'meta') AS meta_vector,
       encode(sha256('user_123'), 'hex') AS external_id_vector,
       encode(sha256('test@example.com'), 'hex') AS test_example_vector,
       attribution.hash_email(' ALICE_abc@gmail.com ', 'tiktok') AS tiktok_vector;

-- Google Ads ClickConversion: gclid, action resource name, UTC time with
-- offset, 29.0, order id, hashed e-mail, consent.
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('in_dlv_001')));

-- Meta: Subscribe (standard event for subscription_started), unix seconds,
-- em and external_id hashed, fbc/fbp/IP/UA as they are, predicted_ltv.
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_meta'), pg_temp.conv('in_dlv_001')));
SELECT attribution.build_payload(pg_temp.dest('p_meta'), pg_temp.conv('in_dlv_001'))
           #>> '{user_data,em,0}' = '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f' AS meta_em_ok,
       attribution.build_payload(pg_temp.dest('p_meta'), pg_temp.conv('in_dlv_001'))
           #>> '{user_data,external_id,0}' = '80fba0ae1c48e3978e43e4efc365e14e12ea0c830ba8ba5b9a2dafc7e3f2ab8b' AS meta_external_id_ok;

-- A renewal a month later; the customer's revenue to date is 58.99.
SELECT pg_temp.add_conv('renewal', 'in_dlv_002', 'cus_123', 'user_123',
                        '2026-02-01 00:00:00+00', 2999, 'USD', 5899) > 0 AS added;

-- Meta as a website event: kind_map true (standard event), event_source_url,
-- value_mode ltv.
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_meta_web'), pg_temp.conv('in_dlv_002')));
SELECT attribution.build_payload(pg_temp.dest('p_meta_web'), pg_temp.conv('in_dlv_001')) ->> 'event_name'
       AS mapped_name;

-- TikTok: CompletePayment for a renewal; email and external_id hashed.
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_tiktok'), pg_temp.conv('in_dlv_002')));

-- LinkedIn: rule URN, epoch milliseconds, amount as a string.
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_linkedin'), pg_temp.conv('in_dlv_001')));
SELECT attribution.build_payload(pg_temp.dest('p_linkedin'), pg_temp.conv('in_dlv_002'))
           -> 'conversion' AS renewal_rule,
       attribution.build_payload(pg_temp.dest('p_linkedin'), pg_temp.conv('in_dlv_002'))
           -> 'conversionValue' AS renewal_value;

-- Webhook: our own shape, every click id, the user id and lifetime value.
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_hook'), pg_temp.conv('in_dlv_002')) - 'conversion_id');
SELECT (attribution.build_payload(pg_temp.dest('p_hook'), pg_temp.conv('in_dlv_002')) ->> 'conversion_id')::bigint
       = pg_temp.conv('in_dlv_002') AS conversion_id_ok;

-- TikTok vector: ' ALICE_abc@gmail.com ' -> 848a7714...; u_42 -> afc2d29f...
-- No click ids and no touches: only hashed identifiers; no page when the
-- destination has none configured.
SELECT attribution.link_customer('stripe', 'cus_42', 'u_42', ' ALICE_abc@gmail.com ');
SELECT pg_temp.add_conv('renewal', 'in_test_042', 'cus_42', 'u_42',
                        '2026-01-01 00:00:00+00', 1000) > 0 AS added;
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_tiktok'), pg_temp.conv('in_test_042')));
SELECT p #>> '{user,email,0}' = '848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f' AS tiktok_email_ok,
       p #>> '{user,external_id,0}' = 'afc2d29f5ba19d741c1f777eb30989cb450e9b7ad5bab15ab72a12d62b6cc40b' AS tiktok_external_id_ok
  FROM attribution.build_payload(pg_temp.dest('p_tiktok'), pg_temp.conv('in_test_042')) p;

-- LinkedIn vector: test@example.com -> 973dfe46...; no li_fat_id.
SELECT attribution.link_customer('stripe', 'cus_t', 'u_test', 'Test@Example.com');
SELECT pg_temp.add_conv('subscription_started', 'in_test_t', 'cus_t', 'u_test',
                        '2026-01-01 00:00:00+00', 2900) > 0 AS added;
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_linkedin'), pg_temp.conv('in_test_t')));

-- Google normalisation: dots of a gmail local part are dropped (Meta keeps them).
SELECT attribution.link_customer('stripe', 'cus_dots', 'u_dots', ' Jo.Hn.Doe@GMail.com');
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, wbraid, clicked_at)
VALUES ('v_dots', 'u_dots', '2025-12-30 00:00:00+00', 'https://app.example.com/?wbraid=WB1', 'paid_search',
        'WB1', '2025-12-30 00:00:00+00');
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, gbraid, gbraid_at, clicked_at)
VALUES ('v_dots', 'u_dots', '2025-12-29 00:00:00+00', 'https://app.example.com/?gbraid=GB1', 'paid_search',
        'GB1', '2025-12-29 00:00:00+00', '2025-12-29 00:00:00+00');
SELECT pg_temp.add_conv('subscription_started', 'in_dots', 'cus_dots', 'u_dots',
                        '2026-01-01 00:00:00+00', 1999) > 0 AS added;
SELECT p ->> 'hashedEmail' = encode(sha256('johndoe@gmail.com'), 'hex') AS google_dots_dropped
  FROM attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('in_dots')) b,
       jsonb_array_elements(b -> 'userIdentifiers') p;
SELECT attribution.build_payload(pg_temp.dest('p_meta'), pg_temp.conv('in_dots')) #>> '{user_data,em,0}'
       = encode(sha256('jo.hn.doe@gmail.com'), 'hex') AS meta_dots_kept;
-- braid rules: no gclid, so the most recent braid, and only one of them;
-- no consent known, so no consent object.
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('in_dots')));
-- a gclid, even an older one, wins over a braid
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, gclid, gclid_at, clicked_at)
VALUES ('v_dots', 'u_dots', '2025-12-01 00:00:00+00', 'https://app.example.com/?gclid=G_OLD', 'paid_search',
        'G_OLD', '2025-12-01 00:00:00+00', '2025-12-01 00:00:00+00');
SELECT b ->> 'gclid' AS gclid, b ? 'gbraid' AS has_gbraid, b ? 'wbraid' AS has_wbraid
  FROM attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('in_dots')) b;
-- a click after the conversion or before the window is not the conversion's
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, gclid, gclid_at, clicked_at)
VALUES ('v_dots', 'u_dots', '2026-01-02 00:00:00+00', 'https://app.example.com/?gclid=G_AFTER', 'paid_search',
        'G_AFTER', '2026-01-02 00:00:00+00', '2026-01-02 00:00:00+00'),
       ('v_dots', 'u_dots', '2025-09-01 00:00:00+00', 'https://app.example.com/?gclid=G_ANCIENT', 'paid_search',
        'G_ANCIENT', '2025-09-01 00:00:00+00', '2025-09-01 00:00:00+00');
SELECT attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('in_dots')) ->> 'gclid' AS gclid;

-- Adjustments.  A partial refund of in_dlv_001 (29.00 -> 14.50) is a
-- RESTATEMENT with the new total; the rest of it a RETRACTION.
SELECT pg_temp.add_conv('refund', 're_001', 'cus_123', 'user_123', '2026-01-10 12:00:00+00', -1450,
                        'USD', 1450, '{"charge_id": "ch_001", "invoice_id": "in_dlv_001"}') > 0 AS added;
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('re_001'), 'adjustment'));
SELECT pg_temp.add_conv('refund', 're_002', 'cus_123', 'user_123', '2026-01-11 12:00:00+00', -1450,
                        'USD', 0, '{"invoice_id": "in_dlv_001"}') > 0 AS added;
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('re_002'), 'adjustment'));
-- Meta negative_event and webhook: an event of their own with a negative
-- value; Meta custom_event: the refunded amount as a positive value.
SELECT jsonb_pretty(attribution.build_payload(pg_temp.dest('p_meta'), pg_temp.conv('re_001'), 'adjustment'));
SELECT b ->> 'event_name' AS event_name, b -> 'custom_data' AS custom_data
  FROM attribution.build_payload(pg_temp.dest('p_meta_web'), pg_temp.conv('re_001'), 'adjustment') b;
SELECT b ->> 'id' AS id, b ->> 'type' AS type, b ->> 'event' AS event, b -> 'value' AS value,
       b ->> 'order_id' AS order_id
  FROM attribution.build_payload(pg_temp.dest('p_hook'), pg_temp.conv('re_001'), 'adjustment') b;
-- a refund found through the payment's details (charge id) instead
SELECT pg_temp.add_conv('subscription_started', 'in_test_050', 'cus_123', 'user_123',
                        '2026-01-05 00:00:00+00', 5000, 'USD', NULL, '{"charge_id": "ch_050"}') > 0 AS added;
SELECT pg_temp.add_conv('chargeback', 'dp_050', 'cus_123', 'user_123', '2026-01-20 00:00:00+00', -5000,
                        'USD', 0, '{"charge": "ch_050"}') > 0 AS added;
SELECT b ->> 'orderId' AS order_id, b ->> 'adjustmentType' AS type, b ? 'restatementValue' AS has_value
  FROM attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('dp_050'), 'adjustment') b;

-- Numbers: the shortest decimal with one fractional digit; zero-decimal
-- currencies; LinkedIn's string amount follows the same rule.
SELECT pg_temp.add_conv('renewal', 'in_jpy', 'cus_123', 'user_123', '2026-01-03 00:00:00+00', 4500, 'JPY') > 0 AS added;
SELECT pg_temp.add_conv('renewal', 'in_cents', 'cus_123', 'user_123', '2026-01-03 00:00:00+00', 1005, 'EUR') > 0 AS added;
SELECT o AS object_id,
       attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv(o)) -> 'conversionValue' AS google,
       attribution.build_payload(pg_temp.dest('p_meta'), pg_temp.conv(o)) #> '{custom_data,value}' AS meta,
       attribution.build_payload(pg_temp.dest('p_linkedin'), pg_temp.conv(o)) #> '{conversionValue,amount}' AS linkedin
  FROM unnest(ARRAY['in_dlv_001', 'in_dlv_002', 'in_jpy', 'in_cents']) o
 ORDER BY o;

-- Strings are escaped: a user agent with quotes, a backslash and a newline
-- comes back unchanged from the parsed payload.
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, ip, user_agent)
VALUES ('v_esc', 'u_esc', '2025-12-31 00:00:00+00', 'https://app.example.com/', 'direct', '2001:db8::1',
        E'Agent "quoted" \\ back\nslash\t\u0001end');
SELECT attribution.link_customer('stripe', 'cus_esc', 'u_esc', 'esc@example.com');
SELECT pg_temp.add_conv('renewal', E'in_"esc"\\', 'cus_esc', 'u_esc', '2026-01-01 00:00:00+00', 100) > 0 AS added;
SELECT b #>> '{user_data,client_user_agent}' = E'Agent "quoted" \\ back\nslash\t\u0001end' AS ua_roundtrip,
       b ->> 'event_id' = E'in_"esc"\\' AS event_id_roundtrip,
       b #> '{user_data,client_user_agent}' AS ua_json,
       b #> '{user_data,client_ip_address}' AS ip
  FROM attribution.build_payload(pg_temp.dest('p_meta'), pg_temp.conv(E'in_"esc"\\')) b;

-- Errors: unknown ids, a kind that does not match, an unmapped kind.
DO $$
BEGIN
    PERFORM attribution.build_payload(-1, 1);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, regexp_replace(SQLERRM, 'conversion [0-9]+', 'conversion N', 'g');
END
$$;
DO $$
BEGIN
    PERFORM attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('re_001'));
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, regexp_replace(SQLERRM, 'conversion [0-9]+', 'conversion N', 'g');
END
$$;
DO $$
BEGIN
    PERFORM attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('in_dlv_001'), 'refund');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, regexp_replace(SQLERRM, 'conversion [0-9]+', 'conversion N', 'g');
END
$$;
DO $$
BEGIN
    -- a one_time_purchase is not in this destination's kind_map
    PERFORM pg_temp.add_conv('one_time_purchase', 'in_otp', 'cus_123', 'user_123', '2026-01-04 00:00:00+00', 500);
    PERFORM attribution.build_payload(pg_temp.dest('p_google'), pg_temp.conv('in_otp'));
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, regexp_replace(SQLERRM, 'conversion [0-9]+', 'conversion N', 'g');
END
$$;

-- Account defaults: a Google destination with one conversion action for
-- every payment kind, a LinkedIn one with a default rule.
INSERT INTO attribution.destinations (name, platform, enabled, endpoint, account, kind_map)
VALUES ('p_google_default', 'google_ads', false, 'https://googleads.googleapis.com',
        '{"customer_id": "1234567890", "conversion_action": "777"}', '{}'),
       ('p_linkedin_default', 'linkedin', false, 'https://api.linkedin.com',
        '{"conversion_rule": "888"}', '{"renewal": true, "subscription_started": false}');
SELECT attribution.build_payload(pg_temp.dest('p_google_default'), pg_temp.conv('in_dlv_002')) ->> 'conversionAction' AS google_action,
       attribution.build_payload(pg_temp.dest('p_linkedin_default'), pg_temp.conv('in_dlv_002')) ->> 'conversion' AS linkedin_rule;
DO $$
BEGIN
    PERFORM attribution.build_payload(pg_temp.dest('p_linkedin_default'), pg_temp.conv('in_dlv_001'));
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, regexp_replace(SQLERRM, 'conversion [0-9]+', 'conversion N', 'g');
END
$$;

-- Nothing was routed to the disabled destinations.
SELECT count(*) AS outbox_rows FROM attribution.outbox o
  JOIN attribution.destinations d ON d.id = o.destination_id WHERE d.name LIKE 'p\_%';

-- The destinations of this test go.
DELETE FROM attribution.destinations WHERE name LIKE 'p\_%';
