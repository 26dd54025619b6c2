-- Rule-based models on paths passed as arrays: attribution.path_weights.
SET TIME ZONE 'UTC';

-- weights rounded for display; exact checks compare with a tolerance below
CREATE FUNCTION rw(float8[]) RETURNS numeric[]
LANGUAGE sql IMMUTABLE RETURN ARRAY(SELECT round(w::numeric, 10) FROM unnest($1) AS w);

-- A path with Direct touches, 10, 8, 6, 4 and 2 days before the conversion.
CREATE TABLE p (channels text[], touched_at timestamptz[], converted_at timestamptz);
INSERT INTO p VALUES (
    ARRAY['Direct', 'Paid Search', 'Direct', 'Email', 'Direct'],
    ARRAY['2026-01-01', '2026-01-03', '2026-01-05', '2026-01-07', '2026-01-09']::timestamptz[],
    '2026-01-11');

SELECT m.model, rw(attribution.path_weights(m.model, p.channels, p.touched_at, p.converted_at)) AS weights
  FROM p, unnest(ARRAY['first_touch', 'last_touch', 'first_non_direct', 'last_non_direct',
                       'linear', 'position_based', 'time_decay']) WITH ORDINALITY AS m (model, n)
 ORDER BY m.n;

-- All-Direct path: the non-direct models fall back to the first / last Direct touch.
SELECT m.model,
       attribution.path_weights(m.model, ARRAY['Direct', 'Direct', 'Direct'],
                                ARRAY['2026-01-01', '2026-01-02', '2026-01-03']::timestamptz[],
                                '2026-01-04') AS weights
  FROM unnest(ARRAY['first_non_direct', 'last_non_direct']) AS m (model)
 ORDER BY 1;

-- direct_channel option: another name for Direct.
SELECT attribution.path_weights('first_non_direct', ARRAY['(direct)', 'Email'],
                                ARRAY['2026-01-01', '2026-01-02']::timestamptz[], '2026-01-04',
                                '{"direct_channel": "(direct)"}') AS weights;

-- Known answers: paths A>B, A, B (one conversion each).
CREATE TABLE known (path_id int, channels text[], touched_at timestamptz[]);
INSERT INTO known VALUES
    (1, ARRAY['A', 'B'], ARRAY['2026-02-01', '2026-02-02']::timestamptz[]),
    (2, ARRAY['A'], ARRAY['2026-02-01']::timestamptz[]),
    (3, ARRAY['B'], ARRAY['2026-02-01']::timestamptz[]);
SELECT m.model, u.channel, sum(u.w) AS conversions,
       abs(sum(u.w) - CASE m.model || u.channel
                          WHEN 'first_touchA' THEN 2 WHEN 'first_touchB' THEN 1
                          WHEN 'last_touchA' THEN 1 WHEN 'last_touchB' THEN 2
                          ELSE 1.5 END) < 1e-9 AS exact
  FROM known k,
       unnest(ARRAY['first_touch', 'last_touch', 'linear']) AS m (model),
       unnest(k.channels, attribution.path_weights(m.model, k.channels, k.touched_at, '2026-02-03')) AS u (channel, w)
 GROUP BY m.model, u.channel
 ORDER BY 1, 2;

-- Known answer: time decay, half-life 7 days, touches 38, 33, 26, 8 and 0
-- days before a 12,000 conversion.
WITH t AS (
    SELECT ARRAY['A', 'B', 'C', 'D', 'E'] AS channels,
           ARRAY(SELECT '2026-03-01'::timestamptz - d * interval '1 day'
                   FROM unnest(ARRAY[38, 33, 26, 8, 0]) WITH ORDINALITY AS x (d, n) ORDER BY n) AS touched_at
), w AS (
    SELECT u.channel, u.w, u.n
      FROM t, unnest(t.channels, attribution.path_weights('time_decay', t.channels, t.touched_at, '2026-03-01'))
              WITH ORDINALITY AS u (channel, w, n)
)
SELECT w.channel, round((12000 * w.w)::numeric, 2) AS credited,
       abs(w.w - pow(2, -d.days / 7.0) / (SELECT sum(pow(2, -x / 7.0)) FROM unnest(ARRAY[38, 33, 26, 8, 0]) x)) < 1e-12 AS exact
  FROM w JOIN unnest(ARRAY[38, 33, 26, 8, 0]) WITH ORDINALITY AS d (days, n) USING (n)
 ORDER BY w.n;

