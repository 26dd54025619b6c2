-- Benchmark of the rule-based models (run by bench_rules.sh, which sets
-- :conv conversions, :per touches per conversion on average and :rec, the
-- conversions recompute_credits() redoes).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_attribution;
SET max_parallel_workers_per_gather = 0;
SET work_mem = '512MB';
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

\echo generating :conv conversions over about :per touches each (12 channels, 100 days)
SELECT setseed(0.5);
CREATE TABLE bench.conversions AS
SELECT u AS conversion_id,
       '2026-06-01'::timestamptz + (random() * 30) * interval '1 day' AS converted_at,
       (10 + random() * 990)::float8 AS value
  FROM generate_series(1, :conv) AS u;
-- one row per conversion and touch, conversion attributes carried along
CREATE TABLE bench.touches AS
SELECT c.conversion_id,
       row_number() OVER () AS touch_id,
       c.converted_at - (random() * 100) * interval '1 day' AS touched_at,
       (ARRAY['Direct', 'Paid Search', 'Organic Search', 'Email', 'Paid Social', 'Organic Social',
              'Referral', 'Referral Program', 'Display', 'Affiliates', 'Paid Video', 'SMS'])[1 + floor(random() * 12)::int] AS channel,
       c.converted_at,
       c.value
  FROM bench.conversions c,
       LATERAL generate_series(1, 1 + floor(random() * (2 * :per - 1))::int + (c.conversion_id * 0)::int) AS k
 ORDER BY c.conversion_id;
VACUUM ANALYZE bench.conversions;
VACUUM ANALYZE bench.touches;
SELECT count(*) AS touches, count(DISTINCT conversion_id) AS conversions,
       pg_size_pretty(pg_relation_size('bench.touches')) AS size
  FROM bench.touches;

-- The seven models, each summed per channel, three ways.
-- 1. the rule_credits aggregate (C), one pass over the rows
CREATE VIEW bench.rules_agg AS
SELECT r.model, r.channel, r.conversions, r.value
  FROM attribution.rule_credit_rows((
        SELECT attribution.rule_credits(t.conversion_id, t.channel, t.touched_at, t.converted_at, t.value)
          FROM bench.touches t)) AS r;

-- 2. path_weights (C) over paths built with array_agg
CREATE VIEW bench.rules_paths AS
WITH p AS (
    SELECT t.conversion_id, array_agg(t.channel) AS channels, array_agg(t.touched_at) AS times,
           min(t.converted_at) AS converted_at, min(t.value) AS value
      FROM bench.touches t
     GROUP BY t.conversion_id
)
SELECT m.model, u.channel, sum(u.w) AS conversions, sum(p.value * u.w) AS value
  FROM p
 CROSS JOIN unnest(ARRAY['first_touch', 'last_touch', 'first_non_direct', 'last_non_direct',
                         'linear', 'position_based', 'time_decay']) AS m (model)
 CROSS JOIN LATERAL unnest(p.channels, attribution.path_weights(m.model, p.channels, p.times, p.converted_at)) AS u (channel, w)
 WHERE u.w > 0
 GROUP BY 1, 2;

-- 3. pure SQL with window functions
CREATE VIEW bench.rules_sql AS
WITH j AS (
    SELECT t.conversion_id, t.channel, t.touched_at, t.converted_at, t.value,
           row_number() OVER (PARTITION BY t.conversion_id ORDER BY t.touched_at, t.touch_id) AS rn,
           count(*) OVER (PARTITION BY t.conversion_id) AS n
      FROM bench.touches t
     WHERE t.touched_at BETWEEN t.converted_at - interval '90 days' AND t.converted_at
), k AS (
    SELECT j.*,
           min(rn) FILTER (WHERE channel <> 'Direct') OVER (PARTITION BY conversion_id) AS first_nd,
           max(rn) FILTER (WHERE channel <> 'Direct') OVER (PARTITION BY conversion_id) AS last_nd,
           power(2::float8, -extract(epoch FROM converted_at - touched_at)::float8 / 86400 / 7) AS decay,
           sum(power(2::float8, -extract(epoch FROM converted_at - touched_at)::float8 / 86400 / 7))
               OVER (PARTITION BY conversion_id) AS decay_sum
      FROM j
)
SELECT m.model, k.channel, sum(m.w) AS conversions, sum(k.value * m.w) AS value
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

