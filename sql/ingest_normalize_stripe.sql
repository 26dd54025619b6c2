-- Stripe events through the inbox into the ledger.  Rows are inserted as
-- ingest_webhook stores them; attribution.process_inbox() runs the worker's
-- code path (the worker may have taken some rows first: the outcome is the
-- same, since processors serialise and claim with SKIP LOCKED).
SET timezone = 'UTC';

-- The rows this test queued (other tests share the inbox and the ledger).
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

\set checkout_sub `cat test/fixtures/stripe/checkout_session_completed_subscription.json`
\set sub_created `cat test/fixtures/stripe/customer_subscription_created_trialing.json`
\set inv_create `cat test/fixtures/stripe/invoice_paid_subscription_create.json`
\set inv_create_dup `cat test/fixtures/stripe/invoice_payment_succeeded_subscription_create.json`
\set inv_cycle `cat test/fixtures/stripe/invoice_paid_subscription_cycle_legacy.json`
\set sub_plan `cat test/fixtures/stripe/customer_subscription_updated_plan_change.json`
\set inv_upgrade `cat test/fixtures/stripe/invoice_paid_subscription_update_upgrade.json`
\set inv_credit `cat test/fixtures/stripe/invoice_paid_subscription_update_credit.json`
\set inv_manual `cat test/fixtures/stripe/invoice_paid_manual.json`
\set ch_ref_part `cat test/fixtures/stripe/charge_refunded_partial.json`
\set re_1 `cat test/fixtures/stripe/refund_created.json`
\set re_2 `cat test/fixtures/stripe/refund_created_second.json`
\set ch_ref_full `cat test/fixtures/stripe/charge_refunded_full.json`
\set dispute `cat test/fixtures/stripe/charge_dispute_created.json`
\set inv_failed `cat test/fixtures/stripe/invoice_payment_failed.json`
\set sub_cancel `cat test/fixtures/stripe/customer_subscription_updated_cancel_at_period_end.json`
\set sub_react `cat test/fixtures/stripe/customer_subscription_updated_reactivated.json`
\set sub_paused `cat test/fixtures/stripe/customer_subscription_paused.json`
\set sub_resumed `cat test/fixtures/stripe/customer_subscription_resumed.json`
\set dispute_won `cat test/fixtures/stripe/charge_dispute_closed_won.json`
\set sub_deleted `cat test/fixtures/stripe/customer_subscription_deleted.json`
\set checkout_jpy `cat test/fixtures/stripe/checkout_session_completed_payment_jpy.json`
\set inv_kwd `cat test/fixtures/stripe/invoice_paid_manual_kwd.json`
\set cus_updated `cat test/fixtures/stripe/customer_updated_metadata.json`

-- The life of sub_S1 in the order Stripe sends it, and two other customers.
SELECT count(pg_temp.enqueue('stripe', body)) AS queued
  FROM unnest(ARRAY[:'checkout_sub', :'sub_created', :'inv_create', :'inv_create_dup',
                    :'inv_cycle', :'sub_plan', :'inv_upgrade', :'inv_credit', :'inv_manual',
                    :'ch_ref_part', :'re_1', :'re_2', :'ch_ref_full', :'dispute',
                    :'inv_failed', :'sub_cancel', :'sub_react', :'sub_paused', :'sub_resumed',
                    :'dispute_won', :'sub_deleted', :'checkout_jpy', :'inv_kwd'])
       WITH ORDINALITY AS u(body, n);
SELECT attribution.process_inbox() >= 0 AS processed;

SELECT status, count(*) FROM attribution.webhook_inbox WHERE id IN (SELECT id FROM mine)
 GROUP BY status ORDER BY status;

-- One fact per provider fact: invoice.paid and invoice.payment_succeeded
-- are one payment; refund.created repeats part of charge.refunded.
SELECT kind, fact_key, customer_id, subscription_id, object_id, parent_object_id,
       amount_minor, currency, occurred_at, user_id
  FROM attribution.billing_events
 WHERE provider = 'stripe' AND customer_id IN ('cus_S1', 'cus_S2', 'cus_S3')
 ORDER BY occurred_at, fact_key;

SELECT fact_key, details->>'billing_reason' AS reason, details->>'credit_minor' AS credit,
       details->>'payment_intent' AS payment_intent
  FROM attribution.billing_events
 WHERE provider = 'stripe' AND fact_key IN ('invoice:in_S1_1', 'invoice:in_S1_4', 'plan_change:evt_1S1subplan00001')
 ORDER BY fact_key;
