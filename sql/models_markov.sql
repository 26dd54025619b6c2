-- Markov chain removal effect: known answers, an independent dense solve,
-- properties on generated data, the two-step form and parallel query.
SET extra_float_digits = 0;

-- Known answer 1: C1>C2>C3 (1 conversion), C1 (1 null), C2>C3 (1 null).
-- By hand: P(conv) = 1/3; without C1 1/6 (RE 0.5), without C2 or C3 0
-- (RE 1); conversions 0.5/2.5, 1/2.5, 1/2.5.  Value 100 sits on C3 only:
-- the value removal effects are the same, so value splits 20/40/40.
CREATE TEMP TABLE k1 (path text[], conv float8, nulls float8, value float8);
INSERT INTO k1 VALUES ('{C1,C2,C3}', 1, 0, 100), ('{C1}', 0, 1, 0), ('{C2,C3}', 0, 1, 0);
SELECT channel, round(removal_effect::numeric, 12) AS re, round(conversions::numeric, 12) AS conversions,
       round(value::numeric, 9) AS value,
       abs(removal_effect - CASE channel WHEN 'C1' THEN 0.5 ELSE 1 END) < 1e-12 AS re_ok,
       abs(conversions - CASE channel WHEN 'C1' THEN 0.2 ELSE 0.4 END) < 1e-12 AS conv_ok
  FROM attribution.markov_credits((SELECT attribution.markov(path, conv, nulls, value) FROM k1))
 ORDER BY channel;
SELECT round(p_conversion::numeric, 15) AS p_conversion, round(expected_value::numeric, 12) AS expected_value,
       conversions, nulls, value, "order", channels, states, transitions
  FROM attribution.markov_summary((SELECT attribution.markov(path, conv, nulls, value) FROM k1));
-- the two-step form gives the same known answer
SELECT s.channel, round(s.removal_effect::numeric, 12) AS re, round(s.conversions::numeric, 12) AS conversions,
       round(s.value::numeric, 9) AS value
  FROM (SELECT array_agg(from_state) f, array_agg(to_state) t, array_agg(weight) w, array_agg(value) v,
               array_agg(cw) cw
          FROM (SELECT t.from_state, t.to_state, sum(t.weight) weight, sum(t.value) value,
                       sum(t.conversion_weight) cw
                  FROM k1, attribution.markov_transitions(k1.path, k1.conv, k1.nulls, k1.value) t
                 GROUP BY 1, 2) g) a,
       attribution.markov_solve(a.f, a.t, a.w, a.v, '{}', a.cw) s
 ORDER BY 1;
-- ignore_nulls: only the converting path is left, every channel is needed
SELECT channel, round(removal_effect::numeric, 12) AS re, round(conversions::numeric, 12) AS conversions
  FROM attribution.markov_credits((SELECT attribution.markov(path, conv, nulls, value) FROM k1),
                                  '{"ignore_nulls": true}')
 ORDER BY channel;

-- Known answer 2: A>B (1 conv, 1 null), A (1 conv, 3 null), B (1 conv, 1 null).
-- By hand: x(B) = 1/2, x(A) = 1/6 + 1/3 * 1/2 = 1/3, P = 6/8 * 1/3 + 2/8 * 1/2
-- = 3/8; without A 1/8, without B 1/8: RE 2/3 each, 1.5 / 1.5.
CREATE TEMP TABLE k2 (path text[], conv float8, nulls float8);
INSERT INTO k2 VALUES ('{A,B}', 1, 1), ('{A}', 1, 3), ('{B}', 1, 1);
SELECT channel, round(removal_effect::numeric, 12) AS re, round(conversions::numeric, 12) AS conversions,
       abs(conversions - 1.5) < 1e-12 AS ok
  FROM attribution.markov_credits((SELECT attribution.markov(path, conv, nulls) FROM k2))
 ORDER BY channel;
SELECT abs(p_conversion - 3.0 / 8) < 1e-15 AS p_is_3_8
  FROM attribution.markov_summary((SELECT attribution.markov(path, conv, nulls) FROM k2));