-- half_life_days as an option: 1 day, touches 1 and 0 days old -> 1/3, 2/3.
SELECT rw(attribution.path_weights('time_decay', ARRAY['A', 'B'],
                                   ARRAY['2026-01-01', '2026-01-02']::timestamptz[], '2026-01-02',
                                   '{"half_life_days": 1}')) AS weights;

-- Time decay on very old touches does not underflow.
SELECT rw(attribution.path_weights('time_decay', ARRAY['A', 'B'],
                                   ARRAY['2026-01-01', '2026-01-02']::timestamptz[], '2026-03-01',
                                   '{"half_life_days": 0.01, "lookback_days": null}')) AS weights;

-- position_based: one touch, two touches, defaults on four, custom shares.
SELECT n, rw(attribution.path_weights('position_based', (array_fill('X'::text, ARRAY[n])),
                                      ARRAY(SELECT '2026-01-01'::timestamptz + i * interval '1 hour'
                                              FROM generate_series(1, n) i),
                                      '2026-01-02')) AS weights
  FROM generate_series(1, 4) AS n
 ORDER BY n;
SELECT rw(attribution.path_weights('position_based', ARRAY['A', 'B', 'C', 'D'],
                                   ARRAY['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04']::timestamptz[],
                                   '2026-01-05', '{"first_share": 0.3, "last_share": 0.5}')) AS weights;
SELECT rw(attribution.path_weights('position_based', ARRAY['A', 'B', 'C'],
                                   ARRAY['2026-01-01', '2026-01-02', '2026-01-03']::timestamptz[],
                                   '2026-01-05', '{"first_share": 0.5, "last_share": 0.5}')) AS weights;

-- Input order does not matter: touches are read oldest first (ties in input order).
SELECT attribution.path_weights('first_touch', ARRAY['late', 'early', 'middle'],
                                ARRAY['2026-01-03', '2026-01-01', '2026-01-02']::timestamptz[],
                                '2026-01-04') AS first,
       attribution.path_weights('last_touch', ARRAY['late', 'early', 'middle'],
                                ARRAY['2026-01-03', '2026-01-01', '2026-01-02']::timestamptz[],
                                '2026-01-04') AS last,
       attribution.path_weights('first_touch', ARRAY['a', 'b'],
                                ARRAY['2026-01-01', '2026-01-01']::timestamptz[], '2026-01-04') AS tie_first,
       attribution.path_weights('last_touch', ARRAY['a', 'b'],
                                ARRAY['2026-01-01', '2026-01-01']::timestamptz[], '2026-01-04') AS tie_last;

-- Lookback window (default 90 days), touches after the conversion, last_n.
WITH t AS (
    SELECT ARRAY['old', 'mid', 'recent', 'after'] AS channels,
           ARRAY['2025-09-01', '2025-12-01', '2026-01-01', '2026-01-03']::timestamptz[] AS touched_at,
           '2026-01-02'::timestamptz AS converted_at
)
SELECT o.label, rw(attribution.path_weights('linear', channels, touched_at, converted_at, o.options)) AS weights
  FROM t, (VALUES ('default', '{}'::jsonb),
                  ('lookback 200', '{"lookback_days": 200}'),
                  ('no window', '{"lookback_days": null}'),
                  ('lookback 31', '{"lookback_days": 31}'),
                  ('last_n 1', '{"last_n": 1}'),
                  ('no window, last_n 2', '{"lookback_days": null, "last_n": 2}'),
                  ('last_n null', '{"last_n": null}')) AS o (label, options)
 ORDER BY o.label;
