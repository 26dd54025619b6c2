-- A deterministic small company for the report's rendering test: 400
-- visitors over five channels in 2035-01..03, 160 of them paying, some
-- renewing, a few refunded.  Rows go straight into the tables the processor
-- and capture fill, so the test needs no webhooks.
SET TIME ZONE 'UTC';
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, referral_code)
SELECT 'v' || g, 'u' || g,
       '2035-01-01'::timestamptz + (g % 60) * interval '1 day' + (k * interval '2 days'),
       'https://report-fixture.test/',
       (ARRAY['Paid Search', 'Paid Social', 'Email', 'Organic Search', 'Referral Program'])[1 + (g * 7 + k * 3) % 5],
       CASE WHEN (g * 7 + k * 3) % 5 = 4 THEN 'FRIEND' || (g % 3) END
  FROM generate_series(1, 400) g, generate_series(0, g % 3) k;

WITH payers AS (
    SELECT g, n FROM generate_series(1, 400) g, generate_series(0, (g % 4)) n WHERE g % 5 IN (0, 2)
), be AS (
    INSERT INTO attribution.billing_events (provider, kind, fact_key, customer_id, amount_minor,
                                            currency, occurred_at, user_id)
    SELECT 'fixture', CASE WHEN n = 0 THEN 'subscription_started' ELSE 'renewal' END,
           'f' || g || '.' || n, 'cus' || g, 1000 + (g % 7) * 500, 'USD',
           '2035-01-01'::timestamptz + (g % 60 + 8) * interval '1 day' + n * interval '30 days', 'u' || g
      FROM payers
    RETURNING *
)
INSERT INTO attribution.conversions (billing_event_id, provider, customer_id, user_id, kind, occurred_at,
                                     value_minor, currency, value, ltv_minor, is_first_payment)
SELECT id, provider, customer_id, user_id, kind, occurred_at, amount_minor, currency,
       amount_minor / 100.0, 0, kind = 'subscription_started'
  FROM be WHERE occurred_at < '2035-04-01';

INSERT INTO attribution.subscriptions (provider, subscription_id, customer_id, user_id, status, currency,
                                       provider_updated_at)
SELECT 'fixture', 'sub' || g, 'cus' || g, 'u' || g,
       CASE WHEN g % 4 = 0 THEN 'canceled' ELSE 'active' END, 'USD', '2035-03-01'
  FROM generate_series(1, 400) g WHERE g % 5 IN (0, 2);