-- markov is an ordinary aggregate: in the select list, and one chain per group
SELECT (attribution.markov_credits(attribution.markov(path, conv, nulls))).* FROM k2;
SELECT seg, count(*) AS channels, abs(sum(c.conversions) - s.total) < 1e-12 AS sums_to_segment
  FROM (SELECT path[1] AS seg, attribution.markov(path, conv, nulls) r, sum(conv) total
          FROM k2 GROUP BY 1) s, attribution.markov_credits(s.r) c
 GROUP BY seg, s.total ORDER BY 1;
-- the same chain without the non-converting journeys: RE 2/3 each again
SELECT channel, round(removal_effect::numeric, 12) AS re, round(conversions::numeric, 12) AS conversions
  FROM attribution.markov_credits((SELECT attribution.markov(path, conv, nulls) FROM k2), '{"ignore_nulls": true}')
 ORDER BY channel;

-- Self-loops: A>A>B (1 conv), A (1 null).  x(A) = (1/3)/(1 - 1/3) = 1/2 with
-- the loop, 1/2 without it; both channels are needed.
CREATE TEMP TABLE k3 (path text[], conv float8, nulls float8);
INSERT INTO k3 VALUES ('{A,A,B}', 1, 0), ('{A}', 0, 1);
SELECT o.opts, c.channel, round(c.removal_effect::numeric, 12) AS re, round(c.conversions::numeric, 12) AS conversions
  FROM (VALUES ('{}'::jsonb), ('{"collapse_self_loops": true}')) o(opts),
       attribution.markov_credits((SELECT attribution.markov(path, conv, nulls) FROM k3), o.opts) c
 ORDER BY 1, 2;
SELECT s.transitions, round(s.p_conversion::numeric, 15) AS p
  FROM (VALUES ('{}'::jsonb), ('{"collapse_self_loops": true}')) o(opts),
       attribution.markov_summary((SELECT attribution.markov(path, conv, nulls) FROM k3), o.opts) s
 ORDER BY 1;

-- States at higher orders: windows of `order` channels; a shorter path is
-- one state made of the whole path.
SELECT t.*
  FROM (VALUES ('{a,b,c,d}'::text[], 1::float8, 2::float8, 10::float8)) v(path, c, n, val),
       attribution.markov_transitions(v.path, v.c, v.n, v.val, 3) t;
SELECT t.*
  FROM attribution.markov_transitions('{a,b}', 1, 0, 0, 3) t;
-- in the select list too; states met in earlier rows are reused, in any order
SELECT v.i, (attribution.markov_transitions(v.p, 1, 0, 0, v.o)).*
  FROM (VALUES (1, '{a,b,c}'::text[], 2), (2, '{c,b}', 1), (3, '{b,c,d}', 2), (4, '{d}', 3)) v(i, p, o)
 ORDER BY 1;
-- channel names with the separator, the escape and special names survive
SELECT t.from_state, t.to_state
  FROM attribution.markov_transitions(ARRAY['x>y', 'back\slash', '(null)', '(direct)'], 1, 0, 0, 2) t;
SELECT channel, round(conversions::numeric, 12) AS conversions
  FROM (SELECT array_agg(from_state) f, array_agg(to_state) t, array_agg(weight) w, array_agg(value) v
          FROM attribution.markov_transitions(ARRAY['x>y', 'back\slash', '(null)', '(direct)'], 1, 0, 0, 2)) a,
       attribution.markov_solve(a.f, a.t, a.w, a.v) s
 ORDER BY channel;

-- Generated data: 400 path rows over 6 channels, fractional weights.
SELECT setseed(0.4242);
CREATE TEMP TABLE gen AS
SELECT i AS id,
       (SELECT array_agg('ch' || (1 + floor(random() * 6))::int ORDER BY k)
          FROM generate_series(1, 1 + floor(random() * 6)::int + 0 * i) k) AS path,
       round((random() * 3)::numeric, 2)::float8 AS conv,
       round((random() * 4)::numeric, 2)::float8 AS nulls,
       round((random() * 500)::numeric, 2)::float8 AS value
  FROM generate_series(1, 400) i;