-- the window's edge is inclusive: exactly 90 days counts, a second more does not
SELECT attribution.path_weights('first_touch', ARRAY['edge', 'inside'],
                                ARRAY['2025-10-04 00:00:00', '2025-12-01']::timestamptz[], '2026-01-02') AS at_edge,
       attribution.path_weights('first_touch', ARRAY['edge', 'inside'],
                                ARRAY['2025-10-03 23:59:59', '2025-12-01']::timestamptz[], '2026-01-02') AS past_edge;

-- No eligible touch, empty path, NULL arguments.
SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['2026-02-01']::timestamptz[], '2026-01-01') AS after_only,
       attribution.path_weights('linear', '{}', '{}', '2026-01-01') AS empty,
       attribution.path_weights('linear', NULL, '{}', '2026-01-01') AS null_path,
       attribution.path_weights('linear', '{}', '{}', NULL) AS null_time;

-- Property: on random paths (1 to 12 touches over 120 days, 6 channels with
-- Direct) every model's weights sum to 1 when a touch is in the window and
-- to 0 otherwise, no weight is negative, and weights outside the window are 0.
SELECT setseed(0.42);
CREATE TABLE rnd AS
SELECT g AS path_id,
       ARRAY(SELECT (ARRAY['Direct', 'Paid Search', 'Email', 'Organic Search', 'Referral', 'Paid Social'])[1 + floor(random() * 6)::int]
               FROM generate_series(1, n.len + g * 0)) AS channels,
       ARRAY(SELECT '2026-06-01'::timestamptz - random() * interval '120 days'
               FROM generate_series(1, n.len + g * 0)) AS touched_at,
       '2026-06-01'::timestamptz AS converted_at
  FROM generate_series(1, 400) AS g,
       LATERAL (SELECT 1 + floor(random() * 12)::int + g * 0 AS len) AS n;
SELECT count(*) AS paths, min(cardinality(channels)) AS shortest, max(cardinality(channels)) AS longest FROM rnd;
WITH w AS (
    SELECT r.path_id, m.model, r.touched_at, r.converted_at,
           attribution.path_weights(m.model, r.channels, r.touched_at, r.converted_at, o.options) AS weights,
           o.options
      FROM rnd r,
           unnest(ARRAY['first_touch', 'last_touch', 'first_non_direct', 'last_non_direct',
                        'linear', 'position_based', 'time_decay']) AS m (model),
           (VALUES ('{}'::jsonb), ('{"lookback_days": 30, "last_n": 3}'), ('{"half_life_days": 2.5, "first_share": 0.3, "last_share": 0.2}')) AS o (options)
), s AS (
    SELECT w.model, w.options,
           (SELECT sum(x) FROM unnest(w.weights) x) AS total,
           (SELECT count(*) FROM unnest(w.weights) x WHERE x < 0) AS negative,
           (SELECT count(*) FROM unnest(w.weights, w.touched_at) u (x, t)
             WHERE x > 0 AND (t > w.converted_at
                              OR t < w.converted_at - coalesce((w.options->>'lookback_days')::int, 90) * interval '1 day')) AS outside,
           EXISTS (SELECT 1 FROM unnest(w.touched_at) t
                    WHERE t <= w.converted_at
                      AND t >= w.converted_at - coalesce((w.options->>'lookback_days')::int, 90) * interval '1 day') AS any_eligible
      FROM w
)
SELECT model,
       count(*) AS paths,
       count(*) FILTER (WHERE any_eligible) AS credited,
       count(*) FILTER (WHERE any_eligible AND abs(total - 1) > 1e-12) AS bad_sums,
       count(*) FILTER (WHERE NOT any_eligible AND total <> 0) AS bad_empty,
       sum(negative) AS negatives,
       sum(outside) AS outside_window
  FROM s
 GROUP BY model
 ORDER BY model;

