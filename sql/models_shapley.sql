-- Shapley variants: known answers, independent brute force, properties on
-- generated data, the two-step form and parallel query.
SET extra_float_digits = 0;

-- Known answers: A>B (1 conv, 1 null), A (1 conv, 3 null), B (1 conv, 1 null).
-- zhao_simplified and exact subset_sum: {A,B} splits 1, so 1.5 / 1.5.
-- exact conversion_rate: v(A) = 1/4, v(B) = 1/2, v(AB) = 1/2; in {A,B}
-- phi_A = 1/8, phi_B = 3/8, so A gets 1/4 of its conversion: 1.25 / 1.75.
-- fractribution: p(A>B) = 1/2, without A p(B) = 1/2 (0), without B
-- p(A) = 1/4 (1/4): B takes A>B's conversion: A 1, B 2.
CREATE TEMP TABLE k2 (path text[], conv float8, nulls float8, value float8);
INSERT INTO k2 VALUES ('{A,B}', 1, 1, 30), ('{A}', 1, 3, 10), ('{B}', 1, 1, 20);
CREATE TEMP TABLE k2r AS SELECT attribution.shapley(path, conv, nulls, value) AS r FROM k2;
SELECT v.variant, v.opts, c.channel, round(c.conversions::numeric, 12) AS conversions,
       round(c.value::numeric, 9) AS value, c.position
  FROM k2r,
       (VALUES ('zhao_simplified', '{}'::jsonb), ('zhao_ordered', '{}'), ('exact', '{}'),
               ('exact', '{"characteristic": "subset_sum"}'), ('exact', '{"characteristic": "conversion_rate"}'),
               ('exact_conversion_rate', '{}'), ('fractribution', '{}')) v(variant, opts),
       attribution.shapley_credits(k2r.r, v.variant, v.opts) c
 ORDER BY 1, 2, 3, 6;
SELECT bool_and(abs(conversions - CASE channel WHEN 'A' THEN 1.25 ELSE 1.75 END) < 1e-12) AS rate_ok
  FROM attribution.shapley_credits((SELECT r FROM k2r), 'exact', '{"characteristic": "conversion_rate"}');

-- and through the two-step form, counts per channel set by GROUP BY
SELECT s.channel, round(s.conversions::numeric, 12) AS conversions, round(s.value::numeric, 9) AS value
  FROM (SELECT array_agg(k) k, array_agg(c) c, array_agg(n) n, array_agg(v) v
          FROM (SELECT attribution.shapley_key(path, 'set') k, sum(conv) c, sum(nulls) n, sum(value) v
                  FROM k2 GROUP BY 1) g) a,
       attribution.shapley_solve(a.k, a.c, a.n, a.v, 'exact', '{"characteristic": "conversion_rate"}') s
 ORDER BY 1;

-- Fractribution rules: all marginal contributions zero -> last touch;
-- unseen counterfactuals count as 0; repeated channels sum per channel.
CREATE TEMP TABLE fr (path text[], conv float8, nulls float8);
INSERT INTO fr VALUES
    ('{A,B}', 1, 3),            -- p 1/4, p(A) = p(B) = 1/2: no contribution, B (last) gets it
    ('{A}', 1, 1), ('{B}', 1, 1),
    ('{C,D}', 2, 0),            -- C, D unseen alone: 1 and 1, split evenly
    ('{E,F,E}', 1, 1),          -- p 1/2; F>E unseen (1/2), E>E unseen (1/2), E>F p 1/4 (1/4)
    ('{E,F}', 1, 3),
    ('{G}', 0, 5);              -- no conversions: no credit
SELECT channel, round(conversions::numeric, 12) AS conversions
  FROM attribution.shapley_credits((SELECT attribution.shapley(path, conv, nulls) FROM fr), 'fractribution')
 ORDER BY 1;
-- By hand: A 1, B 1 + 1, C 1, D 1; E>F>E: E 1/2 + 1/4 of 1/(5/4) -> 0.6, F 0.4;
-- E>F (p 1/4, unseen E and F alone): 0.5 / 0.5.  E = 1.1, F = 0.9, G = 0.

-- Brute force: the conversion-rate Shapley values from the permutation
-- formula in PL/pgSQL, against the subset transforms.
CREATE FUNCTION pg_temp.brute_rate_shapley(paths text[][], convs float8[], nulls float8[])
RETURNS TABLE (channel text, conversions float8) LANGUAGE plpgsql AS $$
DECLARE
    chans text[];
    n int;
    v float8[];
    cnt_c float8[];
    cnt_n float8[];
    credit float8[];
    i int; j int; s int; t int; k int; sz int; tz int;
    mask int;
    w float8;
    phi float8;