SELECT details->>'from_plan' AS from_plan, details->>'to_plan' AS to_plan,
       details->>'from_amount_minor' AS from_amount, details->>'to_amount_minor' AS to_amount
  FROM attribution.billing_events WHERE fact_key = 'plan_change:evt_1S1subplan00001';

-- Money events as conversions: signed values in major units, LTV to date.
SELECT kind, customer_id, user_id, occurred_at, value_minor, currency, value, ltv_minor,
       is_first_payment
  FROM attribution.conversions
 WHERE provider = 'stripe' AND customer_id IN ('cus_S1', 'cus_S2', 'cus_S3')
 ORDER BY customer_id, occurred_at, id;

SELECT subscription_id, customer_id, user_id, status, plan_id, amount_minor, currency,
       cancel_at_period_end
  FROM attribution.subscriptions
 WHERE provider = 'stripe' AND subscription_id = 'sub_S1';

-- Customers first seen in webhooks are linked from client_reference_id and
-- metadata; the e-mail is kept only as hashes.
SELECT customer_id, user_id,
       email_sha256 = attribution.hash_email('alice.buyer@example.com') AS alice_hash
  FROM attribution.customers
 WHERE provider = 'stripe' AND customer_id IN ('cus_S1', 'cus_S2', 'cus_S3')
 ORDER BY customer_id;

-- A customer linked after its payment: the payment becomes the user's.
SELECT user_id FROM attribution.billing_events WHERE provider = 'stripe' AND fact_key = 'invoice:in_S3_1';
SELECT count(pg_temp.enqueue('stripe', :'cus_updated')) AS queued;
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT b.user_id AS event_user, c.user_id AS conversion_user, c.value
  FROM attribution.billing_events b JOIN attribution.conversions c ON c.billing_event_id = b.id
 WHERE b.provider = 'stripe' AND b.fact_key = 'invoice:in_S3_1';

-- Re-processing every row changes nothing.
CREATE TEMP VIEW my_counts AS
SELECT (SELECT count(*) FROM attribution.billing_events
         WHERE provider = 'stripe' AND customer_id IN ('cus_S1', 'cus_S2', 'cus_S3')) AS events,
       (SELECT count(*) FROM attribution.conversions
         WHERE provider = 'stripe' AND customer_id IN ('cus_S1', 'cus_S2', 'cus_S3')) AS conversions,
       (SELECT sum(ltv_minor) FROM attribution.conversions
         WHERE provider = 'stripe' AND customer_id IN ('cus_S1', 'cus_S2', 'cus_S3')) AS ltv_sum,
       (SELECT count(*) FROM attribution.refund_observations
         WHERE provider = 'stripe' AND parent_object_id = 'ch_S1_2') AS observations;
CREATE TEMP TABLE before_counts AS SELECT * FROM my_counts;
SELECT * FROM before_counts;
UPDATE attribution.webhook_inbox SET status = 'pending', next_attempt_at = now()
 WHERE id IN (SELECT id FROM mine);
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT * FROM my_counts;
SELECT status, count(*) FROM attribution.webhook_inbox WHERE id IN (SELECT id FROM mine)
 GROUP BY status ORDER BY status;

-- A row that fails is marked with the reason and retried later; the rows
-- after it go through.  Types the ledger has no use for are skipped.
SELECT count(pg_temp.enqueue('stripe', body)) AS queued
  FROM unnest(ARRAY['{"id":"evt_bad_1","object":"event","type":"invoice.paid","created":1767225600,"data":{}}',
                    '{"id":"evt_skip_1","object":"event","type":"customer.subscription.trial_will_end","created":1767225600,"data":{"object":{"id":"sub_S1","object":"subscription"}}}',
                    '{"id":"evt_bad_2","object":"event","type":"invoice.paid","created":1767225600,"data":{"object":{"id":"in_bad_2","billing_reason":"manual","amount_paid":100,"currency":"dollars"}}}'])
       WITH ORDINALITY AS u(body, n);
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT event_id, status, attempts >= 1 AS tried, last_error, next_attempt_at > received_at AS retry_later,
       processed_at IS NULL AS unprocessed
  FROM attribution.webhook_inbox
 WHERE source = 'stripe' AND event_id IN ('evt_bad_1', 'evt_skip_1', 'evt_bad_2')
 ORDER BY id;
-- Nothing of the failed rows reached the ledger.
SELECT count(*) FROM attribution.billing_events WHERE provider = 'stripe' AND fact_key = 'invoice:in_bad_2';
-- Park them so that the worker stops retrying during the rest of the run.
UPDATE attribution.webhook_inbox SET status = 'skipped'
 WHERE source = 'stripe' AND event_id IN ('evt_bad_1', 'evt_bad_2');
