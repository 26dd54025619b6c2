-- The ledger's arithmetic: currencies, LTV to date when facts arrive out of
-- order, users linked after their payments, subscription state that an
-- older event never rolls back.
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

-- Minor units per currency.
SELECT c, attribution.currency_exponent(c) AS exponent, attribution.minor_to_major(123456, c) AS major
  FROM unnest(ARRAY['USD', 'eur', 'JPY', 'KRW', 'VND', 'CLP', 'BHD', 'KWD', 'JOD', 'OMR', 'TND']) AS c;
SELECT attribution.minor_to_major(-1999, 'USD') AS refund_usd, attribution.minor_to_major(5, 'usd') AS cents;
-- The scale is the exponent's, signs and leading zeros kept.
SELECT attribution.minor_to_major(-5, 'USD') AS minus_cents, attribution.minor_to_major(0, 'EUR') AS zero,
       attribution.minor_to_major(1900, 'USD') AS whole, attribution.minor_to_major(7, 'kwd') AS fils,
       attribution.minor_to_major(-1999, 'jpy') AS yen, attribution.minor_to_major(1999, 'clf') AS unidad,
       attribution.minor_to_major(-9223372036854775808, 'USD') AS smallest,
       attribution.minor_to_major(NULL, 'USD') IS NULL AS null_amount,
       attribution.currency_exponent(NULL) IS NULL AS null_currency;

-- Out of order, Stripe: the refund of a charge arrives before the invoice
-- that the charge paid.
\set ooo_refund `cat test/fixtures/stripe/ooo_charge_refunded_before_payment.json`
\set ooo_invoice `cat test/fixtures/stripe/ooo_invoice_paid_after_refund.json`
SELECT count(pg_temp.enqueue('stripe', :'ooo_refund')) AS queued;
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT kind, occurred_at, value_minor, ltv_minor, is_first_payment, user_id
  FROM attribution.conversions WHERE provider = 'stripe' AND customer_id = 'cus_S4'
 ORDER BY occurred_at, id;
SELECT count(pg_temp.enqueue('stripe', :'ooo_invoice')) AS queued;
SELECT attribution.process_inbox() >= 0 AS processed;
-- The payment is first; the refund's LTV now includes it; the invoice's
-- user (subscription metadata) reaches the earlier refund too.
SELECT kind, occurred_at, value_minor, ltv_minor, is_first_payment, user_id
  FROM attribution.conversions WHERE provider = 'stripe' AND customer_id = 'cus_S4'
 ORDER BY occurred_at, id;

-- Out of order: customer.subscription.updated (newer) before .created.
\set ooo_sub_updated `cat test/fixtures/stripe/ooo_subscription_updated_before_created.json`
\set ooo_sub_created `cat test/fixtures/stripe/ooo_subscription_created_after_update.json`
SELECT count(pg_temp.enqueue('stripe', body)) AS queued
  FROM unnest(ARRAY[:'ooo_sub_updated', :'ooo_sub_created']) WITH ORDINALITY AS u(body, n);
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT subscription_id, status, plan_id, amount_minor, currency, user_id, provider_updated_at
  FROM attribution.subscriptions WHERE provider = 'stripe' AND subscription_id = 'sub_S5';
SELECT kind, fact_key, occurred_at FROM attribution.billing_events
 WHERE provider = 'stripe' AND subscription_id = 'sub_S5' ORDER BY occurred_at;

-- LTV arithmetic, Paddle customer ctm_L1 in USD, facts delivered in this
-- order: renewal (Feb 1), first payment (Jan 1), refund (Jan 20), renewal
-- (Mar 1), chargeback (Feb 10), and one payment in EUR (its own series).
SELECT count(pg_temp.enqueue('paddle', body)) AS queued
  FROM unnest(ARRAY[
    '{"event_id":"evt_L1_2","event_type":"transaction.completed","occurred_at":"2026-02-01T00:00:00Z","data":{"id":"txn_L1_2","origin":"subscription_recurring","customer_id":"ctm_L1","subscription_id":"sub_L1","currency_code":"USD","billed_at":"2026-02-01T00:00:00Z","details":{"totals":{"grand_total":"3000"}}}}',
    '{"event_id":"evt_L1_1","event_type":"transaction.completed","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"txn_L1_1","origin":"web","customer_id":"ctm_L1","subscription_id":"sub_L1","currency_code":"USD","billed_at":"2026-01-01T00:00:00Z","details":{"totals":{"grand_total":"3000"}}}}',
    '{"event_id":"evt_L1_r","event_type":"adjustment.created","occurred_at":"2026-01-20T00:00:00Z","data":{"id":"adj_L1_r","action":"refund","type":"partial","status":"approved","transaction_id":"txn_L1_1","customer_id":"ctm_L1","currency_code":"USD","totals":{"total":"500"}}}',
    '{"event_id":"evt_L1_3","event_type":"transaction.completed","occurred_at":"2026-03-01T00:00:00Z","data":{"id":"txn_L1_3","origin":"subscription_recurring","customer_id":"ctm_L1","subscription_id":"sub_L1","currency_code":"USD","billed_at":"2026-03-01T00:00:00Z","details":{"totals":{"grand_total":"3000"}}}}',
    '{"event_id":"evt_L1_c","event_type":"adjustment.created","occurred_at":"2026-02-10T00:00:00Z","data":{"id":"adj_L1_c","action":"chargeback","type":"full","status":"approved","transaction_id":"txn_L1_2","customer_id":"ctm_L1","currency_code":"USD","totals":{"total":"3000"}}}',
    '{"event_id":"evt_L1_e","event_type":"transaction.completed","occurred_at":"2026-01-15T00:00:00Z","data":{"id":"txn_L1_e","origin":"api","customer_id":"ctm_L1","subscription_id":null,"currency_code":"EUR","billed_at":"2026-01-15T00:00:00Z","details":{"totals":{"grand_total":"1000"}}}}'])
  WITH ORDINALITY AS u(body, n);
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT kind, occurred_at, currency, value_minor, value, ltv_minor, is_first_payment
  FROM attribution.conversions WHERE provider = 'paddle' AND customer_id = 'ctm_L1'
 ORDER BY currency, occurred_at, id;