-- Errors, each with its SQLSTATE.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('unknown model', $q$SELECT attribution.path_weights('u_shaped', ARRAY['A'], ARRAY[now()], now())$q$),
        ('lengths', $q$SELECT attribution.path_weights('linear', ARRAY['A', 'B'], ARRAY['2026-01-01'::timestamptz], '2026-01-02')$q$),
        ('not an object', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '[1]')$q$),
        ('unknown option', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"halflife": 3}')$q$),
        ('half life 0', $q$SELECT attribution.path_weights('time_decay', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"half_life_days": 0}')$q$),
        ('half life text', $q$SELECT attribution.path_weights('time_decay', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"half_life_days": "7"}')$q$),
        ('share > 1', $q$SELECT attribution.path_weights('position_based', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"first_share": 1.2}')$q$),
        ('shares sum', $q$SELECT attribution.path_weights('position_based', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"first_share": 0.6, "last_share": 0.6}')$q$),
        ('negative share', $q$SELECT attribution.path_weights('position_based', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"last_share": -0.1}')$q$),
        ('last_n fraction', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"last_n": 1.5}')$q$),
        ('last_n negative', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"last_n": -1}')$q$),
        ('lookback 0', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"lookback_days": 0}')$q$),
        ('direct not text', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], '2026-01-02', '{"direct_channel": 1}')$q$),
        ('null channel', $q$SELECT attribution.path_weights('linear', ARRAY['A', NULL], ARRAY['2026-01-01', '2026-01-01']::timestamptz[], '2026-01-02')$q$),
        ('null time', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY[NULL::timestamptz], '2026-01-02')$q$),
        ('infinite touch', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['-infinity'::timestamptz], '2026-01-02')$q$),
        ('infinite conversion', $q$SELECT attribution.path_weights('linear', ARRAY['A'], ARRAY['2026-01-01'::timestamptz], 'infinity')$q$),
        ('two dimensions', $q$SELECT attribution.path_weights('linear', ARRAY[['A'], ['B']], ARRAY[['2026-01-01'::timestamptz], ['2026-01-01'::timestamptz]], '2026-01-02')$q$)
    ) AS v (label, q)
    LOOP
        BEGIN
            EXECUTE c.q;
            RAISE NOTICE '%: no error', c.label;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: %: %', c.label, SQLSTATE, SQLERRM;
        END;
    END LOOP;
END
$$;

-- Declared immutable, strict and parallel safe.
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'attribution' AND p.proname = 'path_weights';

-- rule_credits(): the same models over touch rows, summed per model and channel.
SELECT r.model, r.channel, r.conversions, r.value
  FROM attribution.rule_credit_rows((
        SELECT attribution.rule_credits(k.path_id, u.channel, u.touched_at, '2026-02-03', 10 * k.path_id)
          FROM known k, unnest(k.channels, k.touched_at) AS u (channel, touched_at))) AS r
 WHERE r.model IN ('first_touch', 'last_touch', 'linear')
 ORDER BY 1, 2;

-- It agrees with path_weights on the random paths, whatever the row order,
-- and counts paths without an eligible touch as (unattributed).
CREATE TABLE rnd_rows AS
SELECT r.path_id, u.channel, u.touched_at, r.converted_at, r.path_id::float8 AS value
  FROM rnd r, unnest(r.channels, r.touched_at) AS u (channel, touched_at);
CREATE TABLE expected_credit AS
SELECT m.model, coalesce(u.channel, '(unattributed)') AS channel,
       sum(coalesce(u.w, 1)) AS conversions, sum(coalesce(u.w, 1) * r.path_id) AS value
  FROM rnd r
 CROSS JOIN unnest(ARRAY['first_touch', 'last_touch', 'first_non_direct', 'last_non_direct',
                         'linear', 'position_based', 'time_decay']) AS m (model)
  LEFT JOIN LATERAL (SELECT x.channel, x.w
                       FROM unnest(r.channels, attribution.path_weights(m.model, r.channels, r.touched_at, r.converted_at)) AS x (channel, w)
                      WHERE x.w > 0) u ON true
 GROUP BY 1, 2;
