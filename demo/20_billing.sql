-- Demo, part 2: the synthetic visitors sign up and pay.  Every billing fact
-- arrives as a signed webhook (Stripe, Paddle, Lemon Squeezy) through
-- ingest_webhook(), exactly as the application's webhook route would pass
-- it; the processor worker turns the inbox into the ledger.
\echo '== Billing webhooks: signed, verified, de-duplicated =='
CREATE EXTENSION IF NOT EXISTS pgcrypto;

SELECT attribution.set_webhook_secret('stripe', 'whsec_demo_0123456789abcdef') > 0 AS stripe_secret,
       attribution.set_webhook_secret('paddle', 'pdl_ntfset_01demo_SECRET') > 0 AS paddle_secret,
       attribution.set_webhook_secret('lemonsqueezy', 'ls_demo_secret') > 0 AS lemonsqueezy_secret;

-- Sign a body the way each provider does and hand it to ingest_webhook.
CREATE FUNCTION pg_temp.deliver(provider text, body jsonb, event_name text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    raw text := body::text;
    ts text := extract(epoch FROM clock_timestamp())::bigint::text;
    headers jsonb;
BEGIN
    IF provider = 'stripe' THEN
        headers := jsonb_build_object('Stripe-Signature', 't=' || ts || ',v1=' ||
            encode(hmac(ts || '.' || raw, 'whsec_demo_0123456789abcdef', 'sha256'), 'hex'));
    ELSIF provider = 'paddle' THEN
        headers := jsonb_build_object('paddle-signature', 'ts=' || ts || ';h1=' ||
            encode(hmac(ts || ':' || raw, 'pdl_ntfset_01demo_SECRET', 'sha256'), 'hex'));
    ELSE
        headers := jsonb_build_object('X-Signature', encode(hmac(raw, 'ls_demo_secret', 'sha256'), 'hex'),
                                      'X-Event-Name', event_name);
    END IF;
    RETURN (attribution.ingest_webhook(provider, headers, raw)).status;
END
$fn$;

-- Customers: 3,000 of the users with a journey, each on one provider.  How
-- long a customer stays depends on the channel that first brought them, so
-- lifetime value differs by channel: referred and e-mail customers renew
-- longest, paid social ones churn early.
CREATE TEMP TABLE demo_customers AS
SELECT row_number() OVER (ORDER BY md5(j.user_id)) AS i, j.user_id,
       j.signed_up, f.channel AS first_channel
  FROM (SELECT user_id, min(occurred_at) + interval '3 days' AS signed_up
          FROM attribution.journeys GROUP BY user_id ORDER BY md5(user_id) LIMIT 3000) j
  JOIN attribution.journeys f ON f.user_id = j.user_id AND f.touch_number = 1;
ALTER TABLE demo_customers ADD COLUMN months int;
UPDATE demo_customers SET months = CASE first_channel
    WHEN 'Referral Program' THEN 3 + i % 4 WHEN 'Email' THEN 2 + i % 4
    WHEN 'Paid Search' THEN 1 + i % 4 WHEN 'Organic Search' THEN 1 + i % 3
    WHEN 'Paid Social' THEN i % 2 ELSE i % 3 END;

-- Checkout links each billing customer to its user, with the e-mail the
-- platforms can match on (kept only as hashes).
SELECT count(attribution.link_customer(p, CASE p WHEN 'stripe' THEN 'cus_demo_' || i
                                                 WHEN 'paddle' THEN 'ctm_demo_' || i
                                                 ELSE (7000 + i)::text END,
                                        user_id, replace(user_id, '_', '.') || '@example.com')) AS customers_linked
  FROM demo_customers,
       LATERAL (SELECT CASE i % 3 WHEN 0 THEN 'stripe' WHEN 1 THEN 'paddle' ELSE 'lemonsqueezy' END) x(p);

-- Payments: a first payment, renewals every 30 days, some upgrades (30-day
-- periods keep the data set the same whatever the calendar month).
CREATE TEMP TABLE demo_payments AS
SELECT c.i, c.user_id, m AS month,
       CASE c.i % 3 WHEN 0 THEN 'stripe' WHEN 1 THEN 'paddle' ELSE 'lemonsqueezy' END AS provider,
       c.signed_up + m * interval '30 days' AS at,
       CASE WHEN m = 0 THEN 'first' WHEN c.i % 7 = 0 AND m = 2 THEN 'upgrade' ELSE 'renewal' END AS reason,
       CASE WHEN c.i % 7 = 0 AND m >= 2 THEN 4900 ELSE 2900 END AS amount
  FROM demo_customers c, generate_series(0, c.months) m
 WHERE c.signed_up + m * interval '30 days' < date_trunc('day', now());

SELECT provider, status, count(*) FROM (
SELECT p.provider, pg_temp.deliver(p.provider,
    CASE p.provider
    WHEN 'stripe' THEN jsonb_build_object(
        'id', 'evt_demo_' || p.i || '_' || p.month, 'object', 'event', 'type', 'invoice.paid',
        'created', extract(epoch FROM p.at)::bigint,
        'data', jsonb_build_object('object', jsonb_build_object(
            'id', 'in_demo_' || p.i || '_' || p.month, 'object', 'invoice',
            'billing_reason', CASE p.reason WHEN 'first' THEN 'subscription_create'
                                            WHEN 'upgrade' THEN 'subscription_update'
                                            ELSE 'subscription_cycle' END,
            'status', 'paid', 'amount_paid', CASE p.reason WHEN 'upgrade' THEN 2000 ELSE p.amount END,
            'total', CASE p.reason WHEN 'upgrade' THEN 2000 ELSE p.amount END,
            'currency', 'usd', 'customer', 'cus_demo_' || p.i,
            'status_transitions', jsonb_build_object('paid_at', extract(epoch FROM p.at)::bigint),
            'parent', jsonb_build_object('type', 'subscription_details', 'subscription_details',
                jsonb_build_object('subscription', 'sub_demo_' || p.i,
                                   'metadata', jsonb_build_object('user_id', p.user_id))),
            'payments', jsonb_build_object('object', 'list', 'data', jsonb_build_array(
                jsonb_build_object('payment', jsonb_build_object('type', 'payment_intent',
                    'payment_intent', 'pi_demo_' || p.i || '_' || p.month)))))))
    WHEN 'paddle' THEN jsonb_build_object(
        'event_id', 'evt_demo_' || p.i || '_' || p.month, 'event_type', 'transaction.completed',
        'occurred_at', to_char(p.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'notification_id', 'ntf_demo_' || p.i || '_' || p.month,
        'data', jsonb_build_object(
            'id', 'txn_demo_' || p.i || '_' || p.month, 'status', 'completed',
            'origin', CASE p.reason WHEN 'first' THEN 'web' WHEN 'upgrade' THEN 'subscription_update'
                                    ELSE 'subscription_recurring' END,
            'customer_id', 'ctm_demo_' || p.i, 'subscription_id', 'sub_demo_' || p.i,
            'currency_code', 'USD', 'custom_data', jsonb_build_object('app_user_id', p.user_id),
            'billed_at', to_char(p.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'details', jsonb_build_object('totals', jsonb_build_object(
                'grand_total', (CASE p.reason WHEN 'upgrade' THEN 2000 ELSE p.amount END)::text,
                'total', (CASE p.reason WHEN 'upgrade' THEN 2000 ELSE p.amount END)::text,
                'currency_code', 'USD'))))
    ELSE jsonb_build_object(
        'meta', jsonb_build_object('event_name', 'subscription_payment_success',
                                   'custom_data', jsonb_build_object('user_id', p.user_id)),
        'data', jsonb_build_object('type', 'subscription-invoices', 'id', (100000 + p.i * 100 + p.month)::text,
            'attributes', jsonb_build_object(
                'subscription_id', 5000 + p.i, 'customer_id', 7000 + p.i,
                'billing_reason', CASE p.reason WHEN 'first' THEN 'initial' WHEN 'upgrade' THEN 'updated'
                                                ELSE 'renewal' END,
                'status', 'paid', 'currency', 'USD',
                'total', CASE p.reason WHEN 'upgrade' THEN 2000 ELSE p.amount END,
                'created_at', to_char(p.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'updated_at', to_char(p.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))))
    END, 'subscription_payment_success') AS status
  FROM demo_payments p ORDER BY p.at) d
 GROUP BY provider, status ORDER BY provider, status;

-- A refund, a chargeback and a pause on Stripe, and a forged webhook.
SELECT pg_temp.deliver('stripe', jsonb_build_object(
    'id', 'evt_demo_refund', 'object', 'event', 'type', 'charge.refunded',
    'created', extract(epoch FROM p.at + interval '2 days')::bigint,
    'data', jsonb_build_object('object', jsonb_build_object(
        'id', 'ch_demo_refund', 'object', 'charge', 'amount', 2900, 'amount_refunded', 1500,
        'refunded', false, 'currency', 'usd', 'customer', 'cus_demo_' || p.i,
        'payment_intent', 'pi_demo_' || p.i || '_' || p.month)))) AS partial_refund
  FROM demo_payments p
 WHERE p.provider = 'stripe' AND p.at BETWEEN now() - interval '40 days' AND now() - interval '3 days'
   AND EXISTS (SELECT 1 FROM attribution.journeys j
                WHERE j.user_id = p.user_id AND j.gclid IS NOT NULL
                  AND j.occurred_at BETWEEN p.at - interval '80 days' AND p.at)
 ORDER BY p.at DESC LIMIT 1;
SELECT pg_temp.deliver('stripe', jsonb_build_object(
    'id', 'evt_demo_dispute', 'object', 'event', 'type', 'charge.dispute.created',
    'created', extract(epoch FROM p.at + interval '20 days')::bigint,
    'data', jsonb_build_object('object', jsonb_build_object(
        'id', 'dp_demo', 'object', 'dispute', 'amount', 2900, 'currency', 'usd',
        'charge', 'ch_demo_dispute', 'payment_intent', 'pi_demo_' || p.i || '_1',
        'customer', 'cus_demo_' || p.i, 'reason', 'fraudulent', 'status', 'needs_response')))) AS chargeback
  FROM demo_payments p WHERE p.provider = 'stripe' AND p.month = 1 ORDER BY p.i LIMIT 1;
SELECT pg_temp.deliver('stripe', jsonb_build_object(
    'id', 'evt_demo_pause', 'object', 'event', 'type', 'customer.subscription.paused',
    'created', extract(epoch FROM timestamptz '2026-10-01')::bigint,
    'data', jsonb_build_object('object', jsonb_build_object(
        'id', 'sub_demo_3', 'object', 'subscription', 'customer', 'cus_demo_3', 'status', 'paused',
        'currency', 'usd', 'metadata', jsonb_build_object('user_id', (SELECT user_id FROM demo_customers WHERE i = 3)))))) AS pause;
-- The same event again is a harmless duplicate; a forged one is rejected and logged.
SELECT pg_temp.deliver('stripe', jsonb_build_object('id', 'evt_demo_pause', 'object', 'event',
       'type', 'customer.subscription.paused', 'created', 1790000000, 'data', jsonb_build_object('object', '{}'::jsonb))) AS replay;
SELECT (attribution.ingest_webhook('stripe', '{"Stripe-Signature": "t=1790000000,v1=00"}',
        '{"id":"evt_forged","type":"invoice.paid"}')).status AS forged;

-- The processor worker drains the inbox in the background.
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM attribution.webhook_inbox WHERE status = 'pending');
        PERFORM pg_sleep(0.5);
    END LOOP;
END $$;

\echo
\echo '== Inbox after the processor =='
SELECT source, status, count(*) FROM attribution.webhook_inbox GROUP BY 1, 2 ORDER BY 1, 2;
SELECT source, reason, count(*) FROM attribution.webhook_rejections GROUP BY 1, 2 ORDER BY 1, 2;

\echo '== The ledger: lifecycle events per provider =='
SELECT provider, kind, count(*) AS events, round(sum(amount_minor) / 100.0, 2) AS amount
  FROM attribution.billing_events GROUP BY 1, 2 ORDER BY 1, 2;

\echo '== LTV by first channel =='
SELECT f.channel AS first_channel, count(DISTINCT c.user_id) AS customers,
       sum(c.value) AS net_revenue, round(sum(c.value) / count(DISTINCT c.user_id), 2) AS ltv_per_customer
  FROM attribution.conversions c
  JOIN attribution.journeys f ON f.user_id = c.user_id AND f.touch_number = 1
 GROUP BY f.channel ORDER BY net_revenue DESC;