\echo checking that the three agree (per model and channel, conversions and value)
SELECT count(*) AS model_channels,
       max(abs(a.conversions - s.conversions)) AS agg_vs_sql_conversions,
       max(abs(a.value - s.value) / s.value) AS agg_vs_sql_value_rel,
       max(abs(p.conversions - s.conversions)) AS paths_vs_sql_conversions
  FROM bench.rules_sql s
  JOIN bench.rules_agg a USING (model, channel)
  JOIN bench.rules_paths p USING (model, channel);

\echo timing (best of 3 runs each)
CREATE TEMP TABLE timing AS
SELECT bench.ms('SELECT count(*) FROM bench.touches') AS scan_ms,
       bench.ms('SELECT * FROM bench.rules_agg') AS agg_ms,
       bench.ms('SELECT * FROM bench.rules_paths') AS paths_ms,
       bench.ms('SELECT * FROM bench.rules_sql') AS sql_ms;

SELECT round(scan_ms::numeric, 1) AS "count(*) ms",
       round(agg_ms::numeric, 1) AS "rule_credits ms",
       round(paths_ms::numeric, 1) AS "path_weights ms",
       round(sql_ms::numeric, 1) AS "SQL ms",
       round((agg_ms / scan_ms)::numeric, 2) AS "rule_credits / scan",
       round((paths_ms / scan_ms)::numeric, 2) AS "path_weights / scan",
       round((sql_ms / scan_ms)::numeric, 2) AS "SQL / scan",
       round((sql_ms / agg_ms)::numeric, 2) AS "SQL / rule_credits",
       round((sql_ms / paths_ms)::numeric, 2) AS "SQL / path_weights"
  FROM timing;

-- recompute_credits(): the stored credits, on the extension's own tables.
\echo loading :rec conversions into the attribution tables for recompute_credits
ALTER TABLE attribution.conversions DISABLE TRIGGER conversions_credit;
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel)
SELECT 'v' || t.conversion_id, 'u' || t.conversion_id, t.touched_at, 'https://bench.test/', t.channel
  FROM bench.touches t WHERE t.conversion_id <= :rec ORDER BY t.conversion_id, t.touched_at;
WITH be AS (
    INSERT INTO attribution.billing_events (provider, kind, fact_key, amount_minor, currency, occurred_at, user_id)
    SELECT 'bench', 'subscription_started', 'b' || c.conversion_id, round(c.value * 100)::bigint, 'USD',
           c.converted_at, 'u' || c.conversion_id
      FROM bench.conversions c WHERE c.conversion_id <= :rec
    RETURNING id, occurred_at, user_id, amount_minor
)
INSERT INTO attribution.conversions (billing_event_id, provider, user_id, kind, occurred_at, value_minor, currency,
                                     value, ltv_minor, is_first_payment)
SELECT id, 'bench', user_id, 'subscription_started', occurred_at, amount_minor, 'USD', amount_minor / 100.0,
       amount_minor, true
  FROM be;
ALTER TABLE attribution.conversions ENABLE TRIGGER conversions_credit;
VACUUM ANALYZE attribution.touchpoints;
VACUUM ANALYZE attribution.conversions;
CREATE TEMP TABLE rec_timing AS
SELECT bench.ms('SELECT count(*) FROM attribution.touchpoints') AS scan_ms;
ALTER TABLE rec_timing ADD COLUMN recompute_ms float8;
UPDATE rec_timing SET recompute_ms = bench.ms($q$SELECT attribution.recompute_credits('-infinity', 'infinity')$q$);
SELECT :rec AS conversions,
       (SELECT count(*) FROM attribution.touchpoints) AS touches,
       (SELECT count(*) FROM attribution.credits) AS credit_rows,
       round(scan_ms::numeric, 1) AS "count(*) touchpoints ms",
       round(recompute_ms::numeric, 1) AS "recompute_credits ms",
       round((:rec / (recompute_ms / 1000))::numeric) AS "conversions per second",
       round((recompute_ms / scan_ms)::numeric, 1) AS "recompute / scan"
  FROM rec_timing;
