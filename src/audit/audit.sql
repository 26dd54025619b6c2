-- audit/audit: the tracking audit.  run_audit() samples recent paying
-- conversions, traces each one through every check of checks.sql and
-- delivery_check.sql, and keeps the results per run.

CREATE TABLE attribution.audit_runs (
    run_id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at         timestamptz,
    sample_size         int NOT NULL CHECK (sample_size >= 1),
    lookback            interval NOT NULL CHECK (lookback > '0'),
    seed                float8 NOT NULL,
    conversions_sampled int NOT NULL DEFAULT 0,
    conversions_failed  int NOT NULL DEFAULT 0,
    failure_threshold   numeric NOT NULL,
    alerted             boolean NOT NULL DEFAULT false,
    run_by              name NOT NULL DEFAULT session_user
);
CREATE INDEX audit_runs_started_idx ON attribution.audit_runs (started_at);
COMMENT ON TABLE attribution.audit_runs IS 'One row per run_audit(): the sample asked for, the seed that reproduces it, how many sampled conversions failed a check, and whether that raised an alert';
COMMENT ON COLUMN attribution.audit_runs.seed IS 'Seed of the sample: run_audit(sample_size, lookback, seed) with the same data picks the same conversions';
COMMENT ON COLUMN attribution.audit_runs.conversions_failed IS 'Sampled conversions with at least one failed check';
COMMENT ON COLUMN attribution.audit_runs.failure_threshold IS 'audit_settings.failure_threshold at the time of the run';
COMMENT ON COLUMN attribution.audit_runs.alerted IS 'True when conversions_failed / conversions_sampled exceeded the threshold and an alert (or a WARNING) was raised';

CREATE TABLE attribution.audit_findings (
    run_id          bigint NOT NULL REFERENCES attribution.audit_runs (run_id) ON DELETE CASCADE,
    conversion_id   bigint NOT NULL,
    check_name      text NOT NULL CHECK (check_name IN ('touch_captured', 'utm_convention', 'utm_preserved',
                                                        'identity_chain', 'click_id', 'referral_match',
                                                        'credits_sum', 'delivered')),
    subject         text NOT NULL DEFAULT '',
    outcome         text NOT NULL CHECK (outcome IN ('pass', 'fail', 'not_applicable')),
    reason          text NOT NULL,
    details         jsonb,
    PRIMARY KEY (run_id, conversion_id, check_name, subject)
);
CREATE INDEX audit_findings_failed_idx ON attribution.audit_findings (run_id) WHERE outcome = 'fail';
COMMENT ON TABLE attribution.audit_findings IS 'Per audit run, sampled conversion and check (and subject: platform, destination or referral code): pass, fail or not_applicable, with the reason';
COMMENT ON COLUMN attribution.audit_findings.check_name IS 'touch_captured, utm_convention, utm_preserved, identity_chain, click_id, referral_match, credits_sum or delivered (see the README, "Tracking audit")';
COMMENT ON COLUMN attribution.audit_findings.subject IS 'What the check was about: an ad platform (click_id), a destination (delivered), a referral code (referral_match), or empty';

