-- models/fit: fit_models() builds the path table of a window from journeys
-- and conversions, runs the Markov and Shapley models over it and keeps the
-- results with their parameters, so runs are reproducible and comparable.

CREATE TABLE attribution.model_runs (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    "from"          timestamptz NOT NULL,
    "to"            timestamptz NOT NULL,
    parameters      jsonb NOT NULL,
    paths           bigint NOT NULL DEFAULT 0 CHECK (paths >= 0),
    conversions     float8 NOT NULL DEFAULT 0 CHECK (conversions >= 0),
    nulls           float8 NOT NULL DEFAULT 0 CHECK (nulls >= 0),
    value           float8 NOT NULL DEFAULT 0,
    CHECK ("from" < "to"),
    CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE INDEX model_runs_window_idx ON attribution.model_runs ("to", "from");
COMMENT ON TABLE attribution.model_runs IS 'One row per fit_models() run: the window, the parameters used and the size of the path table';
COMMENT ON COLUMN attribution.model_runs.parameters IS 'Every option of the run, defaults filled in, so the run can be repeated';
COMMENT ON COLUMN attribution.model_runs.paths IS 'Distinct paths in the path table';
COMMENT ON COLUMN attribution.model_runs.conversions IS 'Converting journeys (conversions) in the path table';
COMMENT ON COLUMN attribution.model_runs.nulls IS 'Journeys without a conversion in the path table';
COMMENT ON COLUMN attribution.model_runs.finished_at IS 'NULL while the run is in progress or if it failed';

CREATE TABLE attribution.model_results (
    run_id          bigint NOT NULL REFERENCES attribution.model_runs (run_id) ON DELETE CASCADE,
    model           text NOT NULL CHECK (model IN ('markov', 'shapley_zhao_simplified',
                        'shapley_zhao_ordered', 'shapley_exact_subset_sum',
                        'shapley_exact_conversion_rate', 'shapley_fractribution')),
    channel         text NOT NULL,
    removal_effect  float8,
    conversions     float8 NOT NULL,
    value           float8 NOT NULL,
    PRIMARY KEY (run_id, model, channel)
);
CREATE INDEX model_results_model_idx ON attribution.model_results (model, channel);
COMMENT ON TABLE attribution.model_results IS 'Credits per run, model and channel from fit_models()';
COMMENT ON COLUMN attribution.model_results.removal_effect IS 'Markov removal effect 1 - P(conv without the channel)/P(conv); NULL for Shapley models';
COMMENT ON COLUMN attribution.model_results.conversions IS 'Conversions credited to the channel; per model they sum to the run''s conversions';
COMMENT ON COLUMN attribution.model_results.value IS 'Value credited to the channel; per model it sums to the run''s value';

SELECT pg_catalog.pg_extension_config_dump('attribution.model_runs', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.model_results', '');

CREATE FUNCTION attribution.fit_models(p_from timestamptz, p_to timestamptz, options jsonb DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fit$
DECLARE
    known       constant text[] := ARRAY['lookback_days', 'order', 'ignore_nulls', 'collapse_self_loops',
                                         'conversions', 'currency', 'models'];
    all_models  constant text[] := ARRAY['markov', 'shapley_zhao_simplified', 'shapley_zhao_ordered',
                                         'shapley_exact_subset_sum', 'shapley_exact_conversion_rate',
                                         'shapley_fractribution'];
    opts        jsonb := coalesce(options, '{}');
    bad         text;
    lookback    interval;
    ord         int;
    kinds       text;
    cur         text;
    models      text[];
    params      jsonb;
    run         bigint;
    npaths      bigint;
    nconv       float8;
    nnull       float8;
    nvalue      float8;
    mres        bytea;
    sres        bytea;
    m           text;
    done        int := 0;
    fitted      text[] := '{}';
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_from >= p_to THEN
        RAISE EXCEPTION 'fit_models window [%, %) is empty', p_from, p_to
            USING ERRCODE = '22023', HINT = 'Pass a start before the end.';
    END IF;
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'options of fit_models must be a JSON object' USING ERRCODE = '22023';
    END IF;
    SELECT k INTO bad FROM jsonb_object_keys(opts) k WHERE k <> ALL (known) ORDER BY k LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown option "%" for fit_models', bad
            USING ERRCODE = '22023', HINT = 'Valid options are: ' || array_to_string(known, ', ') || '.';
    END IF;

    lookback := make_interval(days => coalesce((opts->>'lookback_days')::int, 90));
    IF lookback <= interval '0' THEN
        RAISE EXCEPTION 'lookback_days must be positive' USING ERRCODE = '22023';
    END IF;
    ord := coalesce((opts->>'order')::int, 1);
    IF ord NOT BETWEEN 1 AND 8 THEN
        RAISE EXCEPTION 'markov order % is out of range', ord
            USING ERRCODE = '22023', DETAIL = 'The order must be between 1 and 8.';
    END IF;
    kinds := coalesce(opts->>'conversions', 'first_payment');
    IF kinds NOT IN ('first_payment', 'all') THEN
        RAISE EXCEPTION 'option "conversions" must be "first_payment" or "all", not "%"', kinds
            USING ERRCODE = '22023';
    END IF;
    cur := opts->>'currency';
    IF opts ? 'models' THEN
        SELECT array_agg(x ORDER BY x) INTO models FROM jsonb_array_elements_text(opts->'models') x;
        SELECT x INTO bad FROM unnest(models) x WHERE x <> ALL (all_models) LIMIT 1;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'unknown model "%" for fit_models', bad
                USING ERRCODE = '22023', HINT = 'Valid models are: ' || array_to_string(all_models, ', ') || '.';
        END IF;
    ELSE
        models := all_models;
    END IF;
    params := jsonb_build_object(
        'lookback_days', extract(day FROM lookback)::int,
        'order', ord,
        'ignore_nulls', coalesce((opts->>'ignore_nulls')::boolean, false),
        'collapse_self_loops', coalesce((opts->>'collapse_self_loops')::boolean, false),
        'conversions', kinds,
        'currency', cur,
        'models', to_jsonb(models));

    INSERT INTO attribution.model_runs ("from", "to", parameters)
    VALUES (p_from, p_to, params)
    RETURNING run_id INTO run;

    PERFORM attribution._progress_start('fit_models', 'building paths', NULL);
    RAISE NOTICE 'fit_models run %: building paths', run;
    IF to_regclass('pg_temp._attribution_fit_paths') IS NOT NULL THEN
        DROP TABLE pg_temp._attribution_fit_paths;
    END IF;
    CREATE TEMP TABLE _attribution_fit_paths (
        path text[] NOT NULL, conversions float8 NOT NULL, nulls float8 NOT NULL, value float8 NOT NULL
    ) ON COMMIT DROP;
    INSERT INTO _attribution_fit_paths (path, conversions, nulls, value)
    WITH conv AS (
        SELECT c.id, c.user_id, c.occurred_at, c.value::float8 AS value
          FROM attribution.conversions c
         WHERE c.occurred_at >= p_from AND c.occurred_at < p_to
           AND c.user_id IS NOT NULL
           AND (CASE WHEN kinds = 'first_payment' THEN c.is_first_payment ELSE c.value_minor > 0 END)
           AND (cur IS NULL OR c.currency = cur)
    ), converted AS (
        -- one journey per conversion: the user's touches within the lookback before it
        SELECT array_agg(j.channel ORDER BY j.occurred_at, j.touch_id) AS path, cv.value
          FROM conv cv
          JOIN attribution.journeys j
            ON j.user_id = cv.user_id
           AND j.occurred_at <= cv.occurred_at
           AND j.occurred_at > cv.occurred_at - lookback
         GROUP BY cv.id, cv.value
    ), window_touches AS (
        SELECT j.user_id, j.channel, j.occurred_at, j.touch_id,
               max(j.occurred_at) OVER (PARTITION BY j.user_id) AS last_at
          FROM attribution.journeys j
         WHERE j.occurred_at >= p_from AND j.occurred_at < p_to
           AND NOT EXISTS (
                SELECT 1 FROM attribution.conversions c
                 WHERE c.user_id = j.user_id AND c.occurred_at < p_to
                   AND (CASE WHEN kinds = 'first_payment' THEN c.is_first_payment ELSE c.value_minor > 0 END)
                   AND (cur IS NULL OR c.currency = cur))
    ), unconverted AS (
        -- one journey per user who touched in the window and never converted
        SELECT array_agg(w.channel ORDER BY w.occurred_at, w.touch_id) AS path
          FROM window_touches w
         WHERE w.occurred_at > w.last_at - lookback
         GROUP BY w.user_id
    ), rows AS (
        SELECT path, 1::float8 AS conversions, 0::float8 AS nulls, value FROM converted
        UNION ALL
        SELECT path, 0, 1, 0 FROM unconverted
    )
    SELECT path, sum(conversions) AS conversions, sum(nulls) AS nulls, sum(value) AS value
      FROM rows
     GROUP BY path;

    SELECT count(*), coalesce(sum(conversions), 0), coalesce(sum(nulls), 0), coalesce(sum(value), 0)
      INTO npaths, nconv, nnull, nvalue
      FROM _attribution_fit_paths;
    UPDATE attribution.model_runs
       SET paths = npaths, conversions = nconv, nulls = nnull, value = nvalue
     WHERE run_id = run;
    RAISE NOTICE 'fit_models run %: % distinct paths, % conversions, % journeys without conversion',
        run, npaths, nconv, nnull;
    PERFORM attribution._progress_update('fitting ' || models[1], 0, cardinality(models));

    IF 'markov' = ANY (models) THEN
        RAISE NOTICE 'fit_models run %: markov order %', run, ord;
        SELECT attribution.markov(path, conversions, nulls, value, ord) INTO mres
          FROM _attribution_fit_paths;
        INSERT INTO attribution.model_results (run_id, model, channel, removal_effect, conversions, value)
        SELECT run, 'markov', r.channel, r.removal_effect, r.conversions, r.value
          FROM attribution.markov_credits(mres, jsonb_build_object(
                   'ignore_nulls', params->'ignore_nulls',
                   'collapse_self_loops', params->'collapse_self_loops')) r;
        done := done + 1;
        fitted := fitted || 'markov'::text;
        PERFORM attribution._progress_update('fitting ' || coalesce(models[done + 1], ''), done);
    END IF;

    IF models && all_models[2:6] THEN
        RAISE NOTICE 'fit_models run %: shapley', run;
        SELECT attribution.shapley(path, conversions, nulls, value) INTO sres
          FROM _attribution_fit_paths;
        FOREACH m IN ARRAY models LOOP
            CONTINUE WHEN m = 'markov';
            BEGIN
                INSERT INTO attribution.model_results (run_id, model, channel, removal_effect, conversions, value)
                SELECT run, m, r.channel, NULL, sum(r.conversions), sum(r.value)
                  FROM attribution.shapley_credits(sres, substr(m, 9)) r
                 GROUP BY r.channel;
                fitted := fitted || m::text;
            EXCEPTION WHEN program_limit_exceeded THEN
                RAISE NOTICE 'fit_models run %: % skipped: %', run, m, SQLERRM;
            END;
            done := done + 1;
            PERFORM attribution._progress_update('fitting ' || coalesce(models[done + 1], ''), done);
        END LOOP;
    END IF;

    DROP TABLE pg_temp._attribution_fit_paths;
    UPDATE attribution.model_runs SET finished_at = clock_timestamp() WHERE run_id = run;
    PERFORM attribution._progress_end();
    RAISE NOTICE 'fit_models run %: done', run;
    RETURN format('fit_models run %s: %s paths, %s conversions, %s journeys without conversion; fitted %s%s',
                  run, npaths, nconv, nnull,
                  coalesce(nullif(array_to_string(fitted, ', '), ''), 'no model'),
                  CASE WHEN cardinality(fitted) < cardinality(models)
                       THEN format(' (skipped %s)', array_to_string(ARRAY(SELECT x FROM unnest(models) x
                                                                          WHERE x <> ALL (fitted)), ', '))
                       ELSE '' END);
END
$fit$;
COMMENT ON FUNCTION attribution.fit_models(timestamptz, timestamptz, jsonb) IS
    'Fits Markov and Shapley models over conversions in [from, to) and their journeys; progress shows in attribution.progress; returns a one-line summary that starts with the run id (model_runs.run_id). Options: lookback_days (90), order (1), ignore_nulls, collapse_self_loops, conversions (first_payment | all), currency, models';

GRANT SELECT ON attribution.model_runs, attribution.model_results TO attribution_analyst, attribution_admin;
GRANT EXECUTE ON FUNCTION attribution.fit_models(timestamptz, timestamptz, jsonb) TO attribution_admin;