SELECT o.label, count(*) AS model_channels,
       count(*) FILTER (WHERE e.model IS NULL OR a.model IS NULL) AS unmatched,
       max(abs(a.conversions - e.conversions)) < 1e-9 AS conversions_agree,
       max(abs(a.value - e.value)) < 1e-6 AS values_agree,
       sum(a.conversions) FILTER (WHERE a.channel = '(unattributed)') / 7 AS unattributed_paths
  FROM (VALUES ('conversions shuffled'), ('descending'), ('ascending'),
               ('rows shuffled, ORDER BY in the call')) AS o (label)
 CROSS JOIN LATERAL attribution.rule_credit_rows((
        SELECT CASE o.label
                 WHEN 'conversions shuffled' THEN attribution.rule_credits(path_id, channel, touched_at, converted_at, value
                                                                           ORDER BY md5(path_id::text))
                 WHEN 'descending' THEN attribution.rule_credits(path_id, channel, touched_at, converted_at, value
                                                                 ORDER BY -path_id)
                 WHEN 'ascending' THEN attribution.rule_credits(path_id, channel, touched_at, converted_at, value
                                                                ORDER BY path_id)
                 ELSE attribution.rule_credits(path_id, channel, touched_at, converted_at, value ORDER BY path_id)
               END
          FROM (SELECT * FROM rnd_rows
                 ORDER BY CASE WHEN o.label LIKE 'rows shuffled%' THEN random() ELSE path_id END) AS r)) AS a
  FULL JOIN expected_credit e USING (model, channel)
 GROUP BY o.label ORDER BY o.label;
-- Many rows, and one conversion with more touches than any buffer holds at
-- first, in orders that keep each conversion's rows together.
CREATE TABLE many_rows AS
SELECT c AS conversion, t AS seq, (ARRAY['a', 'b', 'Direct', 'c'])[1 + (c * 7 + t) % 4] AS channel,
       -- touches of one conversion often share a day: ties go by row order
       '2026-03-01'::timestamptz - ((c + t) / 2 % 80) * interval '1 day' AS touched_at,
       '2026-03-01'::timestamptz AS converted_at, (c % 10)::float8 AS value
  FROM generate_series(1, 20000) c, generate_series(1, 3) t
UNION ALL
SELECT 20001, t, (ARRAY['a', 'b', 'Direct', 'c'])[1 + t % 4], '2026-03-01'::timestamptz - t * interval '1 minute',
       '2026-03-01', 5
  FROM generate_series(1, 5000) t;
CREATE TABLE many_expected AS
SELECT o.last_n, m.model, u.channel, sum(u.w) AS conversions, sum(u.w * p.value) AS value
  FROM (SELECT conversion, array_agg(channel ORDER BY seq) AS channels, array_agg(touched_at ORDER BY seq) AS times,
               min(converted_at) AS converted_at, min(value) AS value
          FROM many_rows GROUP BY conversion) p
 CROSS JOIN (VALUES (0), (2)) AS o (last_n)
 CROSS JOIN unnest(ARRAY['first_touch', 'last_touch', 'first_non_direct', 'last_non_direct',
                         'linear', 'position_based', 'time_decay']) AS m (model)
 CROSS JOIN LATERAL unnest(p.channels, attribution.path_weights(m.model, p.channels, p.times, p.converted_at,
                                                                jsonb_build_object('last_n', o.last_n))) AS u (channel, w)
 WHERE u.w > 0
 GROUP BY 1, 2, 3;
