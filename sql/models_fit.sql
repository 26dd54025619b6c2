-- fit_models: path table from journeys and conversions, Markov and Shapley
-- results stored per run, with hand-derived numbers.
SET extra_float_digits = 0;

-- Window [2036-01-01, 2036-02-01), lookback 90 days.
--   u1  Email 12-20, Search 01-05, first payment 01-10 (100)  -> Email>Search, converted
--   u2  Search 01-03, Social 01-04, first payment 01-06 (50), renewal 01-20 -> Search>Social
--   u3  Social 01-15, never pays                                -> Social, null
--   u4  Email 2035-08-01 (beyond the lookback), Search 01-11, pays 01-12 (30) -> Search
--   u5  Email 01-02, Email 01-09, never pays                    -> Email>Email, null
--   u6  anonymous Social 01-07 linked later by identities, pays 01-08 (20) -> Social
--   u7  paid in December, touches in January: a customer, not a null journey
--   u8  Search 01-20, pays only 02-05 (after the window)        -> Search, null
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel) VALUES
    ('v1', 'u1', '2035-12-20 10:00+00', 'https://x.test/', 'Email'),
    ('v1', 'u1', '2036-01-05 10:00+00', 'https://x.test/', 'Search'),
    ('v2', 'u2', '2036-01-03 10:00+00', 'https://x.test/', 'Search'),
    ('v2', 'u2', '2036-01-04 10:00+00', 'https://x.test/', 'Social'),
    ('v3', 'u3', '2036-01-15 10:00+00', 'https://x.test/', 'Social'),
    ('v4', 'u4', '2035-08-01 10:00+00', 'https://x.test/', 'Email'),
    ('v4', 'u4', '2036-01-11 10:00+00', 'https://x.test/', 'Search'),
    ('v5', 'u5', '2036-01-02 10:00+00', 'https://x.test/', 'Email'),
    ('v5', 'u5', '2036-01-09 10:00+00', 'https://x.test/', 'Email'),
    ('v6', NULL, '2036-01-07 10:00+00', 'https://x.test/', 'Social'),
    ('v7', 'u7', '2036-01-10 10:00+00', 'https://x.test/', 'Search'),
    ('v8', 'u8', '2036-01-20 10:00+00', 'https://x.test/', 'Search');
INSERT INTO attribution.identities (visitor_id, user_id) VALUES ('v6', 'u6');
INSERT INTO attribution.billing_events (provider, kind, fact_key, occurred_at, user_id, amount_minor, currency)
SELECT 'stripe', kind, 'fit-' || u || '-' || kind, at::timestamptz, u, amount, 'USD'
  FROM (VALUES ('u1', 'subscription_started', '2036-01-10 12:00+00', 10000),
               ('u2', 'subscription_started', '2036-01-06 12:00+00', 5000),
               ('u2', 'renewal', '2036-01-20 12:00+00', 5000),
               ('u4', 'subscription_started', '2036-01-12 12:00+00', 3000),
               ('u6', 'subscription_started', '2036-01-08 12:00+00', 2000),
               ('u7', 'subscription_started', '2035-12-15 12:00+00', 4000),
               ('u8', 'subscription_started', '2036-02-05 12:00+00', 9000)) v(u, kind, at, amount);
INSERT INTO attribution.conversions (billing_event_id, provider, user_id, kind, occurred_at,
                                     value_minor, currency, value, ltv_minor, is_first_payment)
SELECT b.id, b.provider, b.user_id, b.kind, b.occurred_at, b.amount_minor, b.currency,
       b.amount_minor / 100.0, b.amount_minor, b.kind = 'subscription_started'
  FROM attribution.billing_events b WHERE b.fact_key LIKE 'fit-%';

-- The result is a one-line summary; the run id is in it and in model_runs.
SELECT regexp_replace(attribution.fit_models('2036-01-01+00', '2036-02-01+00'), 'run \d+', 'run N') AS summary;
SELECT max(run_id) AS run FROM attribution.model_runs \gset
SELECT "from", "to", parameters, paths, conversions, nulls, value,
       finished_at >= started_at AS finished
  FROM attribution.model_runs WHERE run_id = :run;

