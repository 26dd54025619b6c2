-- ingest/processor: normalising the inbox into the ledger, by the
-- background worker (woken at commit) or on demand.

-- The processor claims due rows in order of receipt: this index serves
-- "WHERE status IN (pending, error) ORDER BY id" without reading done rows.
CREATE INDEX webhook_inbox_claim_idx ON attribution.webhook_inbox (id)
    WHERE status IN ('pending', 'error');

CREATE FUNCTION attribution.process_inbox(max_rows int DEFAULT 1000)
RETURNS int
AS 'MODULE_PATHNAME', 'attr_process_inbox'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION attribution.process_inbox(int) IS 'Normalise up to max_rows due inbox rows now, in the calling transaction, by the code path the processor worker uses; returns the number of rows handled';

-- Wakes the processor worker when the inserting transaction commits.
CREATE FUNCTION attribution._wake_processor()
RETURNS trigger
AS 'MODULE_PATHNAME', 'attr_wake_processor'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION attribution._wake_processor() IS 'Trigger: set the processor worker''s latch when the transaction commits';

CREATE TRIGGER webhook_inbox_wake_processor
    AFTER INSERT ON attribution.webhook_inbox
    FOR EACH STATEMENT EXECUTE FUNCTION attribution._wake_processor();

CREATE FUNCTION attribution.processor_state(
    OUT pid int,
    OUT state text,
    OUT database text,
    OUT started_at timestamptz,
    OUT last_processed_at timestamptz,
    OUT rows_processed bigint,
    OUT rows_failed bigint,
    OUT last_error text,
    OUT last_error_at timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'attr_processor_state'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION attribution.processor_state() IS 'The processor worker''s shared-memory state: pid (NULL when not running), state, counters since it started';

CREATE VIEW attribution.worker_status AS
SELECT s.pid,
       s.state,
       s.database,
       s.started_at,
       q.backlog,
       q.oldest_pending_age,
       s.last_processed_at,
       s.rows_processed,
       s.rows_failed,
       q.errors,
       s.last_error,
       s.last_error_at
  FROM attribution.processor_state() s
 CROSS JOIN (SELECT count(*) AS backlog,
                    count(*) FILTER (WHERE i.status = 'error') AS errors,
                    now() - min(i.received_at) AS oldest_pending_age
               FROM attribution.webhook_inbox i
              WHERE i.status IN ('pending', 'error')) q;
COMMENT ON VIEW attribution.worker_status IS 'The inbox processor: pid, state, backlog (pending and failed rows), age of the oldest, last processed time, errors';

GRANT EXECUTE ON FUNCTION attribution.process_inbox(int) TO attribution_admin;
GRANT EXECUTE ON FUNCTION attribution.processor_state() TO attribution_admin, attribution_analyst;
GRANT SELECT ON attribution.worker_status TO attribution_admin, attribution_analyst;