CREATE TABLE many_actual AS
SELECT o.label, l.last_n, a.*
  FROM (VALUES ('ascending'), ('descending'), ('big conversion in the middle')) AS o (label)
 CROSS JOIN (VALUES (0), (2)) AS l (last_n)
 CROSS JOIN LATERAL attribution.rule_credit_rows((
        SELECT CASE o.label
                 WHEN 'ascending' THEN attribution.rule_credits(conversion, channel, touched_at, converted_at, value,
                                                                jsonb_build_object('last_n', l.last_n) ORDER BY conversion, seq)
                 WHEN 'descending' THEN attribution.rule_credits(conversion, channel, touched_at, converted_at, value,
                                                                 jsonb_build_object('last_n', l.last_n) ORDER BY conversion DESC, seq)
                 ELSE attribution.rule_credits(conversion, channel, touched_at, converted_at, value, jsonb_build_object('last_n', l.last_n)
                                               ORDER BY CASE WHEN conversion = 20001 THEN 10000.5 ELSE conversion END, seq)
               END
          FROM many_rows)) AS a;
SELECT coalesce(a.label, e.label) AS label, coalesce(a.last_n, e.last_n) AS last_n, count(*) AS model_channels,
       count(*) FILTER (WHERE e.model IS NULL OR a.model IS NULL) AS unmatched,
       max(abs(a.conversions - e.conversions)) < 1e-6 AS conversions_agree,
       max(abs(a.value - e.value)) < 1e-5 AS values_agree
  FROM many_actual a
  FULL JOIN (SELECT l.label, x.* FROM (SELECT DISTINCT label FROM many_actual) l, many_expected x) e
    USING (label, last_n, model, channel)
 GROUP BY 1, 2 ORDER BY 1, 2;
DROP TABLE many_rows, many_expected, many_actual;

-- Rows of a conversion that arrive apart are an error, never a wrong sum,
-- whether keys ascended until then or not.
DO $$
DECLARE
    q text;
BEGIN
    FOREACH q IN ARRAY ARRAY[
        'ORDER BY touched_at < converted_at - interval ''20 days'', path_id',
        'ORDER BY touched_at < converted_at - interval ''20 days'', -path_id',
        'ORDER BY touched_at']
    LOOP
        BEGIN
            EXECUTE format('SELECT attribution.rule_credits(path_id, channel, touched_at, converted_at, value %s) FROM rnd_rows', q);
            RAISE NOTICE '%: no error', q;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: %: %', q, SQLSTATE, SQLERRM;
        END;
    END LOOP;
    -- keys with gaps ascend as many short runs before one comes back
    BEGIN
        PERFORM attribution.rule_credits(path_id * 3 + (path_id % 2), channel, touched_at, converted_at, value
                                         ORDER BY touched_at < converted_at - interval '20 days', path_id)
           FROM rnd_rows;
        RAISE NOTICE 'gapped keys: no error';
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'gapped keys: %: %', SQLSTATE, SQLERRM;
    END;
    -- the same keys in one pass, each conversion together: no error
    PERFORM attribution.rule_credits(path_id * 3 + (path_id % 2), channel, touched_at, converted_at, value
                                     ORDER BY path_id)
       FROM rnd_rows;
    RAISE NOTICE 'gapped keys, each conversion together: no error';
END
$$;

SELECT count(*) AS paths_without_eligible_touch
  FROM rnd r
 WHERE NOT EXISTS (SELECT 1 FROM unnest(r.touched_at) t
                    WHERE t <= r.converted_at AND t >= r.converted_at - interval '90 days');

-- The window's edge, to the microsecond, is where path_weights puts it,
-- for whole and fractional windows: a touch 1 us inside, at and 1 us past
-- the edge, each with a touch on 'b' well inside.  At 49.544 and 86.21 days
-- the edge is 1 us past floor(days x microseconds per day).
CREATE TEMP TABLE edge AS
SELECT w.lookback, d.delta, d.delta + 2 AS conversion,
       '2026-03-01'::timestamptz AS converted_at,
       '2026-03-01'::timestamptz - (floor(w.lookback * 86400e6)::bigint + d.delta) * interval '1 microsecond' AS touched_at
  FROM (VALUES (90::float8), (2.5), (1.0 / 3), (0.1), (7.000000001), (1e-6), (49.544), (86.21)) AS w (lookback),
       (VALUES (-1), (0), (1)) AS d (delta);
