-- Routing: which enabled destinations claim a conversion, in the
-- transaction that records it.  Times are relative to now() (max_event_age
-- is measured at routing time); only decisions are printed.
SET timezone = 'UTC';

CREATE FUNCTION pg_temp.add_conv(p_kind text, p_object text, p_customer text, p_user text,
                                 p_ago interval, p_minor bigint, p_details jsonb DEFAULT NULL,
                                 p_parent text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    be bigint;
    cid bigint;
BEGIN
    INSERT INTO attribution.billing_events (provider, kind, fact_key, customer_id, object_id,
                                            parent_object_id, amount_minor, currency, occurred_at,
                                            user_id, details)
    VALUES ('stripe', p_kind, p_object || ':' || p_kind, p_customer, p_object, p_parent, p_minor, 'USD',
            date_trunc('second', now()) - p_ago, p_user, p_details)
    RETURNING id INTO be;
    INSERT INTO attribution.conversions (billing_event_id, provider, customer_id, user_id, kind,
                                         occurred_at, value_minor, currency, value, ltv_minor)
    VALUES (be, 'stripe', p_customer, p_user, p_kind, date_trunc('second', now()) - p_ago, p_minor,
            'USD', p_minor / 100.0, p_minor)
    RETURNING id INTO cid;
    RETURN cid;
END
$$;

CREATE FUNCTION pg_temp.conv(p_object text) RETURNS bigint
LANGUAGE sql AS $$
    SELECT c.id FROM attribution.conversions c
      JOIN attribution.billing_events b ON b.id = c.billing_event_id
     WHERE b.object_id = p_object
$$;

CREATE FUNCTION pg_temp.touch(p_visitor text, p_user text, p_ago interval, p_ids jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel,
                                         gclid, gclid_at, gbraid, wbraid, fbc, fbc_at, fbp,
                                         ttclid, ttp, li_fat_id, clicked_at)
    VALUES (p_visitor, p_user, date_trunc('second', now()) - p_ago, 'https://app.example.com/', 'paid',
            p_ids ->> 'gclid', CASE WHEN p_ids ? 'gclid' THEN date_trunc('second', now()) - p_ago END,
            p_ids ->> 'gbraid', p_ids ->> 'wbraid',
            p_ids ->> 'fbc', CASE WHEN p_ids ? 'fbc' THEN date_trunc('second', now()) - p_ago END,
            p_ids ->> 'fbp', p_ids ->> 'ttclid', p_ids ->> 'ttp', p_ids ->> 'li_fat_id',
            date_trunc('second', now()) - p_ago)
$$;

-- Decisions of the r_* destinations for one conversion.
CREATE FUNCTION pg_temp.decisions(p_object text)
RETURNS TABLE (destination text, kind text, decision text) LANGUAGE sql AS $$
    SELECT e.destination, e.kind, e.decision
      FROM attribution.explain_routing(pg_temp.conv(p_object)) e
     WHERE e.destination LIKE 'r\_%'
     ORDER BY e.destination
$$;

-- What the r_* destinations hold in the outbox for one object.
CREATE FUNCTION pg_temp.claimed(p_object text)
RETURNS TABLE (destination text, kind text, dedup_key text) LANGUAGE sql AS $$
    SELECT d.name, o.kind, o.dedup_key
      FROM attribution.outbox o
      JOIN attribution.destinations d ON d.id = o.destination_id
      JOIN attribution.conversions c ON c.id = o.conversion_id
      JOIN attribution.billing_events b ON b.id = c.billing_event_id
     WHERE b.object_id = p_object AND d.name LIKE 'r\_%'
     ORDER BY d.name, o.kind, o.dedup_key
$$;

-- Paused, so that a delivery worker running in this database holds their
-- events: routing does not look at the pause.
INSERT INTO attribution.destinations (name, platform, enabled, endpoint, account, kind_map,
                                      click_window, max_event_age, adjustment_policy, require_consent,
                                      paused_until, pause_reason)
VALUES
    ('r_google', 'google_ads', true, 'https://googleads.googleapis.com', '{"customer_id": "1234567890"}',
     '{"subscription_started": "555", "renewal": "556"}', '30 days', '90 days', 'restate', false, 'infinity', 'test'),
    ('r_linkedin', 'linkedin', true, 'https://api.linkedin.com', '{}',
     '{"subscription_started": 777}', '30 days', '90 days', 'none', false, 'infinity', 'test'),
    ('r_meta', 'meta', true, 'https://graph.facebook.com', '{"pixel_id": "1"}',
     '{}', '7 days', '7 days', 'none', false, 'infinity', 'test'),
    ('r_meta_off', 'meta', false, 'https://graph.facebook.com', '{"pixel_id": "2"}',
     '{}', '7 days', '7 days', 'none', false, 'infinity', 'test'),
    ('r_tiktok', 'tiktok', true, 'https://business-api.tiktok.com', '{"event_source_id": "C1"}',
     '{}', '28 days', '28 days', 'negative_event', true, 'infinity', 'test'),
    ('r_webhook', 'webhook', true, 'https://hooks.example.com/c', '{}',
     '{}', '90 days', '90 days', 'negative_event', false, 'infinity', 'test');

-- A gclid 10 days before the conversion: Google claims it; Meta and
-- LinkedIn have nothing to match; TikTok requires consent; the webhook
-- takes everything; the disabled destination nothing.
SELECT pg_temp.touch('rv1', 'ru1', '10 days', '{"gclid": "G-RU1"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_1', 'rc1', 'ru1', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.decisions('r_in_1');
SELECT * FROM pg_temp.claimed('r_in_1');
SELECT o.payload ->> 'gclid' AS gclid FROM attribution.outbox o
  JOIN attribution.destinations d ON d.id = o.destination_id
 WHERE d.name = 'r_google' AND o.dedup_key = 'r_in_1';

-- A gclid 40 days before is outside Google's 30-day window.
SELECT pg_temp.touch('rv2', 'ru2', '40 days', '{"gclid": "G-RU2"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_2', 'rc2', 'ru2', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.decisions('r_in_2') WHERE destination = 'r_google';

-- No click id, but a hashed e-mail: Meta and LinkedIn claim it, Google
-- does not (it needs a click).
SELECT attribution.link_customer('stripe', 'rc3', 'ru3', 'ru3@example.com');
SELECT pg_temp.add_conv('subscription_started', 'r_in_3', 'rc3', 'ru3', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.claimed('r_in_3');

-- Meta click ids within 7 days match; an fbc 8 days old does not.
SELECT pg_temp.touch('rv4', 'ru4', '8 days', '{"fbc": "fb.1.1.OLD"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_4a', 'rc4', 'ru4', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.decisions('r_in_4a') WHERE destination = 'r_meta';
SELECT * FROM pg_temp.claimed('r_in_4a') WHERE destination = 'r_meta';
SELECT pg_temp.touch('rv4', 'ru4', '2 days', '{"fbp": "fb.1.2.FBP"}');
SELECT pg_temp.add_conv('renewal', 'r_in_4b', 'rc4', 'ru4', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.claimed('r_in_4b') WHERE destination = 'r_meta';
-- fbp as it is, external_id = sha256 of the user id, no e-mail known
SELECT o.payload -> 'user_data' AS user_data,
       o.payload #>> '{user_data,external_id,0}' = encode(sha256('ru4'), 'hex') AS external_id_ok
  FROM attribution.outbox o
 WHERE o.dedup_key = 'r_in_4b' AND o.destination_id = (SELECT id FROM attribution.destinations WHERE name = 'r_meta');

-- Consent.  Granted: TikTok (require_consent) claims it.  Denied: Meta,
-- TikTok and LinkedIn do not; Google gets it with adUserData DENIED.
SELECT attribution.link_customer('stripe', 'rc5', 'ru5', 'ru5@example.com');
SELECT attribution.set_consent('ru5', true, true);
SELECT pg_temp.touch('rv5', 'ru5', '1 day', '{"ttclid": "TT-RU5", "gclid": "G-RU5"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_5', 'rc5', 'ru5', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.decisions('r_in_5');
SELECT attribution.link_customer('stripe', 'rc6', 'ru6', 'ru6@example.com');
SELECT attribution.set_consent('ru6', false, false);
SELECT pg_temp.touch('rv6', 'ru6', '1 day', '{"gclid": "G-RU6", "fbc": "fb.1.3.RU6", "li_fat_id": "LI-RU6"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_6', 'rc6', 'ru6', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.decisions('r_in_6');
SELECT o.payload -> 'consent' AS google_consent FROM attribution.outbox o
 WHERE o.dedup_key = 'r_in_6' AND o.destination_id = (SELECT id FROM attribution.destinations WHERE name = 'r_google');
SELECT o.payload -> 'consent' AS webhook_consent FROM attribution.outbox o
 WHERE o.dedup_key = 'r_in_6' AND o.destination_id = (SELECT id FROM attribution.destinations WHERE name = 'r_webhook');

-- A kind a destination does not map: one_time_purchase is not in Google's
-- or LinkedIn's kind_map; Meta's empty map sends it as Purchase.
SELECT pg_temp.add_conv('one_time_purchase', 'r_in_7', 'rc3', 'ru3', '1 hour', 900) > 0 AS added;
SELECT * FROM pg_temp.decisions('r_in_7');
SELECT d.name, coalesce(o.payload ->> 'event_name', o.payload ->> 'event') AS event
  FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
 WHERE o.dedup_key = 'r_in_7' AND d.name LIKE 'r\_%'
 ORDER BY d.name;

-- Maximum event age at routing time: 10 days is too old for Meta (7 days)
-- and fine for Google (90 days).
SELECT attribution.link_customer('stripe', 'rc8', 'ru8', 'ru8@example.com');
SELECT pg_temp.touch('rv8', 'ru8', '12 days', '{"gclid": "G-RU8"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_8', 'rc8', 'ru8', '10 days', 2900) > 0 AS added;
SELECT * FROM pg_temp.decisions('r_in_8');

-- Adjustments of r_in_1 (29.00, sent to Google and the webhook): a
-- partial refund restates it to 19.00, the rest retracts it; Meta never
-- had it, TikTok's policy would send a negative event but it never had it
-- either.
SELECT pg_temp.add_conv('refund', 'r_re_1', 'rc1', 'ru1', '30 minutes', -1000,
                        '{"invoice_id": "r_in_1"}') > 0 AS added;
SELECT * FROM pg_temp.decisions('r_re_1');
-- (this one names its payment the way the ingest normalisers do)
SELECT pg_temp.add_conv('refund', 'r_re_2', 'rc1', 'ru1', '20 minutes', -1900,
                        NULL, 'r_in_1') > 0 AS added;
SELECT d.name, o.kind, o.dedup_key, coalesce(o.payload ->> 'orderId', o.payload ->> 'order_id') AS order_id,
       o.payload ->> 'adjustmentType' AS adjustment_type,
       o.payload #> '{restatementValue,adjustedValue}' AS adjusted_value,
       o.payload -> 'value' AS webhook_value,
       o.event_time = c.occurred_at AS event_time_is_original
  FROM attribution.outbox o
  JOIN attribution.destinations d ON d.id = o.destination_id
  CROSS JOIN attribution.conversions c
 WHERE o.kind = 'adjustment' AND d.name LIKE 'r\_%' AND c.id = pg_temp.conv('r_in_1')
 ORDER BY d.name, o.dedup_key;
SELECT a.adjustment_id = pg_temp.conv('r_re_1') AS first, a.original_id = pg_temp.conv('r_in_1') AS original
  FROM attribution.adjustment_links a WHERE a.adjustment_id IN (pg_temp.conv('r_re_1'))
 ORDER BY a.adjustment_id;

-- A refund whose payment cannot be found routes nothing.
SELECT pg_temp.add_conv('refund', 'r_re_lost', 'rc_unknown', 'ru1', '10 minutes', -500,
                        '{"invoice_id": "in_nowhere"}') > 0 AS added;
SELECT * FROM pg_temp.decisions('r_re_lost');
SELECT count(*) AS lost_rows FROM pg_temp.claimed('r_re_lost');

-- A downgrade with a negative amount is an adjustment too.
SELECT pg_temp.add_conv('downgrade', 'r_dg_5', 'rc5', 'ru5', '10 minutes', -900,
                        '{"invoice_id": "r_in_5"}') > 0 AS added;
SELECT * FROM pg_temp.claimed('r_dg_5') WHERE kind = 'adjustment';
SELECT o.payload ->> 'adjustmentType' AS type, o.payload #> '{restatementValue,adjustedValue}' AS adjusted
  FROM attribution.outbox o
 WHERE o.dedup_key = 'r_dg_5:downgrade'
   AND o.destination_id = (SELECT id FROM attribution.destinations WHERE name = 'r_google');

-- Adjustment gates.  Google takes adjustments of conversions up to 54
-- days old (adjustment_max_age), measured from the original conversion.
SELECT pg_temp.touch('rv12', 'ru12', '61 days', '{"gclid": "G-RU12"}');
UPDATE attribution.destinations SET max_event_age = '100 days', click_window = '100 days' WHERE name = 'r_google';
SELECT pg_temp.add_conv('subscription_started', 'r_in_12', 'rc12', 'ru12', '60 days', 2900) > 0 AS added;
UPDATE attribution.destinations SET max_event_age = '90 days', click_window = '30 days' WHERE name = 'r_google';
SELECT pg_temp.add_conv('refund', 'r_re_12', 'rc12', 'ru12', '1 minute', -2900, NULL, 'r_in_12') > 0 AS added;
SELECT * FROM pg_temp.claimed('r_in_12') WHERE destination = 'r_google';
SELECT * FROM pg_temp.decisions('r_re_12') WHERE destination = 'r_google';
-- A refund in another currency than the payment is not sent.
INSERT INTO attribution.billing_events (provider, kind, fact_key, customer_id, object_id, parent_object_id,
                                        amount_minor, currency, occurred_at, user_id)
VALUES ('stripe', 'refund', 'r_re_eur:refund', 'rc5', 'r_re_eur', 'r_in_5', -500, 'EUR', now(), 'ru5');
INSERT INTO attribution.conversions (billing_event_id, provider, customer_id, user_id, kind, occurred_at,
                                     value_minor, currency, value, ltv_minor)
SELECT b.id, 'stripe', 'rc5', 'ru5', 'refund', b.occurred_at, -500, 'EUR', -5.00, 0
  FROM attribution.billing_events b WHERE b.fact_key = 'r_re_eur:refund';
SELECT * FROM pg_temp.decisions('r_re_eur') WHERE destination IN ('r_google', 'r_webhook');
-- With the retract policy, Google gets full refunds only.
UPDATE attribution.destinations SET adjustment_policy = 'retract' WHERE name = 'r_google';
SELECT pg_temp.add_conv('refund', 'r_re_5', 'rc5', 'ru5', '1 minute', -100, NULL, 'r_in_5') > 0 AS added;
SELECT * FROM pg_temp.decisions('r_re_5') WHERE destination = 'r_google';
SELECT count(*) AS partial_rows FROM pg_temp.claimed('r_re_5') WHERE destination = 'r_google';
UPDATE attribution.destinations SET adjustment_policy = 'restate' WHERE name = 'r_google';

-- Re-routing.  A conversion of a customer not yet linked to a user goes
-- only to the webhook; link_customer gives it a user, and routing runs
-- again: now Meta (e-mail) and Google (the user's gclid) claim it, and the
-- webhook's first row is kept.
SELECT pg_temp.touch('rv9', 'ru9', '3 days', '{"gclid": "G-RU9"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_9', 'rc9', NULL, '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.claimed('r_in_9');
SELECT o.id AS webhook_row FROM attribution.outbox o
 WHERE o.dedup_key = 'r_in_9' AND o.destination_id = (SELECT id FROM attribution.destinations WHERE name = 'r_webhook')
\gset
SELECT attribution.link_customer('stripe', 'rc9', 'ru9', 'ru9@example.com');
SELECT user_id FROM attribution.conversions WHERE id = pg_temp.conv('r_in_9');
SELECT * FROM pg_temp.claimed('r_in_9');
SELECT o.id = :webhook_row AS webhook_row_kept, o.payload #>> '{user,id}' AS webhook_user
  FROM attribution.outbox o
 WHERE o.dedup_key = 'r_in_9' AND o.destination_id = (SELECT id FROM attribution.destinations WHERE name = 'r_webhook');

-- identify(): a click on another device, recorded before sign-in, becomes
-- the user's, and the user's recent conversion is routed to Google.
SELECT attribution.link_customer('stripe', 'rc10', 'ru10', 'ru10@example.com');
SELECT pg_temp.add_conv('subscription_started', 'r_in_10', 'rc10', 'ru10', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.claimed('r_in_10') WHERE destination = 'r_google';
SELECT pg_temp.touch('rv10_phone', NULL, '2 days', '{"gclid": "G-RU10"}');
SELECT attribution.identify('rv10_phone', 'ru10');
SELECT * FROM pg_temp.claimed('r_in_10') WHERE destination = 'r_google';
SELECT o.payload ->> 'gclid' AS gclid FROM attribution.outbox o
 WHERE o.dedup_key = 'r_in_10' AND o.destination_id = (SELECT id FROM attribution.destinations WHERE name = 'r_google');

-- A merge that changes a conversion's user re-routes it too.
SELECT pg_temp.touch('rv11', 'ru11', '1 day', '{"li_fat_id": "LI-RU11"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_11', 'rc11', 'ru11_old', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.claimed('r_in_11') WHERE destination = 'r_linkedin';
UPDATE attribution.conversions SET user_id = 'ru11' WHERE id = pg_temp.conv('r_in_11');
SELECT * FROM pg_temp.claimed('r_in_11') WHERE destination = 'r_linkedin';

-- An e-mail that becomes known routes the customer's conversions again.
SELECT pg_temp.add_conv('subscription_started', 'r_in_13', 'rc13', 'ru13', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.claimed('r_in_13');
SELECT attribution.link_customer('stripe', 'rc13', 'ru13', 'ru13@example.com');
SELECT * FROM pg_temp.claimed('r_in_13');

-- Consent given after the purchase lets TikTok (require_consent) claim it;
-- withdrawn, the rows not sent yet leave Meta, TikTok and LinkedIn, while
-- Google (which gets the consent state) and the webhook keep theirs.
SELECT attribution.link_customer('stripe', 'rc14', 'ru14', 'ru14@example.com');
SELECT pg_temp.touch('rv14', 'ru14', '1 day', '{"ttclid": "TT-RU14", "gclid": "G-RU14"}');
SELECT pg_temp.add_conv('subscription_started', 'r_in_14', 'rc14', 'ru14', '1 hour', 2900) > 0 AS added;
SELECT * FROM pg_temp.claimed('r_in_14');
SELECT attribution.set_consent('ru14', true, true);
SELECT * FROM pg_temp.claimed('r_in_14');
SELECT attribution.set_consent('ru14', false, false);
SELECT * FROM pg_temp.claimed('r_in_14');
SELECT d.name, o.payload -> 'consent' AS consent
  FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
 WHERE o.dedup_key = 'r_in_14' AND d.name LIKE 'r\_%'
 ORDER BY d.name;

-- A rolled-back conversion leaves no outbox row.
BEGIN;
SELECT pg_temp.add_conv('subscription_started', 'r_in_rb', 'rc1', 'ru1', '1 hour', 2900) > 0 AS added;
SELECT count(*) AS rows_in_transaction FROM pg_temp.claimed('r_in_rb');
ROLLBACK;
SELECT count(*) AS rows_after_rollback FROM attribution.outbox WHERE dedup_key = 'r_in_rb';

-- The destinations and their outbox rows go; nothing is left to send.
DELETE FROM attribution.destinations WHERE name LIKE 'r\_%';
SELECT count(*) AS outbox_left FROM attribution.outbox o
 WHERE o.dedup_key LIKE 'r\_%';
