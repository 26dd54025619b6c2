-- attribution.credits: filled on conversion insert, re-credited when
-- identify() or link_customer() bring touches, recompute_credits().
-- The data lives in 2031 under provider 'test', apart from other tests'.
SET TIME ZONE 'UTC';

-- Conversions are labelled by their billing event's fact_key, since their
-- ids depend on what ran before.
CREATE FUNCTION add_conversion(fact text, uid text, at timestamptz, amount numeric,
                               customer text DEFAULT NULL, first boolean DEFAULT true)
RETURNS void LANGUAGE sql AS $$
    WITH be AS (
        INSERT INTO attribution.billing_events (provider, kind, fact_key, customer_id, amount_minor,
                                                currency, occurred_at, user_id)
        VALUES ('test', CASE WHEN amount < 0 THEN 'refund' ELSE 'subscription_started' END, fact,
                customer, (amount * 100)::bigint, 'USD', at, uid)
        RETURNING id
    )
    INSERT INTO attribution.conversions (billing_event_id, provider, customer_id, user_id, kind, occurred_at,
                                         value_minor, currency, value, ltv_minor, is_first_payment)
    SELECT be.id, 'test', customer, uid, CASE WHEN amount < 0 THEN 'refund' ELSE 'subscription_started' END,
           at, (amount * 100)::bigint, 'USD', amount, (amount * 100)::bigint, first AND amount > 0
      FROM be;
$$;

CREATE FUNCTION add_touch(visitor text, uid text, at timestamptz, channel text,
                          referral text DEFAULT NULL, content text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, referral_code, utm_content)
    VALUES (visitor, uid, at, 'https://models-credits.test/', channel, referral, content);
$$;

CREATE VIEW shown AS
SELECT b.fact_key AS conversion, cr.model, cr.channel, round(cr.weight::numeric, 6) AS weight,
       round(cr.value_credited, 6) AS value_credited, cr.referral_code,
       t.occurred_at AS touched_at
  FROM attribution.credits cr
  JOIN attribution.conversions c ON c.id = cr.conversion_id
  JOIN attribution.billing_events b ON b.id = c.billing_event_id
  JOIN attribution.touchpoints t ON t.id = cr.touch_id
 WHERE b.provider = 'test';

CREATE VIEW changes AS
SELECT ch.id, b.fact_key AS conversion, ch.models
  FROM attribution.credit_changes ch
  JOIN attribution.conversions c ON c.id = ch.conversion_id
  JOIN attribution.billing_events b ON b.id = c.billing_event_id
 WHERE b.provider = 'test';

-- u1: three touches in the window, one too old, one after the conversion.
SELECT add_touch('v1', 'u1', '2030-09-01', 'Organic Social');
SELECT add_touch('v1', 'u1', '2031-01-01', 'Paid Search');
SELECT add_touch('v1', 'u1', '2031-01-10', 'Direct');
SELECT add_touch('v1', 'u1', '2031-01-20', 'Email');
SELECT add_touch('v1', 'u1', '2031-01-22', 'Paid Social');
SELECT add_conversion('c1', 'u1', '2031-01-21', 120.00);
-- a conversion without a user, and one whose user has no touch: no credits
SELECT add_conversion('c-nouser', NULL, '2031-01-21', 10);
SELECT add_conversion('c-notouch', 'nobody', '2031-01-21', 10);

SELECT conversion, model, channel, weight, value_credited, touched_at
  FROM shown ORDER BY conversion, model, touched_at;

-- Per model, weights sum to 1 and credited values to the value, exactly.
SELECT cr.model, sum(cr.weight) AS weights, sum(cr.value_credited) AS credited, count(*) AS touches
  FROM attribution.credits cr JOIN attribution.conversions c ON c.id = cr.conversion_id
  JOIN attribution.billing_events b ON b.id = c.billing_event_id
 WHERE b.provider = 'test' AND b.fact_key = 'c1'
 GROUP BY cr.model ORDER BY cr.model;

-- Stored credits agree with path_weights on the same path.
SELECT count(*) AS compared, count(*) FILTER (WHERE abs(pw.w - cr.weight) > 1e-15) AS disagreements
  FROM attribution.credits cr
  JOIN attribution.conversions c ON c.id = cr.conversion_id
  JOIN attribution.billing_events b ON b.id = c.billing_event_id
  JOIN LATERAL (
        SELECT u.id, u.w
          FROM (SELECT array_agg(t.id ORDER BY t.occurred_at, t.id) AS ids,
                       array_agg(t.channel ORDER BY t.occurred_at, t.id) AS channels,
                       array_agg(t.occurred_at ORDER BY t.occurred_at, t.id) AS times
                  FROM attribution.touchpoints t WHERE t.user_id = c.user_id) p,
               unnest(p.ids, attribution.path_weights(cr.model, p.channels, p.times, c.occurred_at)) AS u (id, w)
       ) pw ON pw.id = cr.touch_id
 WHERE b.provider = 'test' AND b.fact_key = 'c1';