-- LTV equals the running sum in (occurred_at, id) order, for every row.
SELECT bool_and(ltv_minor = running) AS ltv_consistent
  FROM (SELECT ltv_minor, sum(value_minor) OVER (PARTITION BY currency ORDER BY occurred_at, id) AS running
          FROM attribution.conversions WHERE provider = 'paddle' AND customer_id = 'ctm_L1') s;

-- No user yet; the application links the customer afterwards with
-- link_customer: the ledger rows become the user's.
SELECT count(*) FILTER (WHERE user_id IS NULL) AS without_user, count(*) AS conversions
  FROM attribution.conversions WHERE provider = 'paddle' AND customer_id = 'ctm_L1';
SELECT attribution.link_customer('paddle', 'ctm_L1', 'u_ledger_1');
SELECT count(*) FILTER (WHERE user_id = 'u_ledger_1') AS linked, count(*) AS conversions
  FROM attribution.conversions WHERE provider = 'paddle' AND customer_id = 'ctm_L1';
SELECT count(*) FILTER (WHERE user_id = 'u_ledger_1') AS linked, count(*) AS events
  FROM attribution.billing_events WHERE provider = 'paddle' AND customer_id = 'ctm_L1';
SELECT user_id FROM attribution.subscriptions WHERE provider = 'paddle' AND subscription_id = 'sub_L1';

-- A link the application made wins over the ids a later webhook carries.
SELECT count(pg_temp.enqueue('paddle',
    '{"event_id":"evt_L1_4","event_type":"transaction.completed","occurred_at":"2026-04-01T00:00:00Z","data":{"id":"txn_L1_4","origin":"subscription_recurring","customer_id":"ctm_L1","subscription_id":"sub_L1","currency_code":"USD","custom_data":{"user_id":"someone_else"},"billed_at":"2026-04-01T00:00:00Z","details":{"totals":{"grand_total":"3000"}}}}')) AS queued;
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT c.user_id AS customer_user, b.user_id AS event_user
  FROM attribution.customers c
  JOIN attribution.billing_events b ON b.provider = c.provider AND b.customer_id = c.customer_id
 WHERE c.provider = 'paddle' AND c.customer_id = 'ctm_L1' AND b.fact_key = 'transaction:txn_L1_4';

-- Every money event has exactly one conversion; facts without money none.
SELECT b.kind, count(c.id) AS conversions
  FROM attribution.billing_events b LEFT JOIN attribution.conversions c ON c.billing_event_id = b.id
 WHERE b.provider = 'paddle' AND b.customer_id = 'ctm_L1'
 GROUP BY b.kind ORDER BY b.kind;

-- One batch with a bad row between good ones: the bad row alone fails, the
-- others are recorded once each and the running LTV counts only them.
SELECT count(pg_temp.enqueue('stripe', format(
         '{"id":"evt_B%s","object":"event","type":"invoice.paid","created":%s,"data":{"object":{"id":"in_B%s","object":"invoice","billing_reason":"%s","status":"paid","amount_paid":%s,"currency":"%s","customer":"cus_B","subscription":"sub_B","status_transitions":{"paid_at":%s}}}}',
         n, 1772323200 + n * 86400, n, CASE n WHEN 1 THEN 'subscription_create' ELSE 'subscription_cycle' END,
         n * 100, CASE n WHEN 3 THEN 'dollars' ELSE 'usd' END, 1772323200 + n * 86400)))
       AS queued
  FROM generate_series(1, 5) n;
SELECT attribution.process_inbox() >= 0 AS processed;
SELECT i.event_id, i.status, left(i.last_error, 5) AS sqlstate, c.value, c.ltv_minor, c.is_first_payment
  FROM attribution.webhook_inbox i
  LEFT JOIN attribution.billing_events b ON b.inbox_id = i.id
  LEFT JOIN attribution.conversions c ON c.billing_event_id = b.id
 WHERE i.source = 'stripe' AND i.event_id LIKE 'evt\_B_'
 ORDER BY i.event_id;
UPDATE attribution.webhook_inbox SET status = 'skipped' WHERE source = 'stripe' AND event_id = 'evt_B3';

-- worker_status: one row with the documented columns.
SELECT count(*) AS rows, bool_and(backlog >= 0) AS backlog_counted
  FROM attribution.worker_status;
SELECT attname FROM pg_attribute
 WHERE attrelid = 'attribution.worker_status'::regclass AND attnum > 0
 ORDER BY attnum;

-- process_inbox is for administrators.
SELECT has_function_privilege('attribution_admin', 'attribution.process_inbox(integer)', 'EXECUTE') AS admin,
       has_function_privilege('attribution_app', 'attribution.process_inbox(integer)', 'EXECUTE') AS app,
       has_function_privilege('attribution_analyst', 'attribution.process_inbox(integer)', 'EXECUTE') AS analyst;
DO $$
BEGIN
    PERFORM attribution.process_inbox(-1);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