CREATE TEMP TABLE totals AS
SELECT sum(conv) AS conv, sum(nulls) AS nulls, sum(value) AS value FROM gen;

-- P(conv) of the chain is conversions / (conversions + nulls) at every order,
-- credits sum to the totals, and removal effects lie in [0, 1].
CREATE TEMP TABLE res AS
SELECT o, attribution.markov(path, conv, nulls, value, o) AS r
  FROM gen, generate_series(1, 4) o GROUP BY o;
SELECT r.o, s.states, abs(s.p_conversion - t.conv / (t.conv + t.nulls)) < 1e-12 AS p_ok,
       abs(s.expected_value - t.value / (t.conv + t.nulls)) < 1e-9 AS ev_ok
  FROM res r, totals t, attribution.markov_summary(r.r) s ORDER BY r.o;
SELECT r.o, o.opts, abs(sum(c.conversions) - t.conv) < 1e-9 AS conv_sum_ok,
       abs(sum(c.value) - t.value) < 1e-7 AS value_sum_ok,
       bool_and(c.removal_effect BETWEEN -1e-12 AND 1 + 1e-12) AS re_in_range
  FROM res r, totals t,
       (VALUES ('{}'::jsonb), ('{"ignore_nulls": true}'), ('{"collapse_self_loops": true}'),
               ('{"ignore_nulls": true, "collapse_self_loops": true}')) o(opts),
       attribution.markov_credits(r.r, o.opts) c
 GROUP BY r.o, o.opts, t.conv, t.value ORDER BY 1, 2;

-- Row order does not matter: the result is byte-identical.
SELECT o, r = (SELECT attribution.markov(path, conv, nulls, value, o)
                 FROM (SELECT * FROM gen ORDER BY md5(id::text)) x) AS same_bytes
  FROM res ORDER BY o;
-- Rows split into duplicates (halves are exact, so the bytes are identical;
-- 0.3 / 0.7 agree to rounding).
SELECT o, r = (SELECT attribution.markov(path, w * conv, w * nulls, w * value, o)
                 FROM gen, (VALUES (0.5::float8), (0.5)) s(w)) AS same_bytes
  FROM res ORDER BY o;
SELECT r.o, max(abs(a.conversions - b.conversions)) < 1e-9 AS same_credits
  FROM res r
 CROSS JOIN LATERAL attribution.markov_credits(r.r) a
  JOIN LATERAL attribution.markov_credits((SELECT attribution.markov(path, w * conv, w * nulls, w * value, r.o)
                                     FROM gen, (VALUES (0.3::float8), (0.7)) s(w))) b USING (channel)
 GROUP BY r.o ORDER BY r.o;
-- Renaming channels (reversing their sort order) changes nothing but names.
SELECT r.o, max(abs(a.removal_effect - b.removal_effect)) < 1e-12 AS same_re,
       max(abs(a.value - b.value)) < 1e-9 AS same_value
  FROM res r
 CROSS JOIN LATERAL attribution.markov_credits(r.r) a
  JOIN LATERAL (SELECT replace(channel, 'zz', 'ch') AS channel, c.removal_effect, c.value
          FROM attribution.markov_credits((SELECT attribution.markov(
                   (SELECT array_agg('zz' || (7 - substr(p, 3)::int) ORDER BY k) FROM unnest(path) WITH ORDINALITY u(p, k)),
                   conv, nulls, value, r.o) FROM gen)) c) b
    ON b.channel = 'ch' || (7 - substr(a.channel, 3)::int)
 GROUP BY r.o ORDER BY r.o;

-- Two-step form: transitions summed by GROUP BY, then markov_solve, agree
-- with the aggregate to 1e-9 at every order and with every option.
CREATE TEMP TABLE trans AS
SELECT o, t.from_state, t.to_state, sum(t.weight) AS weight, sum(t.value) AS value,
       sum(t.conversion_weight) AS conversion_weight
  FROM gen, generate_series(1, 4) o,
       attribution.markov_transitions(gen.path, gen.conv, gen.nulls, gen.value, o) t
 GROUP BY o, t.from_state, t.to_state;