BEGIN
    SELECT array_agg(DISTINCT ch ORDER BY ch) INTO chans FROM unnest(paths) ch WHERE ch IS NOT NULL;
    n := array_length(chans, 1);
    cnt_c := array_fill(0::float8, ARRAY[1 << n]);
    cnt_n := array_fill(0::float8, ARRAY[1 << n]);
    v := array_fill(0::float8, ARRAY[1 << n]);
    credit := array_fill(0::float8, ARRAY[n]);
    FOR i IN 1..array_length(paths, 1) LOOP
        mask := 0;
        FOR j IN 1..array_length(paths, 2) LOOP
            IF paths[i][j] IS NOT NULL THEN
                mask := mask | (1 << (array_position(chans, paths[i][j]) - 1));
            END IF;
        END LOOP;
        cnt_c[mask + 1] := cnt_c[mask + 1] + convs[i];
        cnt_n[mask + 1] := cnt_n[mask + 1] + nulls[i];
    END LOOP;
    FOR s IN 1..(1 << n) - 1 LOOP
        IF cnt_c[s + 1] + cnt_n[s + 1] > 0 THEN
            v[s + 1] := cnt_c[s + 1] / (cnt_c[s + 1] + cnt_n[s + 1]);
        END IF;
    END LOOP;
    FOR s IN 1..(1 << n) - 1 LOOP
        CONTINUE WHEN cnt_c[s + 1] = 0;
        sz := 0;
        FOR i IN 0..n - 1 LOOP sz := sz + ((s >> i) & 1); END LOOP;
        FOR i IN 0..n - 1 LOOP
            CONTINUE WHEN (s >> i) & 1 = 0;
            phi := 0;
            -- every subset t of s without i, weight |t|! (|s| - |t| - 1)! / |s|!
            FOR t IN 0..(1 << n) - 1 LOOP
                CONTINUE WHEN (t & ~s) <> 0 OR (t >> i) & 1 = 1;
                tz := 0;
                FOR k IN 0..n - 1 LOOP tz := tz + ((t >> k) & 1); END LOOP;
                w := factorial(tz)::float8 * factorial(sz - tz - 1)::float8 / factorial(sz)::float8;
                phi := phi + w * (v[(t | (1 << i)) + 1] - v[t + 1]);
            END LOOP;
            credit[i + 1] := credit[i + 1] + cnt_c[s + 1] * phi / v[s + 1];
        END LOOP;
    END LOOP;
    FOR i IN 1..n LOOP
        channel := chans[i];
        conversions := credit[i];
        RETURN NEXT;
    END LOOP;
END
$$;

-- Generated data: 300 path rows over 5 channels.
SELECT setseed(0.1234);
CREATE TEMP TABLE gen AS
SELECT i AS id,
       (SELECT array_agg('ch' || (1 + floor(random() * 5))::int ORDER BY k)
          FROM generate_series(1, 1 + floor(random() * 5)::int + 0 * i) k) AS path,
       round((random() * 3)::numeric, 2)::float8 AS conv,
       round((random() * 4)::numeric, 2)::float8 AS nulls,
       round((random() * 500 - 50)::numeric, 2)::float8 AS value
  FROM generate_series(1, 300) i;
CREATE TEMP TABLE totals AS SELECT sum(conv) AS conv, sum(value) AS value FROM gen;
CREATE TEMP TABLE sres AS SELECT attribution.shapley(path, conv, nulls, value) AS r FROM gen;
CREATE TEMP TABLE variants (variant text, opts jsonb);
INSERT INTO variants VALUES ('zhao_simplified', '{}'), ('zhao_ordered', '{}'),
    ('exact', '{"characteristic": "subset_sum"}'), ('exact', '{"characteristic": "conversion_rate"}'),
    ('fractribution', '{}');

-- padded 2-D array of the paths for the brute force
SELECT c.channel, abs(c.conversions - b.conversions) < 1e-9 AS brute_force_agrees
  FROM attribution.shapley_credits((SELECT r FROM sres), 'exact', '{"characteristic": "conversion_rate"}') c
  JOIN pg_temp.brute_rate_shapley(
         (SELECT array_agg(path || array_fill(NULL::text, ARRAY[6 - cardinality(path)]) ORDER BY id)
            FROM gen),
         (SELECT array_agg(conv ORDER BY id) FROM gen),
         (SELECT array_agg(nulls ORDER BY id) FROM gen)) b USING (channel)
 ORDER BY 1;

-- Credits sum to the totals for every variant.
SELECT v.variant, v.opts, abs(sum(c.conversions) - t.conv) < 1e-9 AS conv_sum_ok,
       abs(sum(c.value) - t.value) < 1e-7 AS value_sum_ok
  FROM variants v, totals t, attribution.shapley_credits((SELECT r FROM sres), v.variant, v.opts) c
 GROUP BY v.variant, v.opts, t.conv, t.value ORDER BY 1, 2;