-- Nothing logged for a conversion's first crediting.
SELECT count(*) AS changes FROM changes;

-- identify(): an anonymous visitor's Referral Program touch joins u1's path.
SELECT add_touch('v2', NULL, '2031-01-15', 'Referral Program', 'FRIEND10');
SELECT attribution.identify('v2', 'u1');
SELECT conversion, model, channel, weight, value_credited, referral_code, touched_at
  FROM shown WHERE conversion = 'c1' ORDER BY model, touched_at;
-- only the models whose credits moved are logged, once
SELECT conversion, models FROM changes ORDER BY id;

-- A second identify of the same link changes nothing.
SELECT attribution.identify('v2', 'u1');
SELECT count(*) AS changes FROM changes;

-- A referrer id in utm_content of a Referral Program touch (no code).
SELECT add_touch('v3', 'u3', '2031-01-05', 'Referral Program', NULL, 'partner-7');
SELECT add_touch('v3', 'u3', '2031-01-06', 'Referral', NULL, 'not-a-referrer');
SELECT add_conversion('c3', 'u3', '2031-01-07', 20);
SELECT conversion, model, channel, weight, referral_code
  FROM shown WHERE conversion = 'c3' AND model IN ('first_touch', 'last_touch') ORDER BY model;

-- link_customer(): the customer's conversion takes the user and is credited.
SELECT add_touch('v4', 'u4', '2031-01-24', 'Organic Search');
SELECT add_conversion('c4', NULL, '2031-01-25', 50, 'cus_4');
SELECT count(*) AS before_link FROM shown WHERE conversion = 'c4';
SELECT attribution.link_customer('test', 'cus_4', 'u4');
SELECT c.user_id FROM attribution.conversions c JOIN attribution.billing_events b ON b.id = c.billing_event_id
 WHERE b.provider = 'test' AND b.fact_key = 'c4';
SELECT conversion, model, channel, weight, value_credited FROM shown WHERE conversion = 'c4' ORDER BY model;
SELECT conversion, models FROM changes WHERE conversion = 'c4';
-- The customer moves to another user without touches: the credits go.
SELECT attribution.link_customer('test', 'cus_4', 'u4-other');
SELECT count(*) AS after_relink FROM shown WHERE conversion = 'c4';
SELECT conversion, models FROM changes WHERE conversion = 'c4' ORDER BY id;

-- A refund is credited with negative values.
SELECT add_conversion('c1-refund', 'u1', '2031-01-23', -30.00, first => false);
SELECT model, channel, value_credited FROM shown
 WHERE conversion = 'c1-refund' AND model IN ('first_touch', 'linear') ORDER BY model, touched_at;

-- recompute_credits(): restores lost rows, logs the change, counts the
-- conversions of [from, to).
DELETE FROM attribution.credits cr USING attribution.conversions c, attribution.billing_events b
 WHERE c.id = cr.conversion_id AND b.id = c.billing_event_id AND b.provider = 'test'
   AND b.fact_key = 'c1' AND cr.model = 'linear';
SELECT attribution.recompute_credits('2031-01-01', '2031-02-01') AS recomputed;
SELECT count(*) AS linear_rows FROM shown WHERE conversion = 'c1' AND model = 'linear';
SELECT conversion, models FROM changes ORDER BY id;
-- again: nothing changes, nothing logged
SELECT attribution.recompute_credits('2031-01-01', '2031-02-01') AS recomputed;
SELECT count(*) AS changes FROM changes;
SELECT attribution.recompute_credits('2031-01-21', '2031-01-21') AS empty_range;

-- A conversion's time moving re-credits it (its touches in the new window).
UPDATE attribution.conversions c SET occurred_at = '2031-01-12'
  FROM attribution.billing_events b
 WHERE b.id = c.billing_event_id AND b.provider = 'test' AND b.fact_key = 'c1';
SELECT conversion, channel, weight FROM shown WHERE conversion = 'c1' AND model = 'linear' ORDER BY touched_at;

-- Property: random users, touches and conversions; per conversion and
-- model, weights sum to 1 and values to the conversion's value exactly, and
-- exactly the conversions with a touch in the window have credits.
SELECT setseed(0.1234);
SELECT count(*) AS touches
  FROM (SELECT add_touch('pv' || g, 'pu' || (g % 150), '2031-06-01'::timestamptz - random() * interval '150 days',
                         (ARRAY['Direct', 'Paid Search', 'Email', 'Organic Search', 'Referral Program'])[1 + floor(random() * 5)::int])
          FROM generate_series(1, 900) AS g) x;
SELECT count(*) AS conversions
  FROM (SELECT add_conversion('p' || g, 'pu' || (g % 170), '2031-03-01'::timestamptz + random() * interval '90 days',
                              round((random() * 500 - 50)::numeric, 2))
          FROM generate_series(1, 300) AS g) x;