SELECT r.o, o.opts, count(*) AS channels,
       max(abs(a.removal_effect - b.removal_effect)) < 1e-9 AS re_ok,
       max(abs(a.conversions - b.conversions)) < 1e-9 AS conv_ok,
       max(abs(a.value - b.value)) < 1e-7 AS value_ok
  FROM res r
 CROSS JOIN (VALUES ('{}'::jsonb), ('{"ignore_nulls": true}'), ('{"collapse_self_loops": true}')) o(opts)
 CROSS JOIN LATERAL (SELECT array_agg(from_state) f, array_agg(to_state) t, array_agg(weight) w,
                            array_agg(value) v, array_agg(conversion_weight) cw
                       FROM trans WHERE trans.o = r.o) t
 CROSS JOIN LATERAL attribution.markov_credits(r.r, o.opts) a
  JOIN LATERAL attribution.markov_solve(t.f, t.t, t.w, t.v, o.opts, t.cw) b ON b.channel = a.channel
 GROUP BY r.o, o.opts ORDER BY 1, 2;
-- Without conversion weights markov_solve can still do everything but
-- ignore_nulls, which it refuses rather than guess.
SELECT count(*) AS channels
  FROM (SELECT array_agg(from_state) f, array_agg(to_state) t, array_agg(weight) w
          FROM trans WHERE o = 1) t,
       attribution.markov_solve(t.f, t.t, t.w) s;
DO $$
BEGIN
    PERFORM * FROM (SELECT array_agg(from_state) f, array_agg(to_state) t, array_agg(weight) w
                      FROM trans WHERE o = 1) t,
                   attribution.markov_solve(t.f, t.t, t.w, NULL, '{"ignore_nulls": true}') s;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;

-- Independent check: a dense Gaussian elimination written in PL/pgSQL over
-- the same transitions gives the same removal effects (orders 1 and 2).
CREATE FUNCTION pg_temp.dense_pconv(states text[], f text[], t text[], w float8[], removed text)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    n int := coalesce(array_length(states, 1), 0);
    m int := n + 1;
    a float8[] := array_fill(0::float8, ARRAY[n * m]);
    outw float8[] := array_fill(0::float8, ARRAY[n]);
    alive boolean[] := array_fill(true, ARRAY[n]);
    x float8[] := array_fill(0::float8, ARRAY[n]);
    startw float8 := 0;
    p float8 := 0;
    i int; j int; k int; piv int; fi int; ti int; fac float8; tmp float8;
BEGIN
    FOR i IN 1..n LOOP
        a[(i - 1) * m + i] := 1;
        alive[i] := removed IS NULL OR NOT (removed = ANY (string_to_array(states[i], '>')));
    END LOOP;
    FOR k IN 1..array_length(f, 1) LOOP
        fi := array_position(states, f[k]);
        IF fi IS NULL THEN startw := startw + w[k]; ELSE outw[fi] := outw[fi] + w[k]; END IF;
    END LOOP;
    FOR k IN 1..array_length(f, 1) LOOP
        fi := array_position(states, f[k]);
        CONTINUE WHEN fi IS NULL OR NOT alive[fi] OR t[k] = '(null)';
        IF t[k] = '(conversion)' THEN
            a[(fi - 1) * m + m] := a[(fi - 1) * m + m] + w[k] / outw[fi];
        ELSE
            ti := array_position(states, t[k]);
            CONTINUE WHEN NOT alive[ti];
            a[(fi - 1) * m + ti] := a[(fi - 1) * m + ti] - w[k] / outw[fi];
        END IF;
    END LOOP;
    FOR k IN 1..n LOOP
        piv := k;
        FOR i IN k + 1..n LOOP
            IF abs(a[(i - 1) * m + k]) > abs(a[(piv - 1) * m + k]) THEN piv := i; END IF;
        END LOOP;
        IF piv <> k THEN
            FOR j IN 1..m LOOP
                tmp := a[(k - 1) * m + j];
                a[(k - 1) * m + j] := a[(piv - 1) * m + j];
                a[(piv - 1) * m + j] := tmp;
            END LOOP;
        END IF;
        FOR i IN k + 1..n LOOP
            fac := a[(i - 1) * m + k] / a[(k - 1) * m + k];
            CONTINUE WHEN fac = 0;
            FOR j IN k..m LOOP
                a[(i - 1) * m + j] := a[(i - 1) * m + j] - fac * a[(k - 1) * m + j];
            END LOOP;
        END LOOP;
    END LOOP;
    FOR i IN REVERSE n..1 LOOP
        tmp := a[(i - 1) * m + m];
        FOR j IN i + 1..n LOOP
            tmp := tmp - a[(i - 1) * m + j] * x[j];
        END LOOP;
        x[i] := tmp / a[(i - 1) * m + i];
    END LOOP;
    FOR k IN 1..array_length(f, 1) LOOP
        CONTINUE WHEN f[k] <> '(start)';
        ti := array_position(states, t[k]);
        IF alive[ti] THEN p := p + w[k] / startw * x[ti]; END IF;
    END LOOP;
    RETURN p;