-- zhao_simplified is linear credit on first-occurrence paths, computed in SQL;
-- exact subset_sum is the same game; zhao_ordered sums to it over positions.
WITH firsts AS (
    SELECT g.id, g.conv, g.value, u.ch, min(u.k) AS first_at
      FROM gen g, unnest(g.path) WITH ORDINALITY u(ch, k)
     GROUP BY g.id, g.conv, g.value, u.ch
), linear AS (
    SELECT f.ch AS channel, sum(f.conv / n.k) AS conversions, sum(f.value / n.k) AS value
      FROM firsts f JOIN (SELECT id, count(*) AS k FROM firsts GROUP BY id) n USING (id)
     GROUP BY f.ch
)
SELECT l.channel,
       abs(l.conversions - z.conversions) < 1e-9 AND abs(l.value - z.value) < 1e-7 AS linear_first_ok,
       abs(z.conversions - e.conversions) < 1e-9 AS exact_subset_sum_ok,
       abs(z.conversions - o.conversions) < 1e-9 AS ordered_sum_ok
  FROM linear l
  JOIN attribution.shapley_credits((SELECT r FROM sres), 'zhao_simplified') z USING (channel)
  JOIN attribution.shapley_credits((SELECT r FROM sres), 'exact') e USING (channel)
  JOIN (SELECT channel, sum(conversions) AS conversions
          FROM attribution.shapley_credits((SELECT r FROM sres), 'zhao_ordered') GROUP BY channel) o USING (channel)
 ORDER BY 1;

-- Row order, duplicates and names do not matter.
SELECT (SELECT r FROM sres) = (SELECT attribution.shapley(path, conv, nulls, value)
                                 FROM (SELECT * FROM gen ORDER BY md5(id::text)) x) AS reordered_same_bytes,
       (SELECT r FROM sres) = (SELECT attribution.shapley(path, w * conv, w * nulls, w * value)
                                 FROM gen, (VALUES (0.5::float8), (0.5)) s(w)) AS split_same_bytes;
SELECT v.variant, v.opts, max(abs(a.conversions - b.conversions)) < 1e-9 AS renamed_same
  FROM variants v
 CROSS JOIN LATERAL attribution.shapley_credits((SELECT r FROM sres), v.variant, v.opts) a
  JOIN LATERAL (SELECT 'ch' || (6 - substr(c.channel, 3)::int) AS channel, c.conversions, c.position
                  FROM attribution.shapley_credits(
                         (SELECT attribution.shapley(
                                   (SELECT array_agg('zz' || (6 - substr(p, 3)::int) ORDER BY k)
                                      FROM unnest(path) WITH ORDINALITY u(p, k)), conv, nulls, value)
                            FROM gen), v.variant, v.opts) c) b
    ON b.channel = a.channel AND b.position IS NOT DISTINCT FROM a.position
 GROUP BY v.variant, v.opts ORDER BY 1, 2;

-- Two-step form: counts per key by GROUP BY, then shapley_solve.
SELECT v.variant, v.opts, count(*) AS rows,
       max(abs(a.conversions - b.conversions)) < 1e-9 AS conv_ok,
       max(abs(a.value - b.value)) < 1e-7 AS value_ok
  FROM variants v
 CROSS JOIN LATERAL (SELECT array_agg(k) k, array_agg(c) c, array_agg(n) n, array_agg(val) val
                       FROM (SELECT attribution.shapley_key(path, v.variant) k, sum(conv) c, sum(nulls) n,
                                    sum(value) val
                               FROM gen GROUP BY 1) g) t
 CROSS JOIN LATERAL attribution.shapley_credits((SELECT r FROM sres), v.variant, v.opts) a
  JOIN LATERAL attribution.shapley_solve(t.k, t.c, t.n, t.val, v.variant, v.opts) b
    ON b.channel = a.channel AND b.position IS NOT DISTINCT FROM a.position
 GROUP BY v.variant, v.opts ORDER BY 1, 2;
SELECT attribution.shapley_key('{b,a,b,c>d}', 'set') AS set_key,
       attribution.shapley_key('{b,a,b,c>d}', 'ordered') AS ordered_key,
       attribution.shapley_key('{b,a,b,c>d}', 'path') AS path_key;
SELECT channel, conversions FROM attribution.shapley_solve(ARRAY['c\>d>a', 'a'], ARRAY[2.0, 1.0]) ORDER BY 1;

