-- models/views: what analysts read from the rule-based credits.
--
-- Definitions shared by the views:
--   conversions    sum of credit weights over conversions with value > 0
--                  (first payments, renewals, upgrades, one-time purchases);
--                  refunds, chargebacks and zero-value events are not
--                  conversions, but their signed value counts in revenue
--   revenue        sum of value_credited: the signed value, net of refunds
--                  and chargebacks, in the conversions' currency
--   (unattributed) the channel of a conversion without credits (no user,
--                  or no touch of its user in the lookback window): weight 1,
--                  its whole value
-- Amounts are never summed across currencies: currency is a grouping column.

-- Per conversion and rule-based model, the credited channels; conversions
-- without credits appear once per model as (unattributed).
CREATE VIEW attribution._rule_credit AS
SELECT c.id AS conversion_id,
       m.model,
       c.occurred_at,
       c.provider,
       c.customer_id,
       c.currency,
       c.value,
       c.is_first_payment,
       cr.touch_id,
       coalesce(cr.channel, '(unattributed)') AS channel,
       coalesce(cr.weight, 1::float8) AS weight,
       coalesce(cr.value_credited, c.value) AS value_credited,
       cr.referral_code
  FROM attribution.conversions c
 CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('first_non_direct'), ('last_non_direct'),
                    ('linear'), ('position_based'), ('time_decay')) AS m (model)
  LEFT JOIN attribution.credits cr ON cr.conversion_id = c.id AND cr.model = m.model;
COMMENT ON VIEW attribution._rule_credit IS 'Credits of every conversion under each rule-based model, (unattributed) where it has none';

-- Net revenue to date of each billing customer (a conversion without a
-- customer id is its own customer).
CREATE VIEW attribution._customer_value AS
SELECT c.provider,
       coalesce(c.customer_id, 'conversion:' || c.id) AS customer_key,
       c.currency,
       sum(c.value) AS net_revenue
  FROM attribution.conversions c
 GROUP BY 1, 2, 3;
COMMENT ON VIEW attribution._customer_value IS 'Net revenue (signed sum of conversion values) of each customer to date, per currency';

CREATE VIEW attribution.channel_credit AS
SELECT r.model,
       r.channel,
       (pg_catalog.date_trunc('month', r.occurred_at AT TIME ZONE 'UTC'))::date AS month,
       r.currency,
       coalesce(sum(r.weight) FILTER (WHERE r.value > 0), 0) AS conversions,
       coalesce(sum(r.weight) FILTER (WHERE r.is_first_payment), 0) AS new_customers,
       sum(r.value_credited) AS revenue,
       coalesce(sum(r.weight::numeric * coalesce(v.net_revenue, r.value)) FILTER (WHERE r.is_first_payment), 0) AS net_ltv
  FROM attribution._rule_credit r
  LEFT JOIN attribution._customer_value v
         ON r.is_first_payment
        AND v.provider = r.provider
        AND v.customer_key = coalesce(r.customer_id, 'conversion:' || r.conversion_id)
        AND v.currency = r.currency
 GROUP BY r.model, r.channel, 3, r.currency;
COMMENT ON VIEW attribution.channel_credit IS
'Per rule-based model, channel, calendar month (UTC) of the conversion and currency: conversions (sum of
weights over conversions with value > 0), new_customers (sum of weights over first payments), revenue
(sum of value_credited, net of refunds and chargebacks credited in the month) and net_ltv (the customers
first paying in the month, each weighted by the channel''s share of the first payment, times the
customer''s net revenue to date).  Conversions without credits count under the channel (unattributed)';
COMMENT ON COLUMN attribution.channel_credit.conversions IS 'Sum of credit weights over conversions with value > 0';
COMMENT ON COLUMN attribution.channel_credit.new_customers IS 'Sum of credit weights over first payments';
COMMENT ON COLUMN attribution.channel_credit.revenue IS 'Sum of value_credited (signed) of the month''s conversions';
COMMENT ON COLUMN attribution.channel_credit.net_ltv IS 'Net revenue to date of the customers acquired in the month, times the channel''s weight in their first payment';