END
$$;
CREATE FUNCTION pg_temp.dense_markov(f text[], t text[], w float8[])
RETURNS TABLE (channel text, removal_effect float8) LANGUAGE plpgsql AS $$
DECLARE
    states text[];
    c text;
    p0 float8;
BEGIN
    SELECT array_agg(DISTINCT s ORDER BY s) INTO states
      FROM unnest(f || t) s WHERE s NOT IN ('(start)', '(conversion)', '(null)');
    p0 := pg_temp.dense_pconv(states, f, t, w, NULL);
    FOR c IN SELECT DISTINCT ch FROM unnest(states) s, unnest(string_to_array(s, '>')) ch ORDER BY 1 LOOP
        channel := c;
        removal_effect := 1 - pg_temp.dense_pconv(states, f, t, w, c) / p0;
        RETURN NEXT;
    END LOOP;
END
$$;
SELECT r.o, count(*) AS channels, max(abs(a.removal_effect - d.removal_effect)) < 1e-10 AS dense_agrees
  FROM res r
 CROSS JOIN LATERAL (SELECT array_agg(from_state) f, array_agg(to_state) t, array_agg(weight) w
                       FROM trans WHERE trans.o = r.o) t
 CROSS JOIN LATERAL attribution.markov_credits(r.r) a
  JOIN LATERAL pg_temp.dense_markov(t.f, t.t, t.w) d ON d.channel = a.channel
 WHERE r.o <= 2
 GROUP BY r.o ORDER BY r.o;
-- and on the known answers, the dense solve gives the hand-derived numbers
SELECT d.channel, round(d.removal_effect::numeric, 12) AS re
  FROM (SELECT array_agg(t.from_state) f, array_agg(t.to_state) tt, array_agg(t.weight) w
          FROM k1, attribution.markov_transitions(k1.path, k1.conv, k1.nulls) t) a,
       pg_temp.dense_markov(a.f, a.tt, a.w) d
 ORDER BY 1;

-- A chain whose strongly connected component is larger than the dense
-- limit goes through Gauss-Seidel: order 4 over 8 channels, long paths.
SELECT setseed(0.77);
CREATE TEMP TABLE gen_big_scc AS
SELECT i AS id,
       (SELECT array_agg('c' || (1 + floor(random() * 8))::int ORDER BY k)
          FROM generate_series(1, 5 + floor(random() * 10)::int + 0 * i) k) AS path,
       (random() < 0.3)::int::float8 AS conv,
       (random() < 0.7)::int::float8 AS nulls
  FROM generate_series(1, 6000) i;
SELECT s.states > 600 AS many_states,
       abs(s.p_conversion - (SELECT sum(conv) / (sum(conv) + sum(nulls)) FROM gen_big_scc)) < 1e-12 AS p_ok,
       abs((SELECT sum(conversions) FROM attribution.markov_credits(x.r))
           - (SELECT sum(conv) FROM gen_big_scc)) < 1e-9 AS sum_ok
  FROM (SELECT attribution.markov(path, conv, nulls, 0, 4) r FROM gen_big_scc) x,
       attribution.markov_summary(x.r) s;