WITH conv AS (
    SELECT c.* FROM attribution.conversions c JOIN attribution.billing_events b ON b.id = c.billing_event_id
     WHERE b.provider = 'test' AND b.fact_key LIKE 'p%'
), per AS (
    SELECT c.id, cr.model, sum(cr.weight) AS w, sum(cr.value_credited) AS v, min(c.value) AS value
      FROM conv c JOIN attribution.credits cr ON cr.conversion_id = c.id
     GROUP BY c.id, cr.model
), expected AS (
    SELECT c.id FROM conv c
     WHERE EXISTS (SELECT 1 FROM attribution.touchpoints t
                    WHERE t.user_id = c.user_id AND t.occurred_at <= c.occurred_at
                      AND t.occurred_at >= c.occurred_at - interval '90 days')
)
SELECT (SELECT count(*) FROM conv) AS conversions,
       (SELECT count(*) FROM expected) AS with_touches,
       (SELECT count(DISTINCT id) FROM per) AS credited,
       (SELECT count(*) FROM per) AS conversion_models,
       (SELECT count(*) FROM per WHERE abs(w - 1) > 1e-12) AS bad_weight_sums,
       (SELECT count(*) FROM per WHERE v <> value) AS bad_value_sums,
       (SELECT count(*) FROM expected e WHERE NOT EXISTS (SELECT 1 FROM per p WHERE p.id = e.id)) AS missing,
       (SELECT count(*) FROM (SELECT id FROM per GROUP BY id HAVING count(*) <> 7) x) AS incomplete;

-- Errors.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('unknown conversion', $q$SELECT attribution._credit_conversion(-1)$q$),
        ('reversed range', $q$SELECT attribution.recompute_credits('2031-02-01', '2031-01-01')$q$),
        ('set at run time', $q$SET pg_attribution.credit_models = 'linear'$q$),
        ('weight above 1', $q$INSERT INTO attribution.credits SELECT conversion_id, model, touch_id, channel, 1.5, 0, NULL FROM attribution.credits LIMIT 1$q$),
        ('model not a rule', $q$INSERT INTO attribution.credits SELECT conversion_id, 'u_shaped', touch_id, channel, 0.5, 0, NULL FROM attribution.credits LIMIT 1$q$)
    ) AS v (label, q)
    LOOP
        BEGIN
            EXECUTE c.q;
            RAISE NOTICE '%: no error', c.label;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: %', c.label, SQLSTATE;
        END;
    END LOOP;
END
$$;
\set VERBOSITY sqlstate
ALTER SYSTEM SET pg_attribution.credit_models = 'first_touch, u_shaped';
ALTER SYSTEM SET pg_attribution.lookback_days = 0;
\set VERBOSITY default

-- The set of models is a setting: with two models, only those are stored.
ALTER SYSTEM SET pg_attribution.credit_models = 'last_touch, linear';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW pg_attribution.credit_models;
SELECT attribution.recompute_credits('2031-01-01', '2031-02-01') AS recomputed;
SELECT DISTINCT model FROM shown WHERE conversion = 'c1' ORDER BY 1;
ALTER SYSTEM RESET pg_attribution.credit_models;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW pg_attribution.credit_models;
SELECT attribution.recompute_credits('2031-01-01', '2031-02-01') AS recomputed;
SELECT count(DISTINCT model) AS models FROM shown WHERE conversion = 'c1';

-- The lookback window is a setting too: 5 days leaves the refund of
-- 2031-01-23 with its touches of 2031-01-20 and 2031-01-22.
ALTER SYSTEM SET pg_attribution.lookback_days = 5;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW pg_attribution.lookback_days;
SELECT attribution.recompute_credits('2031-01-01', '2031-02-01') AS recomputed;
SELECT model, channel, weight, touched_at FROM shown
 WHERE conversion = 'c1-refund' AND model IN ('first_touch', 'linear') ORDER BY model, touched_at;
ALTER SYSTEM RESET pg_attribution.lookback_days;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW pg_attribution.lookback_days;
SELECT attribution.recompute_credits('2031-01-01', '2031-02-01') AS recomputed;
SELECT count(*) AS linear_touches FROM shown WHERE conversion = 'c1-refund' AND model = 'linear';

-- Deleting a conversion takes its credits and change log with it.
DELETE FROM attribution.conversions c USING attribution.billing_events b
 WHERE b.id = c.billing_event_id AND b.provider = 'test' AND b.fact_key = 'c1';
SELECT count(*) AS c1_rows FROM shown WHERE conversion = 'c1';
SELECT count(*) AS c1_changes FROM changes WHERE conversion = 'c1';

-- Clean up for the tests that follow.
DELETE FROM attribution.conversions WHERE provider = 'test';
DELETE FROM attribution.billing_events WHERE provider = 'test';
DELETE FROM attribution.customers WHERE provider = 'test';
DELETE FROM attribution.identities WHERE visitor_id = 'v2';
DELETE FROM attribution.touchpoints WHERE url = 'https://models-credits.test/';
DROP VIEW shown, changes;
DROP FUNCTION add_conversion(text, text, timestamptz, numeric, text, boolean);
DROP FUNCTION add_touch(text, text, timestamptz, text, text, text);
