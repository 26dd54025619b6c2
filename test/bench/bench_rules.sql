-- Benchmark of the rule-based models (run by bench_rules.sh, which sets
-- :conv conversions, :per touches per conversion on average and :rec, the
-- conversions recompute_credits() redoes).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_attribution;
SET max_parallel_workers_per_gather = 0;
SET work_mem = '256MB';
SET TIME ZONE 'UTC';

DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

-- Best of three runs, in milliseconds; rows are produced and discarded.
CREATE FUNCTION bench.ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    best float8 := 'infinity';
    t0 timestamptz;
    i int;
BEGIN
    FOR i IN 1..3 LOOP
        t0 := clock_timestamp();
        EXECUTE q;
        best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
    RETURN best;
END
$$;

\echo generating :conv conversions over about :per touches each
SELECT setseed(0.5);
CREATE TABLE bench.conversions AS
SELECT u AS user_id,
       '2026-06-01'::timestamptz + (random() * 30) * interval '1 day' AS converted_at,
       round((10 + random() * 990)::numeric, 2) AS value
  FROM generate_series(1, :conv) AS u;
CREATE TABLE bench.touches AS
SELECT c.user_id,
       row_number() OVER () AS touch_id,
       c.converted_at - (random() * 100) * interval '1 day' AS occurred_at,
       (ARRAY['Direct', 'Paid Search', 'Organic Search', 'Email', 'Paid Social', 'Organic Social',
              'Referral', 'Referral Program', 'Display', 'Affiliates', 'Paid Video', 'SMS'])[1 + floor(random() * 12)::int] AS channel
  FROM bench.conversions c,
       LATERAL generate_series(1, 1 + floor(random() * (2 * :per - 1))::int + (c.user_id * 0)::int) AS k
 ORDER BY c.user_id;
CREATE INDEX ON bench.touches (user_id);
ANALYZE bench.conversions;
ANALYZE bench.touches;
SELECT count(*) AS touches, count(DISTINCT user_id) AS users FROM bench.touches;

-- The same seven models three ways: C (path_weights over array_agg paths),
-- pure SQL (window functions), and the scan they are measured against.
CREATE VIEW bench.rules_c AS
WITH p AS (
    SELECT t.user_id, array_agg(t.channel) AS channels, array_agg(t.occurred_at) AS times,
           min(c.converted_at) AS converted_at, min(c.value) AS value
      FROM bench.touches t JOIN bench.conversions c USING (user_id)
     WHERE t.occurred_at BETWEEN c.converted_at - interval '90 days' AND c.converted_at
     GROUP BY t.user_id
)
SELECT m.model, u.channel, sum(p.value * u.w::numeric) AS credited
  FROM p
 CROSS JOIN unnest(ARRAY['first_touch', 'last_touch', 'first_non_direct', 'last_non_direct',
                         'linear', 'position_based', 'time_decay']) AS m (model)
 CROSS JOIN LATERAL unnest(p.channels, attribution.path_weights(m.model, p.channels, p.times, p.converted_at)) AS u (channel, w)
 WHERE u.w > 0
 GROUP BY 1, 2;

CREATE VIEW bench.rules_sql AS
WITH j AS (
    SELECT t.user_id, t.channel, t.occurred_at, c.converted_at, c.value,
           row_number() OVER (PARTITION BY t.user_id ORDER BY t.occurred_at, t.touch_id) AS rn,
           count(*) OVER (PARTITION BY t.user_id) AS n
      FROM bench.touches t JOIN bench.conversions c USING (user_id)
     WHERE t.occurred_at BETWEEN c.converted_at - interval '90 days' AND c.converted_at
), k AS (
    SELECT j.*,
           min(rn) FILTER (WHERE channel <> 'Direct') OVER (PARTITION BY user_id) AS first_nd,
           max(rn) FILTER (WHERE channel <> 'Direct') OVER (PARTITION BY user_id) AS last_nd,
           power(2::float8, -extract(epoch FROM converted_at - occurred_at)::float8 / 86400 / 7) AS decay,
           sum(power(2::float8, -extract(epoch FROM converted_at - occurred_at)::float8 / 86400 / 7))
               OVER (PARTITION BY user_id) AS decay_sum
      FROM j
)
SELECT m.model, k.channel, sum(k.value * m.w::numeric) AS credited
  FROM k
 CROSS JOIN LATERAL (VALUES
        ('first_touch', CASE WHEN rn = 1 THEN 1 ELSE 0 END::float8),
        ('last_touch', CASE WHEN rn = n THEN 1 ELSE 0 END::float8),
        ('first_non_direct', CASE WHEN rn = coalesce(first_nd, 1) THEN 1 ELSE 0 END::float8),
        ('last_non_direct', CASE WHEN rn = coalesce(last_nd, n) THEN 1 ELSE 0 END::float8),
        ('linear', 1.0::float8 / n),
        ('position_based', CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN 0.5
                                WHEN rn = 1 OR rn = n THEN 0.4 ELSE 0.2 / (n - 2) END::float8),
        ('time_decay', decay / decay_sum)) AS m (model, w)
 WHERE m.w > 0
 GROUP BY 1, 2;