-- Parallel query: partial states combined in the leader give exactly the
-- bytes of a serial run (a plain table: workers cannot read temp tables).
CREATE TABLE markov_big AS SELECT g.* FROM gen g, generate_series(1, 50);
ANALYZE markov_big;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_res AS
SELECT o, (SELECT attribution.markov(path, conv, nulls, value, o) FROM markov_big) r FROM generate_series(1, 3) o;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT attribution.markov(path, conv, nulls, value, 2) FROM markov_big;
SELECT s.o, s.r = (SELECT attribution.markov(path, conv, nulls, value, s.o) FROM markov_big) AS parallel_same_bytes
  FROM serial_res s ORDER BY s.o;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
DROP TABLE markov_big;
-- 50 copies of each row: 50 times the conversions, same removal effects
SELECT s.o, max(abs(a.removal_effect - b.removal_effect)) < 1e-12 AS same_re
  FROM serial_res s
 CROSS JOIN LATERAL attribution.markov_credits(s.r) a
  JOIN LATERAL attribution.markov_credits((SELECT r FROM res WHERE res.o = s.o)) b USING (channel)
 GROUP BY s.o ORDER BY s.o;

-- Paths read the same however they are stored: small arrays with one-byte
-- headers, compressed and out-of-line long ones, elements with one-byte
-- headers (array_agg over a column), names of every length class, and a
-- lower bound other than 1; each against the same paths rebuilt in memory.
CREATE TEMP TABLE names AS
SELECT i, (ARRAY['a', 'ppc', 'email', 'referral', 'paid_social', 'organic_search_x',
                 'a-very-long-channel-name-of-forty-bytes!'])[1 + i % 7] AS name
  FROM generate_series(0, 6) i;
CREATE TEMP TABLE stored_paths AS
SELECT r AS id, (SELECT array_agg(n.name ORDER BY k)
                   FROM generate_series(1, 1 + (r * 7) % (CASE WHEN r % 10 = 0 THEN 400 ELSE 6 END)) k
                   JOIN names n ON n.i = (r * k + k / 3) % 7) AS path,
       (r % 3 = 0)::int::float8 AS conv, (r % 3 <> 0)::int::float8 AS nulls
  FROM generate_series(1, 300) r;
UPDATE stored_paths SET path = '[0:1]={ppc,email}' WHERE id = 7;
CREATE TEMP TABLE stored_external (LIKE stored_paths);
ALTER TABLE stored_external ALTER COLUMN path SET STORAGE EXTERNAL;
INSERT INTO stored_external SELECT * FROM stored_paths;
SELECT kind, count(*) AS channels,
       max(abs(a.conversions - b.conversions)) = 0 AS same_conversions,
       max(abs(a.removal_effect - b.removal_effect)) = 0 AS same_removal_effects
  FROM (SELECT 'table' AS kind, attribution.markov(path, conv, nulls) AS r FROM stored_paths
        UNION ALL
        SELECT 'external', attribution.markov(path, conv, nulls) FROM stored_external) s
 CROSS JOIN LATERAL attribution.markov_credits(s.r) a
  JOIN attribution.markov_credits((
        SELECT attribution.markov(string_to_array(array_to_string(path, ','), ','), conv, nulls)
          FROM stored_paths)) b USING (channel)
 GROUP BY kind ORDER BY kind;
SELECT count(*) FILTER (WHERE pg_column_size(path) < 127) AS short_header,
       count(*) FILTER (WHERE pg_column_size(path) < octet_length(array_to_string(path, ''))) AS compressed
  FROM stored_paths;
DROP TABLE names, stored_paths, stored_external;