-- Markov by hand (order 1): start -> Email 2, Search 3, Social 2 (of 7);
-- x(Social) = 2/3, x(Search) = 1/2 + 1/4 * 2/3 = 2/3, x(Email) = (1/3 * 2/3)
-- / (1 - 1/3) = 1/3; P = 12/21 = 4/7.  Without Email 10/21 (RE 1/6),
-- without Search 4/21 (RE 2/3), without Social 6/21 (RE 1/2): conversions
-- 0.5, 2, 1.5.  Value rewards 130/4 at Search, 70/3 at Social: value removal
-- effects 115/600, 460/600, 210/600 of 200: 29.299363, 117.197452, 53.503185.
-- Shapley zhao_simplified: {Email,Search} 1 -> 0.5 each (value 50 each),
-- {Search,Social} 1 -> 0.5 each (25), {Search} 1 (30), {Social} 1 (20).
SELECT model, channel, round(removal_effect::numeric, 12) AS removal_effect,
       round(conversions::numeric, 12) AS conversions, round(value::numeric, 6) AS value
  FROM attribution.model_results WHERE run_id = :run
 ORDER BY model, channel;
SELECT model, abs(sum(conversions) - 4) < 1e-9 AS conv_sum_ok, abs(sum(value) - 200) < 1e-9 AS value_sum_ok
  FROM attribution.model_results WHERE run_id = :run GROUP BY model ORDER BY model;

-- Options: order 2, only the Markov model, a shorter lookback (u1's Email
-- touch of 12-20 is then out: its path is just Search).
SELECT regexp_replace(attribution.fit_models('2036-01-01+00', '2036-02-01+00',
                              '{"order": 2, "models": ["markov"], "lookback_days": 10}'), 'run \d+', 'run N') AS summary;
SELECT max(run_id) AS run2 FROM attribution.model_runs \gset
SELECT parameters, paths, conversions, nulls FROM attribution.model_runs WHERE run_id = :run2;
SELECT model, channel, round(conversions::numeric, 12) AS conversions
  FROM attribution.model_results WHERE run_id = :run2 ORDER BY 1, 2;

-- An empty window still records a run.
SELECT regexp_replace(attribution.fit_models('2020-01-01+00', '2020-02-01+00'), 'run \d+', 'run N') AS summary;
SELECT max(run_id) AS run3 FROM attribution.model_runs \gset
SELECT paths, conversions, finished_at IS NOT NULL AS finished FROM attribution.model_runs WHERE run_id = :run3;
SELECT count(*) FROM attribution.model_results WHERE run_id = :run3;

-- Errors
DO $$
DECLARE
    stmt text;
BEGIN
    FOREACH stmt IN ARRAY ARRAY[
        'SELECT attribution.fit_models(''2036-02-01'', ''2036-01-01'')',
        'SELECT attribution.fit_models(''2036-01-01'', ''2036-02-01'', ''{"lookback": 3}'')',
        'SELECT attribution.fit_models(''2036-01-01'', ''2036-02-01'', ''{"models": ["lstm"]}'')',
        'SELECT attribution.fit_models(''2036-01-01'', ''2036-02-01'', ''{"conversions": "some"}'')',
        'SELECT attribution.fit_models(''2036-01-01'', ''2036-02-01'', ''{"order": 12}'')'
    ] LOOP
        BEGIN
            EXECUTE stmt;
            RAISE NOTICE 'no error: %', stmt;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
        END;
    END LOOP;
END
$$;

-- Privileges: analysts read the results and may not fit; admins may.
SET ROLE attribution_analyst;
SELECT count(*) > 0 AS analyst_reads FROM attribution.model_results;
DO $$
BEGIN
    PERFORM attribution.fit_models('2036-01-01', '2036-02-01');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;
SET ROLE attribution_admin;
SELECT attribution.fit_models('2036-01-01+00', '2036-02-01+00', '{"models": ["shapley_zhao_simplified"]}') LIKE 'fit_models run %' AS admin_fits;
RESET ROLE;
