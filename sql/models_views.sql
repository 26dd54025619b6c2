-- Analyst views over the rule-based credits: channel_credit,
-- model_comparison, ltv_by_channel, referral_credit.
-- The data lives in 2032 under provider 'viewtest', apart from other tests'.
SET TIME ZONE 'UTC';

CREATE FUNCTION add_conversion(fact text, uid text, at timestamptz, amount numeric,
                               customer text, first boolean)
RETURNS void LANGUAGE sql AS $$
    WITH be AS (
        INSERT INTO attribution.billing_events (provider, kind, fact_key, customer_id, amount_minor,
                                                currency, occurred_at, user_id)
        VALUES ('viewtest', CASE WHEN amount < 0 THEN 'refund' WHEN first THEN 'subscription_started' ELSE 'renewal' END,
                fact, customer, (amount * 100)::bigint, 'XTS', at, uid)
        RETURNING id
    )
    INSERT INTO attribution.conversions (billing_event_id, provider, customer_id, user_id, kind, occurred_at,
                                         value_minor, currency, value, ltv_minor, is_first_payment)
    SELECT be.id, 'viewtest', customer, uid,
           CASE WHEN amount < 0 THEN 'refund' WHEN first THEN 'subscription_started' ELSE 'renewal' END,
           at, (amount * 100)::bigint, 'XTS', amount, 0, first
      FROM be;
$$;

CREATE FUNCTION add_touch(uid text, at timestamptz, channel text, referral text DEFAULT NULL,
                          content text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, referral_code, utm_content)
    VALUES ('visitor-' || uid, uid, at, 'https://models-views.test/', channel, referral, content);
$$;

CREATE TEMP TABLE mc0 AS SELECT * FROM attribution.model_comparison;

-- ua: Paid Search then Email; first payment, renewal, partial refund.
SELECT add_touch('ua', '2032-01-02', 'Paid Search');
SELECT add_touch('ua', '2032-01-05', 'Email');
SELECT add_conversion('A1', 'ua', '2032-01-10', 100, 'cus_a', true);
SELECT add_conversion('A2', 'ua', '2032-02-10', 100, 'cus_a', false);
SELECT add_conversion('A3', 'ua', '2032-02-15', -40, 'cus_a', false);
-- ub: a partner link (referrer id in utm_content), then Email.
SELECT add_touch('ub', '2032-01-01', 'Referral Program', NULL, 'partner-9');
SELECT add_touch('ub', '2032-01-03', 'Email');
SELECT add_conversion('B1', 'ub', '2032-01-20', 60, 'cus_b', true);
-- uc: no touch at all: unattributed.
SELECT add_conversion('C1', 'uc', '2032-01-25', 30, 'cus_c', true);
-- ud: a referral code, then a Direct visit.
SELECT add_touch('ud', '2032-02-01', 'Referral Program', 'REF1');
SELECT add_touch('ud', '2032-02-02', 'Direct');
SELECT add_conversion('D1', 'ud', '2032-02-03', 80, 'cus_d', true);

-- model_comparison: channels as rows, one column per rule-based model.
-- It covers all time and currencies, so this test's share is shown as the
-- difference from the rows other data gives (mc0, taken before).
CREATE TEMP VIEW mc AS
SELECT coalesce(a.channel, b.channel) AS channel,
       coalesce(a.first_touch, 0) - coalesce(b.first_touch, 0) AS first_touch,
       coalesce(a.last_touch, 0) - coalesce(b.last_touch, 0) AS last_touch,
       coalesce(a.first_non_direct, 0) - coalesce(b.first_non_direct, 0) AS first_non_direct,
       coalesce(a.last_non_direct, 0) - coalesce(b.last_non_direct, 0) AS last_non_direct,
       coalesce(a.linear, 0) - coalesce(b.linear, 0) AS linear,
       coalesce(a.position_based, 0) - coalesce(b.position_based, 0) AS position_based,
       coalesce(a.time_decay, 0) - coalesce(b.time_decay, 0) AS time_decay
  FROM attribution.model_comparison a FULL JOIN mc0 b USING (channel);
SELECT channel, round(first_touch::numeric, 6) AS first_touch, round(last_touch::numeric, 6) AS last_touch,
       round(first_non_direct::numeric, 6) AS first_non_direct, round(last_non_direct::numeric, 6) AS last_non_direct,
       round(linear::numeric, 6) AS linear, round(position_based::numeric, 6) AS position_based,
       round(time_decay::numeric, 6) AS time_decay
  FROM mc
 WHERE channel IN ('Paid Search', 'Email', 'Referral Program', 'Direct', '(unattributed)')
 ORDER BY channel;