-- Parallel and serial runs give the same bytes.
CREATE TABLE shapley_big AS SELECT g.* FROM gen g, generate_series(1, 60);
ANALYZE shapley_big;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_res AS SELECT attribution.shapley(path, conv, nulls, value) AS r FROM shapley_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT attribution.shapley(path, conv, nulls, value) FROM shapley_big;
SELECT (SELECT r FROM serial_res) = (SELECT attribution.shapley(path, conv, nulls, value) FROM shapley_big)
    AS parallel_same_bytes;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
DROP TABLE shapley_big;

-- Errors: more than 20 channels for exact, unknown variant or option.
DO $$
DECLARE
    stmt text;
BEGIN
    FOREACH stmt IN ARRAY ARRAY[
        'SELECT * FROM attribution.shapley_credits((SELECT attribution.shapley(ARRAY[''c'' || i], 1) FROM generate_series(1, 21) i), ''exact'')',
        'SELECT * FROM attribution.shapley_credits((SELECT r FROM k2r), ''banzhaf'')',
        'SELECT * FROM attribution.shapley_credits((SELECT r FROM k2r), ''exact'', ''{"characteristic": "median"}'')',
        'SELECT * FROM attribution.shapley_credits((SELECT r FROM k2r), ''fractribution'', ''{"characteristic": "subset_sum"}'')',
        'SELECT * FROM attribution.shapley_credits((SELECT r FROM k2r), ''exact'', ''{"charcteristic": "subset_sum"}'')',
        'SELECT * FROM attribution.shapley_credits(''\x01''::bytea, ''exact'')',
        'SELECT * FROM attribution.shapley_solve(ARRAY[''a''], ARRAY[1.0, 2.0])',
        'SELECT * FROM attribution.shapley_solve(ARRAY[''a''], ARRAY[-1.0])',
        'SELECT attribution.shapley_key(''{a}'', ''bag'')'
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
-- 20 channels is within the limit
SELECT count(*) AS channels, round(sum(conversions)::numeric, 9) AS conversions
  FROM attribution.shapley_credits((SELECT attribution.shapley(ARRAY['c' || i, 'c' || (i % 20 + 1)], 1, 1)
                                      FROM generate_series(1, 20) i), 'exact', '{"characteristic": "conversion_rate"}');

-- shapley_solve ignores a path without journeys as the aggregate does: the
-- same rows, no zero-credit row for a channel seen only there.
WITH r(path, conv, nulls, value) AS (VALUES ('{a,b}'::text[], 2.0::float8, 1.0::float8, 30.0::float8),
                                           ('{c}', 0, 0, 0), ('{d}', 0, 0, 7), ('{e}', 0, 1, 0))
SELECT v.variant, x.form, x.channel, x.conversions, x.value
  FROM (VALUES ('zhao_simplified'), ('exact'), ('fractribution')) v(variant),
       LATERAL (SELECT 'credits' AS form, c.channel, c.conversions, c.value
                  FROM attribution.shapley_credits((SELECT attribution.shapley(path, conv, nulls, value) FROM r),
                                                   v.variant) c
                UNION ALL
                SELECT 'solve', s.channel, s.conversions, s.value
                  FROM (SELECT array_agg(k) k, array_agg(c) c, array_agg(n) n, array_agg(val) val
                          FROM (SELECT attribution.shapley_key(path, v.variant) k, sum(conv) c,
                                       sum(nulls) n, sum(value) val
                                  FROM r GROUP BY 1) g) a,
                       attribution.shapley_solve(a.k, a.c, a.n, a.val, v.variant) s) x
 ORDER BY 1, 3, 2;

-- Channels seen only on paths without conversions do not count toward the
-- exact variant's limit: 20 converting channels and 30 others work, and
-- the credits are those of the 20 alone.
WITH r AS (SELECT ARRAY['c' || i, 'c' || (i % 20 + 1)] AS path, 1.0::float8 AS conv, 1.0::float8 AS nulls
             FROM generate_series(1, 20) i
           UNION ALL
           SELECT ARRAY['x' || i, 'c1'], 0, 1 FROM generate_series(1, 30) i)
SELECT (SELECT count(*) FROM attribution.shapley_credits((SELECT attribution.shapley(path, conv, nulls) FROM r),
                                                         'exact', '{"characteristic": "conversion_rate"}')) AS channels,
       (SELECT round(sum(conversions)::numeric, 9)
          FROM attribution.shapley_credits((SELECT attribution.shapley(path, conv, nulls) FROM r),
                                           'exact', '{"characteristic": "conversion_rate"}')) AS conversions,
       (SELECT count(*) FROM attribution.shapley_credits((SELECT attribution.shapley(path, conv, nulls) FROM r),
                                                         'exact', '{"characteristic": "conversion_rate"}')
         WHERE channel LIKE 'x%' AND conversions <> 0) AS credited_others;
