-- core/progress: long commands report their phase and rows to shared
-- memory; the view attribution.progress shows them to other sessions.

CREATE FUNCTION attribution._progress_start(command text, phase text, total bigint)
RETURNS void AS 'MODULE_PATHNAME', 'attr_progress_start' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION attribution._progress_start(text, text, bigint) IS 'Start reporting the progress of a command of this session (total NULL when unknown)';
CREATE FUNCTION attribution._progress_update(phase text, done bigint, total bigint DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'attr_progress_update' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION attribution._progress_update(text, bigint, bigint) IS 'Report the phase and rows done (and total, when it changed) of this session''s command';
CREATE FUNCTION attribution._progress_end()
RETURNS void AS 'MODULE_PATHNAME', 'attr_progress_end' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION attribution._progress_end() IS 'This session''s command is done; its progress row goes (also at the end of the transaction)';
CREATE FUNCTION attribution._progress_rows(OUT pid int, OUT datname text, OUT command text, OUT phase text,
                                           OUT rows_done bigint, OUT rows_total bigint,
                                           OUT started_at timestamptz, OUT phase_started_at timestamptz)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'attr_progress_rows' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE VIEW attribution.progress AS
SELECT p.pid, p.datname, p.command, p.phase, p.rows_done, p.rows_total,
       CASE WHEN p.rows_total > 0 THEN round(100.0 * p.rows_done / p.rows_total, 1) END AS percent_done,
       p.started_at,
       date_trunc('second', clock_timestamp() - p.started_at) AS elapsed,
       date_trunc('second', clock_timestamp() - p.phase_started_at) AS phase_elapsed
  FROM attribution._progress_rows() p;
COMMENT ON VIEW attribution.progress IS
'Long commands running now (fit_models, recompute_credits), from any session: phase, rows done of rows total, elapsed time.  Needs pg_attribution in shared_preload_libraries';

GRANT SELECT ON attribution.progress TO attribution_analyst, attribution_admin;
