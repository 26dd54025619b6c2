-- Lemon Squeezy events through the inbox into the ledger.
SET timezone = 'UTC';

CREATE TEMP TABLE mine (id bigint PRIMARY KEY);
CREATE FUNCTION pg_temp.enqueue(p_source text, p_body text, p_received timestamptz DEFAULT now(),
                                p_event_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql AS $fn$
    WITH ins AS (
        INSERT INTO attribution.webhook_inbox
            (source, event_id, event_type, body, body_sha256, received_at, next_attempt_at)
        SELECT p_source,
               coalesce(p_event_id, b->>'id', b->>'event_id', md5(p_body)),
               coalesce(b->>'type', b->>'event_type', b#>>'{meta,event_name}'),
               p_body, encode(sha256(convert_to(p_body, 'UTF8')), 'hex'), p_received, p_received
          FROM (SELECT p_body::jsonb AS b) s
        RETURNING id)
    INSERT INTO mine SELECT id FROM ins RETURNING id
$fn$;

\set sub_created `cat test/fixtures/lemonsqueezy/subscription_created.json`
\set order_sub `cat test/fixtures/lemonsqueezy/order_created_subscription.json`
\set inv_initial `cat test/fixtures/lemonsqueezy/subscription_payment_success_initial.json`
\set inv_renewal `cat test/fixtures/lemonsqueezy/subscription_payment_success_renewal.json`
\set inv_recovered `cat test/fixtures/lemonsqueezy/subscription_payment_recovered.json`
\set inv_refunded `cat test/fixtures/lemonsqueezy/subscription_payment_refunded_partial.json`
\set inv_updated `cat test/fixtures/lemonsqueezy/subscription_payment_success_updated.json`
\set sub_updated `cat test/fixtures/lemonsqueezy/subscription_updated.json`
\set inv_failed `cat test/fixtures/lemonsqueezy/subscription_payment_failed.json`
\set sub_paused `cat test/fixtures/lemonsqueezy/subscription_paused.json`
\set sub_unpaused `cat test/fixtures/lemonsqueezy/subscription_unpaused.json`
\set sub_cancelled `cat test/fixtures/lemonsqueezy/subscription_cancelled.json`
\set sub_resumed `cat test/fixtures/lemonsqueezy/subscription_resumed.json`
\set sub_expired `cat test/fixtures/lemonsqueezy/subscription_expired.json`
\set sub_trial `cat test/fixtures/lemonsqueezy/subscription_created_on_trial.json`
\set order_one_time `cat test/fixtures/lemonsqueezy/order_created_one_time.json`
\set order_refunded `cat test/fixtures/lemonsqueezy/order_refunded_full.json`
\set inv_vector `cat test/fixtures/lemonsqueezy/subscription_payment_success_contract_vector.json`

-- Received an hour ago: orders are past the hold-back for subscriptions.
SELECT count(pg_temp.enqueue('lemonsqueezy', body, now() - interval '1 hour')) AS queued
  FROM unnest(ARRAY[:'sub_created', :'order_sub', :'inv_initial', :'inv_renewal',
                    :'inv_recovered', :'inv_refunded', :'inv_updated', :'sub_updated',
                    :'inv_failed', :'sub_paused', :'sub_unpaused', :'sub_cancelled',
                    :'sub_resumed', :'sub_expired', :'sub_trial', :'order_one_time',
                    :'order_refunded', :'inv_vector'])
       WITH ORDINALITY AS u(body, n);
SELECT attribution.process_inbox() >= 0 AS processed;

SELECT status, count(*) FROM attribution.webhook_inbox WHERE id IN (SELECT id FROM mine)
 GROUP BY status ORDER BY status;

-- The subscription's own order is not a one-time purchase: its money is
-- the initial subscription invoice.
SELECT kind, fact_key, customer_id, subscription_id, object_id, parent_object_id,
       amount_minor, currency, occurred_at, user_id
  FROM attribution.billing_events
 WHERE provider = 'lemonsqueezy' AND customer_id IN ('7001', '7002', '7003')
 ORDER BY occurred_at, fact_key;

SELECT kind, amount_minor, currency, user_id, subscription_id
  FROM attribution.billing_events
 WHERE provider = 'lemonsqueezy' AND fact_key = 'invoice:1001';

SELECT kind, customer_id, user_id, occurred_at, value_minor, currency, value, ltv_minor,
       is_first_payment
  FROM attribution.conversions
 WHERE provider = 'lemonsqueezy' AND customer_id IN ('7001', '7002', '7003')
 ORDER BY customer_id, occurred_at, id;

SELECT subscription_id, customer_id, user_id, status, plan_id, order_id
  FROM attribution.subscriptions
 WHERE provider = 'lemonsqueezy' AND subscription_id IN ('8001', '8002', '2002')
 ORDER BY subscription_id;

SELECT customer_id, user_id FROM attribution.customers
 WHERE provider = 'lemonsqueezy' AND customer_id IN ('7001', '7002', '7003')
 ORDER BY customer_id;

-- A fresh order waits for a subscription that may claim it ...
SELECT count(pg_temp.enqueue('lemonsqueezy',
    '{"meta":{"event_name":"order_created","custom_data":{"user_id":"u_l4"}},"data":{"type":"orders","id":"9004","attributes":{"customer_id":7004,"currency":"USD","total":1500,"status":"paid","created_at":"2026-03-10T00:00:00.000000Z"}}}')) AS queued;
SELECT count(pg_temp.enqueue('lemonsqueezy',
    '{"meta":{"event_name":"order_created","custom_data":{"user_id":"u_l5"}},"data":{"type":"orders","id":"9005","attributes":{"customer_id":7005,"currency":"USD","total":900,"status":"paid","created_at":"2026-03-11T00:00:00.000000Z"}}}')) AS queued;
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT body::jsonb#>>'{data,id}' AS order_id, status, attempts, last_error,
       next_attempt_at BETWEEN received_at + interval '299 seconds' AND received_at + interval '301 seconds' AS held_back
  FROM attribution.webhook_inbox
 WHERE id IN (SELECT id FROM mine) AND body::jsonb#>>'{data,id}' IN ('9004', '9005')
 ORDER BY 1;
-- ... 9005's subscription arrives; 9004 has none.
SELECT count(pg_temp.enqueue('lemonsqueezy',
    '{"meta":{"event_name":"subscription_created","custom_data":{"user_id":"u_l5"}},"data":{"type":"subscriptions","id":"8005","attributes":{"customer_id":7005,"order_id":9005,"status":"active","variant_id":301,"created_at":"2026-03-11T00:00:01.000000Z","updated_at":"2026-03-11T00:00:01.000000Z"}}}')) AS queued;
SELECT attribution.process_inbox() >= 0 AS processed;
UPDATE attribution.webhook_inbox
   SET received_at = received_at - interval '10 minutes', next_attempt_at = now() - interval '1 second'
 WHERE id IN (SELECT id FROM mine) AND body::jsonb#>>'{data,id}' IN ('9004', '9005');
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT body::jsonb#>>'{data,id}' AS order_id, status
  FROM attribution.webhook_inbox
 WHERE id IN (SELECT id FROM mine) AND body::jsonb#>>'{data,id}' IN ('9004', '9005')
 ORDER BY 1;
SELECT kind, fact_key, amount_minor, user_id
  FROM attribution.billing_events
 WHERE provider = 'lemonsqueezy' AND customer_id IN ('7004', '7005')
 ORDER BY fact_key;