SELECT e.lookback,
       (SELECT r.conversions
          FROM attribution.rule_credit_rows((
                SELECT attribution.rule_credits(x.conversion, x.channel, x.t, x.converted_at, 1,
                                                jsonb_build_object('lookback_days', e.lookback) ORDER BY x.conversion)
                  FROM (SELECT conversion, 'a' AS channel, touched_at AS t, converted_at FROM edge WHERE lookback = e.lookback
                        UNION ALL
                        SELECT conversion, 'b', converted_at - interval '1 microsecond', converted_at FROM edge WHERE lookback = e.lookback) x)) r
         WHERE r.model = 'linear' AND r.channel = 'a') * 2 AS rule_credits_in,
       sum((attribution.path_weights('linear', ARRAY['a', 'b'], ARRAY[e.touched_at, e.converted_at - interval '1 microsecond'],
                                     e.converted_at, jsonb_build_object('lookback_days', e.lookback)))[1] * 2) AS path_weights_in
  FROM edge e
 GROUP BY e.lookback ORDER BY 1;
DROP TABLE edge;
-- Infinite times are an error, as in path_weights.
DO $$
DECLARE
    q text;
BEGIN
    FOREACH q IN ARRAY ARRAY[
        'SELECT attribution.rule_credits(1, ''a'', ''-infinity'', ''2026-01-02'', 1)',
        'SELECT attribution.rule_credits(1, ''a'', ''2026-01-01'', ''infinity'', 1)']
    LOOP
        BEGIN
            EXECUTE q;
            RAISE NOTICE 'no error: %', q;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
        END;
    END LOOP;
END
$$;

-- Options, NULL rows, no rows.
SELECT r.model, r.channel, r.conversions
  FROM attribution.rule_credit_rows((
        SELECT attribution.rule_credits(1, c, t, '2026-01-10', 1, '{"lookback_days": 5, "direct_channel": "D"}')
          FROM (VALUES ('D', '2026-01-09'::timestamptz), ('old', '2026-01-01'), (NULL, '2026-01-08')) AS v (c, t))) AS r
 WHERE r.model IN ('first_non_direct', 'linear')
 ORDER BY 1, 2;
-- A conversion without touches (a LEFT JOIN's NULL channel and time) is
-- credited to (unattributed): every model's conversions add up to 3.
WITH conv(id, at, value) AS (VALUES (1::bigint, '2026-01-10'::timestamptz, 10.0::float8),
                                    (2, '2026-01-10', 20), (3, '2026-01-10', 30)),
     touch(conv, channel, at) AS (VALUES (1::bigint, 'a', '2026-01-09'::timestamptz), (1, 'b', '2026-01-08'),
                                         (3, NULL, '2026-01-09'), (3, 'c', NULL))
SELECT r.model, r.channel, r.conversions, r.value
  FROM attribution.rule_credit_rows((
        SELECT attribution.rule_credits(c.id, t.channel, t.at, c.at, c.value ORDER BY c.id)
          FROM conv c LEFT JOIN touch t ON t.conv = c.id)) AS r
 WHERE r.model IN ('first_touch', 'linear')
 ORDER BY 1, 2;
SELECT attribution.rule_credits(1, 'a', now(), now(), 1) IS NULL AS no_rows
  FROM (SELECT 1 WHERE false) AS x;
DO $$
BEGIN
    PERFORM attribution.rule_credits(1, 'a', '2026-01-01', '2026-01-02', 'NaN');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'not a number: %: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.rule_credits(1, 'a', '2026-01-01', '2026-01-02', 1, '{"last_n": "x"}');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'bad options: %: %', SQLSTATE, SQLERRM;
END
$$;

DROP TABLE p, known, rnd, rnd_rows, expected_credit;
DROP FUNCTION rw(float8[]);