-- each column sums to the 5 paying conversions
SELECT round(sum(first_touch)::numeric, 9) AS first_touch, round(sum(last_touch)::numeric, 9) AS last_touch,
       round(sum(first_non_direct)::numeric, 9) AS first_non_direct, round(sum(last_non_direct)::numeric, 9) AS last_non_direct,
       round(sum(linear)::numeric, 9) AS linear, round(sum(position_based)::numeric, 9) AS position_based,
       round(sum(time_decay)::numeric, 9) AS time_decay
  FROM mc;
-- the time decay shares are exact: 1/(1 + 2^(3/7)) for Paid Search on A1 and A2
SELECT abs(time_decay - 2 / (1 + pow(2, 3 / 7.0))) < 1e-12 AS exact
  FROM mc WHERE channel = 'Paid Search';

-- channel_credit: per model, channel, month and currency.
SELECT model, channel, month, currency, round(conversions::numeric, 6) AS conversions,
       round(new_customers::numeric, 6) AS new_customers, round(revenue, 6) AS revenue,
       round(net_ltv, 6) AS net_ltv
  FROM attribution.channel_credit
 WHERE currency = 'XTS' AND model IN ('first_touch', 'linear')
 ORDER BY model, month, channel;
-- every model: conversions add up to the 5 paying conversions, revenue to
-- the net 330, net_ltv to the four customers' 330
SELECT model, round(sum(conversions)::numeric, 9) AS conversions, round(sum(new_customers)::numeric, 9) AS new_customers,
       round(sum(revenue), 9) AS revenue, round(sum(net_ltv), 9) AS net_ltv
  FROM attribution.channel_credit
 WHERE currency = 'XTS'
 GROUP BY model ORDER BY model;

-- ltv_by_channel: customers by the first touch of their first payment.
SELECT channel, currency, customers, net_ltv, round(avg_ltv, 2) AS avg_ltv
  FROM attribution.ltv_by_channel WHERE currency = 'XTS' ORDER BY channel;

-- referral_credit: by referral code or referrer id.
SELECT referrer, model, currency, round(conversions::numeric, 6) AS conversions,
       round(new_customers::numeric, 6) AS new_customers, round(revenue, 6) AS revenue, touched_conversions
  FROM attribution.referral_credit
 WHERE currency = 'XTS' ORDER BY referrer, model;

-- The analyst role reads the views (not the ledger behind them).
SET ROLE attribution_analyst;
SELECT count(*) > 0 AS reads_model_comparison FROM attribution.model_comparison;
SELECT count(*) > 0 AS reads_channel_credit FROM attribution.channel_credit;
SELECT count(*) > 0 AS reads_ltv_by_channel FROM attribution.ltv_by_channel;
SELECT count(*) > 0 AS reads_referral_credit FROM attribution.referral_credit;
SELECT count(*) > 0 AS reads_credits FROM attribution.credits;
SELECT attribution.path_weights('linear', ARRAY['a', 'b'], ARRAY['2032-01-01', '2032-01-02']::timestamptz[], '2032-01-03') AS weights;
DO $$
BEGIN
    PERFORM attribution.recompute_credits('2032-01-01', '2032-02-01');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'analyst recompute: %', SQLSTATE;
END
$$;
RESET ROLE;
SET ROLE attribution_app;
DO $$
BEGIN
    PERFORM count(*) FROM attribution.model_comparison;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'app reads model_comparison: %', SQLSTATE;
END
$$;
RESET ROLE;
SET ROLE attribution_admin;
SELECT attribution.recompute_credits('2032-01-01', '2032-03-01') AS admin_recompute;
RESET ROLE;

-- Clean up for the tests that follow.
DELETE FROM attribution.conversions WHERE provider = 'viewtest';
DELETE FROM attribution.billing_events WHERE provider = 'viewtest';
DELETE FROM attribution.touchpoints WHERE url = 'https://models-views.test/';
DROP VIEW mc;
DROP TABLE mc0;
DROP FUNCTION add_conversion(text, text, timestamptz, numeric, text, boolean);
DROP FUNCTION add_touch(text, timestamptz, text, text, text);
