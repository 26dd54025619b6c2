-- Paddle Billing events through the inbox into the ledger.
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

\set sub_created `cat test/fixtures/paddle/subscription_created_trialing.json`
\set sub_trialing `cat test/fixtures/paddle/subscription_trialing.json`
\set txn_web `cat test/fixtures/paddle/transaction_completed_web_subscription.json`
\set sub_activated `cat test/fixtures/paddle/subscription_activated.json`
\set txn_recurring `cat test/fixtures/paddle/transaction_completed_recurring.json`
\set txn_update `cat test/fixtures/paddle/transaction_completed_subscription_update.json`
\set txn_charge `cat test/fixtures/paddle/transaction_completed_subscription_charge.json`
\set adj_pending `cat test/fixtures/paddle/adjustment_created_refund_pending.json`
\set adj_approved `cat test/fixtures/paddle/adjustment_updated_refund_approved.json`
\set adj_chargeback `cat test/fixtures/paddle/adjustment_created_chargeback.json`
\set sub_paused `cat test/fixtures/paddle/subscription_paused.json`
\set sub_resumed `cat test/fixtures/paddle/subscription_resumed.json`
\set txn_failed `cat test/fixtures/paddle/transaction_payment_failed.json`
\set txn_past_due `cat test/fixtures/paddle/transaction_past_due.json`
\set adj_reverse `cat test/fixtures/paddle/adjustment_created_chargeback_reverse.json`
\set sub_canceled `cat test/fixtures/paddle/subscription_canceled.json`
\set txn_one_time `cat test/fixtures/paddle/transaction_completed_one_time.json`
\set txn_vector `cat test/fixtures/paddle/transaction_completed_contract_vector.json`
\set ooo_txn `cat test/fixtures/paddle/ooo_transaction_completed.json`
\set ooo_approved `cat test/fixtures/paddle/ooo_adjustment_updated_approved.json`
\set ooo_pending `cat test/fixtures/paddle/ooo_adjustment_created_pending.json`

SELECT count(pg_temp.enqueue('paddle', body)) AS queued
  FROM unnest(ARRAY[:'sub_created', :'sub_trialing', :'txn_web', :'sub_activated',
                    :'txn_recurring', :'txn_update', :'txn_charge', :'adj_pending'])
       WITH ORDINALITY AS u(body, n);
SELECT attribution.process_inbox() >= 0 AS processed;

-- The refund is still pending approval: it is not in the ledger.
SELECT count(*) AS refunds FROM attribution.billing_events
 WHERE provider = 'paddle' AND kind = 'refund' AND customer_id = 'ctm_01P1';

SELECT count(pg_temp.enqueue('paddle', body)) AS queued
  FROM unnest(ARRAY[:'adj_approved', :'adj_chargeback', :'sub_paused', :'sub_resumed',
                    :'txn_failed', :'txn_past_due', :'adj_reverse', :'sub_canceled',
                    :'txn_one_time'])
       WITH ORDINALITY AS u(body, n);
-- The signature test vector's body, under an event id of this test's own.
SELECT count(pg_temp.enqueue('paddle', :'txn_vector', now(), 'evt_fixture_vector_1')) AS queued;
SELECT attribution.process_inbox() >= 0 AS processed;

SELECT status, count(*) FROM attribution.webhook_inbox WHERE id IN (SELECT id FROM mine)
 GROUP BY status ORDER BY status;

SELECT kind, fact_key, customer_id, subscription_id, object_id, parent_object_id,
       amount_minor, currency, occurred_at, user_id
  FROM attribution.billing_events
 WHERE provider = 'paddle' AND customer_id IN ('ctm_01P1', 'ctm_01P2')
 ORDER BY occurred_at, fact_key;

-- The vector: a web transaction without subscription or customer.
SELECT kind, amount_minor, currency, user_id, customer_id
  FROM attribution.billing_events
 WHERE provider = 'paddle' AND fact_key = 'transaction:txn_01test0000000000000000000';

SELECT kind, customer_id, user_id, occurred_at, value_minor, currency, value, ltv_minor,
       is_first_payment
  FROM attribution.conversions
 WHERE provider = 'paddle' AND customer_id IN ('ctm_01P1', 'ctm_01P2')
 ORDER BY customer_id, occurred_at, id;

SELECT subscription_id, customer_id, user_id, status, plan_id, amount_minor, currency
  FROM attribution.subscriptions
 WHERE provider = 'paddle' AND subscription_id = 'sub_01P1';

SELECT customer_id, user_id FROM attribution.customers
 WHERE provider = 'paddle' AND customer_id IN ('ctm_01P1', 'ctm_01P2')
 ORDER BY customer_id;

-- Out of order: the approval of a refund arrives before its creation.
SELECT count(pg_temp.enqueue('paddle', body)) AS queued
  FROM unnest(ARRAY[:'ooo_txn', :'ooo_approved', :'ooo_pending'])
       WITH ORDINALITY AS u(body, n);
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT kind, fact_key, amount_minor, currency, user_id
  FROM attribution.billing_events
 WHERE provider = 'paddle' AND customer_id = 'ctm_01P3'
 ORDER BY occurred_at, fact_key;
SELECT kind, value, ltv_minor, is_first_payment
  FROM attribution.conversions
 WHERE provider = 'paddle' AND customer_id = 'ctm_01P3'
 ORDER BY occurred_at, id;
