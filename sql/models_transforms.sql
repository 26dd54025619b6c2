-- Path transforms (fractribution / Snowplow semantics).

-- The examples of the specification.
SELECT t.transform, t.arg,
       array_to_string(attribution.path_transform(
           string_to_array('a>a>a>Direct>a>Direct>Direct', '>'), t.transform, t.arg), '>') AS result
  FROM (VALUES (1, 'unique', NULL),
               (2, 'exposure', NULL),
               (3, 'first', NULL),
               (4, 'frequency', NULL),
               (5, 'remove_if_not_all', 'Direct'),
               (6, 'remove_if_last_and_not_all', 'Direct'),
               (7, 'trim_long_path', '3')) AS t (n, transform, arg)
 ORDER BY t.n;

-- fractribution's own example path D>A>B>B>C>D>C>C.
SELECT t.transform,
       array_to_string(attribution.path_transform(
           ARRAY['D', 'A', 'B', 'B', 'C', 'D', 'C', 'C'], t.transform, t.arg), '>') AS result
  FROM (VALUES (1, 'unique', NULL), (2, 'exposure', NULL), (3, 'first', NULL),
               (4, 'frequency', NULL), (5, 'trim_long_path', '4'),
               (6, 'remove_if_not_all', 'C'), (7, 'remove_if_last_and_not_all', 'C')) AS t (n, transform, arg)
 ORDER BY t.n;

-- frequency as rows: first occurrence order, touches in the whole path.
SELECT * FROM attribution.path_frequency(ARRAY['D', 'A', 'B', 'B', 'C', 'D', 'C', 'C']);
SELECT * FROM attribution.path_frequency('{}');

-- Edge cases: empty path, single touch, a path made only of the removed channel.
SELECT t.transform, t.arg,
       attribution.path_transform('{}'::text[], t.transform, t.arg) AS empty,
       attribution.path_transform(ARRAY['a'], t.transform, t.arg) AS single,
       attribution.path_transform(ARRAY['Direct'], t.transform, t.arg) AS single_direct,
       attribution.path_transform(ARRAY['Direct', 'Direct', 'Direct'], t.transform, t.arg) AS all_direct
  FROM (VALUES (1, 'unique', NULL), (2, 'exposure', NULL), (3, 'first', NULL),
               (4, 'frequency', NULL), (5, 'trim_long_path', '2'),
               (6, 'remove_if_not_all', 'Direct'), (7, 'remove_if_last_and_not_all', 'Direct')) AS t (n, transform, arg)
 ORDER BY t.n;

-- trim_long_path keeps the last n, or the whole path when shorter.
SELECT n, attribution.path_trim_long_path(ARRAY['a', 'b', 'c', 'd'], n) AS trimmed
  FROM generate_series(1, 5) AS n ORDER BY n;

-- Channels compare exactly (case and spaces matter).
SELECT attribution.path_exposure(ARRAY['Email', 'email', 'email ', 'email']) AS exposure,
       attribution.path_remove_if_not_all(ARRAY['direct', 'Direct', 'a'], 'Direct') AS removed;

-- Chainable: nested calls and the steps form agree.
SELECT attribution.path_trim_long_path(
           attribution.path_exposure(
               attribution.path_remove_if_not_all(
                   string_to_array('a>Direct>b>b>Direct>a>a>c>Direct', '>'), 'Direct')), 3) AS nested,
       attribution.path_transforms(string_to_array('a>Direct>b>b>Direct>a>a>c>Direct', '>'),
                                   ARRAY['remove_if_not_all(Direct)', 'exposure', 'trim_long_path(3)']) AS steps,
       attribution.path_transforms(ARRAY['a', 'a', 'b'], '{}') AS no_steps,
       attribution.path_transforms(ARRAY['x(1)', 'a', 'x(1)'], ARRAY['remove_if_not_all(x(1))']) AS paren_channel,
       attribution.path_first(attribution.path_remove_if_last_and_not_all(ARRAY['b', 'Direct', 'a', 'Direct'], 'Direct')) AS first_after_remove;

-- A transform before a model: linear over the exposure path.
SELECT attribution.path_weights('linear', attribution.path_exposure(ARRAY['a', 'a', 'b']),
                                ARRAY['2026-01-01', '2026-01-02']::timestamptz[], '2026-01-03') AS weights;

-- Property: on random paths, each transform's output is a subsequence of
-- the input; exposure has no consecutive repeats; first has no repeats and
-- the input's channel set; frequency counts add up to the path length;
-- remove_if_not_all leaves Direct only on all-Direct paths; transforms
-- that should be idempotent are.
SELECT setseed(0.7);
CREATE TABLE rp AS
SELECT g AS id,
       ARRAY(SELECT (ARRAY['Direct', 'a', 'b', 'c'])[1 + floor(random() * 4)::int]
               FROM generate_series(1, n.len)) AS path
  FROM generate_series(1, 300) AS g,
       LATERAL (SELECT floor(random() * 9)::int + g * 0 AS len) AS n;