-- Edge cases and errors
SELECT attribution.markov(path, conv) IS NULL AS no_rows FROM k2 WHERE false;
SELECT * FROM attribution.markov_credits((SELECT attribution.markov(path, 0, 0) FROM k2));
SELECT channel, conversions FROM attribution.markov_credits(
    (SELECT attribution.markov(p, 1) FROM (VALUES ('{a}'::text[]), (NULL), ('{}')) v(p)));
DO $$
DECLARE
    stmt text;
BEGIN
    FOREACH stmt IN ARRAY ARRAY[
        'SELECT attribution.markov(path, conv, nulls, 0, 0) FROM k2',
        'SELECT attribution.markov(path, conv, nulls, 0, 9) FROM k2',
        'SELECT attribution.markov(path, conv, nulls, 0, o) FROM k2, (VALUES (1), (2)) v(o)',
        'SELECT attribution.markov(ARRAY[''a'', NULL], 1)',
        'SELECT attribution.markov(ARRAY[''a'', ''''], 1)',
        'SELECT attribution.markov(ARRAY[''a''], -1)',
        'SELECT attribution.markov(ARRAY[''a''], ''NaN'')',
        'SELECT attribution.markov(ARRAY[''a''], 1e300)',
        'SELECT * FROM attribution.markov_credits(''\x00''::bytea)',
        'SELECT * FROM attribution.markov_credits((SELECT attribution.markov(path, conv) FROM k2), ''{"ignore_null": true}'')',
        'SELECT * FROM attribution.markov_credits((SELECT attribution.markov(path, conv) FROM k2), ''{"ignore_nulls": 1}'')',
        'SELECT * FROM attribution.markov_solve(ARRAY[''(conversion)''], ARRAY[''a''], ARRAY[1.0])',
        'SELECT * FROM attribution.markov_solve(ARRAY[''(start)''], ARRAY[''(start)''], ARRAY[1.0])',
        'SELECT * FROM attribution.markov_solve(ARRAY[''(start)''], ARRAY[''a''], ARRAY[1.0, 2.0])',
        'SELECT * FROM attribution.markov_solve(ARRAY[''(start)''], ARRAY[''a''], ARRAY[-1.0])',
        'SELECT * FROM attribution.markov_solve(ARRAY[''(start)''], ARRAY[''a>>b''], ARRAY[1.0])'
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

-- A row with no conversions and no nulls carries no journey: its value is
-- ignored, by the aggregate and by the two-step form alike, and Shapley
-- agrees (a keeps its own 10, b appears nowhere).
WITH r(path, conv, nulls, value) AS (VALUES ('{a}'::text[], 1.0::float8, 1.0::float8, 10.0::float8),
                                           ('{b}', 0, 0, 5))
SELECT 'markov' AS model, c.channel, c.conversions, c.value
  FROM attribution.markov_credits((SELECT attribution.markov(path, conv, nulls, value) FROM r)) c
UNION ALL
SELECT 'two-step', s.channel, s.conversions, s.value
  FROM (SELECT array_agg(from_state) f, array_agg(to_state) t, array_agg(w) w, array_agg(v) v
          FROM (SELECT t.from_state, t.to_state, sum(t.weight) w, sum(t.value) v
                  FROM r, attribution.markov_transitions(r.path, r.conv, r.nulls, r.value) t
                 GROUP BY 1, 2) g) a,
       attribution.markov_solve(a.f, a.t, a.w, a.v) s
UNION ALL
SELECT 'shapley', c.channel, c.conversions, c.value
  FROM attribution.shapley_credits((SELECT attribution.shapley(path, conv, nulls, value) FROM r),
                                   'zhao_simplified') c
ORDER BY 1, 2;
SELECT count(*) AS transitions_of_a_weightless_row
  FROM attribution.markov_transitions('{b}', 0, 0, 5);

-- A NULL order is refused, in the aggregate and in markov_transitions.
DO $$
DECLARE
    stmt text;
BEGIN
    FOREACH stmt IN ARRAY ARRAY[
        'SELECT attribution.markov(ARRAY[''a''], 1, 0, 0, NULL)',
        'SELECT * FROM attribution.markov_transitions(ARRAY[''a''], 1, 0, 0, NULL)'
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