SELECT pg_catalog.pg_extension_config_dump('attribution.audit_runs', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.audit_findings', '');

-- Raise the audit's alert through the alerts of the credentials component
-- when it is installed, else as a WARNING; resolve it after a good run.
CREATE FUNCTION attribution._audit_alert(p_run bigint, p_failed int, p_sampled int,
                                         p_threshold numeric, p_raise boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    detail jsonb := jsonb_build_object('run_id', p_run, 'conversions_failed', p_failed,
                                       'conversions_sampled', p_sampled, 'failure_threshold', p_threshold);
BEGIN
    IF p_raise THEN
        IF to_regprocedure('attribution._alert_raise(text,text,text,jsonb)') IS NOT NULL THEN
            EXECUTE 'SELECT attribution._alert_raise($1, $2, $3, $4)'
               USING 'audit_failures', 'tracking_audit', 'warning', detail;
        ELSE
            RAISE WARNING 'tracking audit run % failed for % of % sampled conversions', p_run, p_failed, p_sampled
                USING DETAIL = format('The share of failing conversions is above the threshold %s.', p_threshold),
                      HINT = format('See SELECT * FROM attribution.audit_findings WHERE run_id = %s AND outcome = ''fail''.', p_run);
        END IF;
    ELSIF to_regprocedure('attribution._alert_resolve(text,text)') IS NOT NULL THEN
        EXECUTE 'SELECT attribution._alert_resolve($1, $2)' USING 'audit_failures', 'tracking_audit';
    END IF;
END
$fn$;

-- The monthly tracking audit.  The sample is ordered by a hash of each
-- conversion id under the seed, so a seed reproduces it without touching
-- the session's random() sequence; without a seed one is drawn and kept.
CREATE FUNCTION attribution.run_audit(sample_size int DEFAULT 10, lookback interval DEFAULT '30 days',
                                      seed float8 DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s attribution.audit_settings;
    v_seed float8 := coalesce(run_audit.seed, random());
    v_run bigint;
    c attribution.conversions;
    sampled int := 0;
    failed int;
    raise_it boolean;
BEGIN
    IF run_audit.sample_size IS NULL OR run_audit.sample_size < 1 THEN
        RAISE EXCEPTION 'sample_size % is not a positive number of conversions', coalesce(run_audit.sample_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the number of conversions to trace, such as 10.';
    END IF;
    IF run_audit.lookback IS NULL OR run_audit.lookback <= interval '0' THEN
        RAISE EXCEPTION 'lookback % is not a positive interval', coalesce(run_audit.lookback::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass how far back to sample conversions from, such as ''30 days''.';
    END IF;
    SELECT * INTO s FROM attribution.audit_settings;
    INSERT INTO attribution.audit_runs (sample_size, lookback, seed, failure_threshold)
    VALUES (run_audit.sample_size, run_audit.lookback, v_seed, s.failure_threshold)
    RETURNING run_id INTO v_run;

    FOR c IN
        SELECT x.* FROM attribution.conversions x
         WHERE x.value_minor > 0
           AND x.occurred_at > now() - run_audit.lookback AND x.occurred_at <= now()
         ORDER BY hashtextextended(x.id::text, hashtextextended(v_seed::text, 0)), x.id
         LIMIT run_audit.sample_size
    LOOP
        INSERT INTO attribution.audit_findings (run_id, conversion_id, check_name, subject, outcome, reason, details)
        SELECT v_run, c.id, r.check_name, r.subject, r.outcome, r.reason, r.details
          FROM (SELECT * FROM attribution._audit_touch(c)
                UNION ALL SELECT * FROM attribution._audit_utm(c)
                UNION ALL SELECT * FROM attribution._audit_identity(c)
                UNION ALL SELECT * FROM attribution._audit_clicks(c)
                UNION ALL SELECT * FROM attribution._audit_referral(c)
                UNION ALL SELECT * FROM attribution._audit_credits(c)
                UNION ALL SELECT * FROM attribution._audit_delivery(c, s.queue_grace)) r;
        sampled := sampled + 1;
    END LOOP;

    SELECT count(DISTINCT f.conversion_id) INTO failed
      FROM attribution.audit_findings f WHERE f.run_id = v_run AND f.outcome = 'fail';
    raise_it := sampled > 0 AND failed::numeric / sampled > s.failure_threshold;
    UPDATE attribution.audit_runs r
       SET finished_at = clock_timestamp(), conversions_sampled = sampled,
           conversions_failed = failed, alerted = raise_it
     WHERE r.run_id = v_run;
    PERFORM attribution._audit_alert(v_run, failed, sampled, s.failure_threshold, raise_it);
    RETURN v_run;
END
$fn$;
COMMENT ON FUNCTION attribution.run_audit(int, interval, float8) IS
'Trace sample_size random paying conversions of the last lookback through every audit check; results in audit_runs and audit_findings; returns the run id.  The same seed picks the same conversions';

-- Per run: the sample, the outcome counts, the failed checks by name, and
-- whether the run raised an alert.
CREATE VIEW attribution.audit_summary AS
SELECT r.run_id,
       r.started_at,
       r.finished_at,
       r.sample_size,
       r.lookback,
       r.seed,
       r.conversions_sampled,
       r.conversions_failed,
       f.checks_passed,
       f.checks_failed,
       f.checks_not_applicable,
       coalesce(f.failed_by_check, '{}') AS failed_by_check,
       r.failure_threshold,
       r.alerted
  FROM attribution.audit_runs r
  CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE x.outcome = 'pass') AS checks_passed,
               count(*) FILTER (WHERE x.outcome = 'fail') AS checks_failed,
               count(*) FILTER (WHERE x.outcome = 'not_applicable') AS checks_not_applicable,
               (SELECT jsonb_object_agg(y.check_name, y.n ORDER BY y.check_name)
                  FROM (SELECT z.check_name, count(*) AS n FROM attribution.audit_findings z
                         WHERE z.run_id = r.run_id AND z.outcome = 'fail' GROUP BY z.check_name) y) AS failed_by_check
          FROM attribution.audit_findings x
         WHERE x.run_id = r.run_id) f;
COMMENT ON VIEW attribution.audit_summary IS 'Per audit run: conversions sampled and failed, checks passed, failed and not applicable, failures by check, and whether an alert was raised';

GRANT EXECUTE ON FUNCTION attribution.run_audit(int, interval, float8) TO attribution_admin;
GRANT SELECT ON attribution.audit_runs, attribution.audit_findings, attribution.audit_summary
   TO attribution_analyst, attribution_admin;