-- Channels as rows, the rule-based models as columns.
CREATE VIEW attribution.model_comparison AS
SELECT r.channel,
       coalesce(sum(r.weight) FILTER (WHERE r.model = 'first_touch' AND r.value > 0), 0) AS first_touch,
       coalesce(sum(r.weight) FILTER (WHERE r.model = 'last_touch' AND r.value > 0), 0) AS last_touch,
       coalesce(sum(r.weight) FILTER (WHERE r.model = 'first_non_direct' AND r.value > 0), 0) AS first_non_direct,
       coalesce(sum(r.weight) FILTER (WHERE r.model = 'last_non_direct' AND r.value > 0), 0) AS last_non_direct,
       coalesce(sum(r.weight) FILTER (WHERE r.model = 'linear' AND r.value > 0), 0) AS linear,
       coalesce(sum(r.weight) FILTER (WHERE r.model = 'position_based' AND r.value > 0), 0) AS position_based,
       coalesce(sum(r.weight) FILTER (WHERE r.model = 'time_decay' AND r.value > 0), 0) AS time_decay
  FROM attribution._rule_credit r
 GROUP BY r.channel;
COMMENT ON VIEW attribution.model_comparison IS
'Credited conversions (sum of weights over conversions with value > 0, all time) per channel, one column
per rule-based model, side by side; (unattributed) holds conversions without credits.  Every column sums
to the number of conversions';

-- Customers by the channel that brought them: the first_touch credit of the
-- customer's first payment (else its earliest paying conversion).
CREATE VIEW attribution.ltv_by_channel AS
WITH acquisition AS (
    SELECT DISTINCT ON (c.provider, coalesce(c.customer_id, 'conversion:' || c.id), c.currency)
           c.provider,
           coalesce(c.customer_id, 'conversion:' || c.id) AS customer_key,
           c.currency,
           c.id AS conversion_id
      FROM attribution.conversions c
     ORDER BY c.provider, coalesce(c.customer_id, 'conversion:' || c.id), c.currency,
              c.is_first_payment DESC, (c.value > 0) DESC, c.occurred_at, c.id
)
SELECT coalesce(cr.channel, '(unattributed)') AS channel,
       v.currency,
       count(*) AS customers,
       sum(v.net_revenue) AS net_ltv,
       avg(v.net_revenue) AS avg_ltv
  FROM acquisition a
  JOIN attribution._customer_value v USING (provider, customer_key, currency)
  LEFT JOIN attribution.credits cr ON cr.conversion_id = a.conversion_id AND cr.model = 'first_touch'
 GROUP BY 1, 2;
COMMENT ON VIEW attribution.ltv_by_channel IS
'Per acquisition channel (the first_touch credit of each customer''s first payment, (unattributed) when it
has none) and currency: customers, their net revenue to date (net_ltv, refunds and chargebacks deducted)
and its average per customer (avg_ltv)';

-- Referral programs: credit by referral code or referrer id.
CREATE VIEW attribution.referral_credit AS
SELECT cr.referral_code AS referrer,
       cr.model,
       c.currency,
       coalesce(sum(cr.weight) FILTER (WHERE c.value > 0), 0) AS conversions,
       coalesce(sum(cr.weight) FILTER (WHERE c.is_first_payment), 0) AS new_customers,
       sum(cr.value_credited) AS revenue,
       count(DISTINCT cr.conversion_id) AS touched_conversions
  FROM attribution.credits cr
  JOIN attribution.conversions c ON c.id = cr.conversion_id
 WHERE cr.referral_code IS NOT NULL
 GROUP BY cr.referral_code, cr.model, c.currency;
COMMENT ON VIEW attribution.referral_credit IS
'Per referral code (or, for Referral Program touches without one, the referrer id in utm_content),
rule-based model and currency: conversions (sum of weights over conversions with value > 0),
new_customers (over first payments), revenue (sum of value_credited, signed) and the number of
conversions the referrer has any credit in';

GRANT SELECT ON attribution.channel_credit, attribution.model_comparison,
                attribution.ltv_by_channel, attribution.referral_credit
   TO attribution_analyst, attribution_admin;