SELECT count(*) AS paths,
       count(*) FILTER (WHERE cardinality(path) = 0) AS empty_paths,
       count(*) FILTER (WHERE path <@ ARRAY['Direct'] AND cardinality(path) > 0) AS all_direct
  FROM rp;
SELECT
    count(*) FILTER (WHERE attribution.path_unique(path) IS DISTINCT FROM path) AS unique_changed,
    count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest(attribution.path_exposure(path)) WITH ORDINALITY a (c, i)
                                     JOIN unnest(attribution.path_exposure(path)) WITH ORDINALITY b (c, i)
                                       ON b.i = a.i + 1 AND b.c = a.c)) AS exposure_repeats,
    count(*) FILTER (WHERE cardinality(attribution.path_first(path))
                           <> (SELECT count(DISTINCT c) FROM unnest(path) c)) AS first_not_set,
    count(*) FILTER (WHERE (SELECT coalesce(sum(touches), 0) FROM attribution.path_frequency(path))
                           <> cardinality(path)) AS frequency_miscount,
    count(*) FILTER (WHERE 'Direct' = ANY (attribution.path_remove_if_not_all(path, 'Direct'))
                           AND NOT path <@ ARRAY['Direct']) AS direct_left,
    count(*) FILTER (WHERE (attribution.path_remove_if_last_and_not_all(path, 'Direct'))[
                               cardinality(attribution.path_remove_if_last_and_not_all(path, 'Direct'))] = 'Direct'
                           AND NOT path <@ ARRAY['Direct']) AS direct_last,
    count(*) FILTER (WHERE attribution.path_exposure(attribution.path_exposure(path)) <> attribution.path_exposure(path)
                        OR attribution.path_first(attribution.path_first(path)) <> attribution.path_first(path)
                        OR attribution.path_first(attribution.path_exposure(path)) <> attribution.path_first(path)) AS not_idempotent
  FROM rp;

-- NULLs: a NULL path or transform gives NULL.
SELECT attribution.path_transform(NULL, 'exposure') IS NULL AS null_path,
       attribution.path_transform(ARRAY['a'], NULL) IS NULL AS null_transform,
       attribution.path_exposure(NULL) IS NULL AS null_exposure;

-- Errors, each with its SQLSTATE.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('unknown transform', $q$SELECT attribution.path_transform(ARRAY['a'], 'shuffle')$q$),
        ('missing channel', $q$SELECT attribution.path_transform(ARRAY['a'], 'remove_if_not_all')$q$),
        ('missing count', $q$SELECT attribution.path_transform(ARRAY['a'], 'trim_long_path')$q$),
        ('negative count', $q$SELECT attribution.path_transform(ARRAY['a'], 'trim_long_path', '-1')$q$),
        ('bad count', $q$SELECT attribution.path_transform(ARRAY['a'], 'trim_long_path', 'five')$q$),
        ('function negative count', $q$SELECT attribution.path_trim_long_path(ARRAY['a'], -2)$q$),
        ('extra argument', $q$SELECT attribution.path_transform(ARRAY['a'], 'exposure', 'x')$q$),
        ('null element', $q$SELECT attribution.path_exposure(ARRAY['a', NULL])$q$),
        ('two dimensions', $q$SELECT attribution.path_exposure(ARRAY[['a'], ['b']])$q$),
        ('bad step', $q$SELECT attribution.path_transforms(ARRAY['a'], ARRAY['trim_long_path(2'])$q$),
        ('null step', $q$SELECT attribution.path_transforms(ARRAY['a'], ARRAY[NULL::text])$q$),
        ('unknown step', $q$SELECT attribution.path_transforms(ARRAY['a'], ARRAY['exposure', 'reverse'])$q$)
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

-- trim_long_path(0) keeps the whole path, as fractribution's 0 means.
SELECT attribution.path_trim_long_path(ARRAY['a', 'b', 'c'], 0) AS zero_fn,
       attribution.path_transform(ARRAY['a', 'b', 'c'], 'trim_long_path', '0') AS zero_transform,
       attribution.path_transforms(ARRAY['a', 'b', 'c'], ARRAY['trim_long_path(0)']) AS zero_step;

-- first and frequency are linear in the path: 100,000 distinct channels
-- (and each repeated once) in well under a second.
SELECT cardinality(attribution.path_first(p)) AS first_channels,
       (SELECT count(*) FROM attribution.path_frequency(p)) AS frequency_rows,
       (SELECT sum(touches) FROM attribution.path_frequency(p)) AS frequency_touches
  FROM (SELECT array_agg('ch' || (i % 100000)) AS p FROM generate_series(1, 200000) i) x;

DROP TABLE rp;