\echo checking that the C and SQL versions agree
SELECT count(*) AS model_channels,
       max(abs(a.credited - b.credited)) AS max_abs_difference
  FROM bench.rules_c a FULL JOIN bench.rules_sql b USING (model, channel);

\echo timing (best of 3)
CREATE TEMP TABLE timing AS
SELECT bench.ms('SELECT count(*) FROM bench.touches') AS scan_ms,
       bench.ms('SELECT * FROM bench.rules_c') AS c_ms,
       bench.ms('SELECT * FROM bench.rules_sql') AS sql_ms,
       bench.ms($q$SELECT t.user_id, array_agg(t.channel), array_agg(t.occurred_at), min(c.converted_at)
                    FROM bench.touches t JOIN bench.conversions c USING (user_id)
                   WHERE t.occurred_at BETWEEN c.converted_at - interval '90 days' AND c.converted_at
                   GROUP BY t.user_id$q$) AS paths_ms;
CREATE TABLE bench.paths AS
SELECT t.user_id, array_agg(t.channel) AS channels, array_agg(t.occurred_at) AS times,
       min(c.converted_at) AS converted_at
  FROM bench.touches t JOIN bench.conversions c USING (user_id)
 WHERE t.occurred_at BETWEEN c.converted_at - interval '90 days' AND c.converted_at
 GROUP BY t.user_id;
ANALYZE bench.paths;
ALTER TABLE timing ADD COLUMN paths_scan_ms float8, ADD COLUMN weights_ms float8;
UPDATE timing SET
    paths_scan_ms = bench.ms('SELECT count(*) FROM bench.paths'),
    weights_ms = bench.ms($q$SELECT sum(cardinality(attribution.path_weights(m.model, p.channels, p.times, p.converted_at)))
                              FROM bench.paths p,
                                   unnest(ARRAY['first_touch', 'last_touch', 'first_non_direct', 'last_non_direct',
                                                'linear', 'position_based', 'time_decay']) AS m (model)$q$);

SELECT round(scan_ms::numeric, 1) AS "scan count(*) touches ms",
       round(c_ms::numeric, 1) AS "rules in C ms",
       round(sql_ms::numeric, 1) AS "rules in SQL ms",
       round((c_ms / scan_ms)::numeric, 2) AS "C / scan",
       round((sql_ms / c_ms)::numeric, 2) AS "SQL / C (speed-up)",
       round((paths_ms / scan_ms)::numeric, 2) AS "array_agg paths alone / scan"
  FROM timing;
SELECT round(paths_scan_ms::numeric, 1) AS "scan count(*) paths ms",
       round(weights_ms::numeric, 1) AS "7 models over paths ms",
       round((weights_ms / paths_scan_ms)::numeric, 2) AS "models / paths scan",
       round((weights_ms / 7 / paths_scan_ms)::numeric, 2) AS "one model / paths scan"
  FROM timing;

-- recompute_credits(): the stored credits, on the extension's own tables.
\echo loading :rec conversions into the attribution tables for recompute_credits
ALTER TABLE attribution.conversions DISABLE TRIGGER conversions_credit;
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel)
SELECT 'v' || t.user_id, 'u' || t.user_id, t.occurred_at, 'https://bench.test/', t.channel
  FROM bench.touches t WHERE t.user_id <= :rec ORDER BY t.user_id, t.occurred_at;
WITH be AS (
    INSERT INTO attribution.billing_events (provider, kind, fact_key, amount_minor, currency, occurred_at, user_id)
    SELECT 'bench', 'subscription_started', 'b' || c.user_id, (c.value * 100)::bigint, 'USD', c.converted_at, 'u' || c.user_id
      FROM bench.conversions c WHERE c.user_id <= :rec
    RETURNING id, occurred_at, user_id, amount_minor
)
INSERT INTO attribution.conversions (billing_event_id, provider, user_id, kind, occurred_at, value_minor, currency,
                                     value, ltv_minor, is_first_payment)
SELECT id, 'bench', user_id, 'subscription_started', occurred_at, amount_minor, 'USD', amount_minor / 100.0,
       amount_minor, true
  FROM be;
ALTER TABLE attribution.conversions ENABLE TRIGGER conversions_credit;
ANALYZE attribution.touchpoints;
ANALYZE attribution.conversions;
CREATE TEMP TABLE rec_timing AS
SELECT bench.ms('SELECT count(*) FROM attribution.touchpoints') AS scan_ms;
ALTER TABLE rec_timing ADD COLUMN recompute_ms float8;
UPDATE rec_timing SET recompute_ms = bench.ms($q$SELECT attribution.recompute_credits('-infinity', 'infinity')$q$);
SELECT :rec AS conversions,
       (SELECT count(*) FROM attribution.touchpoints) AS touches,
       (SELECT count(*) FROM attribution.credits) AS credit_rows,
       round(scan_ms::numeric, 1) AS "scan count(*) touchpoints ms",
       round(recompute_ms::numeric, 1) AS "recompute_credits ms",
       round((:rec / (recompute_ms / 1000))::numeric) AS "conversions per second",
       round((recompute_ms / scan_ms)::numeric, 1) AS "recompute / scan"
  FROM rec_timing;
