-- delivery/delivery_worker: what the delivery worker needs in SQL: the claim
-- and record steps (SQL-callable, so that concurrency tests drive them too),
-- the destination state log, the commit-time wake-up, log partitions and
-- retention, and the health view.  (replay and retry_dead are in admin.sql.)

CREATE TABLE attribution.destination_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination_id      int NOT NULL REFERENCES attribution.destinations (id) ON DELETE CASCADE,
    at                  timestamptz NOT NULL DEFAULT clock_timestamp(),
    event               text NOT NULL CHECK (event IN (
                            'breaker_open', 'breaker_half_open', 'breaker_closed',
                            'paused', 'resumed', 'credential_invalid')),
    detail              text
);
CREATE INDEX destination_events_dest_idx ON attribution.destination_events (destination_id, at);
COMMENT ON TABLE attribution.destination_events IS 'Every circuit-breaker and pause transition of a destination, as the delivery worker made it';
COMMENT ON COLUMN attribution.destination_events.detail IS 'Error code and short message that caused the transition (never a token or a request body)';

-- The claim: due rows (pending or retry whose time has come) and rows whose
-- lease lapsed (a claimer that crashed or stalled), locked with SKIP LOCKED
-- so that concurrent claimers get disjoint rows.  Each claim increments
-- attempts, which is the claim token: a late record of an older claim no
-- longer matches and changes nothing.  Events older than the platform
-- accepts are expired here, before batching, so that a stale event never
-- sinks a batch.  An adjustment is not due while its conversion is still
-- waiting or in flight.
CREATE FUNCTION attribution._claim_batch(p_destination int, p_limit int, p_lease interval)
RETURNS TABLE (id bigint, claim int, kind text, dedup_key text, payload jsonb, event_time timestamptz)
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
WITH dest AS (
    SELECT d.max_event_age, d.adjustment_max_age
    FROM attribution.destinations d
    WHERE d.id = p_destination
), due AS (
    SELECT o.id,
           o.event_time < now() - CASE WHEN o.kind = 'adjustment' THEN dest.adjustment_max_age
                                       ELSE dest.max_event_age END AS stale
    FROM attribution.outbox o, dest
    WHERE o.destination_id = p_destination
      AND o.status IN ('pending', 'retry')
      AND o.next_attempt_at <= now()
      -- an adjustment waits for its conversion to be sent and, where the
      -- platform accepts before processing, processed: before that the
      -- platform does not know what to adjust
      AND NOT (o.kind = 'adjustment' AND EXISTS (
              SELECT 1 FROM attribution.adjustment_links l
              JOIN attribution.outbox c ON c.conversion_id = l.original_id
              WHERE l.adjustment_id = o.conversion_id
                AND c.destination_id = o.destination_id
                AND c.kind = 'conversion'
                AND c.status IN ('pending', 'retry', 'in_flight', 'submitted')))
    ORDER BY o.next_attempt_at, o.id
    LIMIT p_limit
    FOR UPDATE OF o SKIP LOCKED
), lapsed AS (
    SELECT o.id,
           o.event_time < now() - CASE WHEN o.kind = 'adjustment' THEN dest.adjustment_max_age
                                       ELSE dest.max_event_age END AS stale
    FROM attribution.outbox o, dest
    WHERE o.status = 'in_flight'
      AND o.lease_until < now()
      AND o.destination_id = p_destination
    ORDER BY o.lease_until, o.id
    LIMIT p_limit
    FOR UPDATE OF o SKIP LOCKED
), picked AS (
    SELECT u.id, u.stale FROM (SELECT * FROM lapsed UNION SELECT * FROM due) u
    ORDER BY u.id
    LIMIT p_limit
), claimed AS (
    UPDATE attribution.outbox o
    SET status = CASE WHEN p.stale THEN 'expired' ELSE 'in_flight' END,
        attempts = o.attempts + CASE WHEN p.stale THEN 0 ELSE 1 END,
        lease_until = CASE WHEN p.stale THEN NULL ELSE now() + p_lease END,
        last_error = CASE WHEN p.stale THEN 'EVENT_TOO_OLD: event is older than the destination accepts' ELSE o.last_error END
    FROM picked p
    WHERE o.id = p.id
    RETURNING o.id, o.attempts, o.kind, o.dedup_key, o.payload, o.event_time, o.status, o.destination_id
), expired_log AS (
    INSERT INTO attribution.delivery_log (attempted_at, outbox_id, destination_id, status, error_code, error)
    SELECT clock_timestamp(), c.id, c.destination_id, 'expired', 'EVENT_TOO_OLD',
           'event is older than the destination accepts'
    FROM claimed c
    WHERE c.status = 'expired'
)
SELECT c.id, c.attempts, c.kind, c.dedup_key, c.payload, c.event_time
FROM claimed c
WHERE c.status = 'in_flight'
ORDER BY c.id
$$;
COMMENT ON FUNCTION attribution._claim_batch(int, int, interval) IS 'Claim up to p_limit due rows of a destination for p_lease (status in_flight); claim is the token _record_outcomes checks. Expires stale events first.';

-- The record: one call per response, with one outcome per row:
--   delivered | duplicate (accepted before; counted as delivered)
--   retry     (exponential backoff with full jitter, at least p_min_delay
--              seconds; dead once attempts or the retry window run out)
--   dead      (not retryable)
--   hold      (credential invalid: back to the queue, no attempt counted)
-- A row is only updated while it is still in_flight under the same claim, so
-- a claimer whose lease lapsed cannot overwrite the outcome of the next one.
-- Returns the number of rows recorded.
-- Exponential backoff with full jitter: jitter (in [0, 1)) times
-- min(cap, base * 2^(attempts - 1)) seconds, and at least min_delay.
-- Plain SQL, so that it is inlined into the record statement.
CREATE FUNCTION attribution._backoff_s(p_attempts int, p_jitter float8, p_min_delay float8,
                                       p_base interval, p_cap interval)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT greatest(coalesce(p_min_delay, 0),
                p_jitter * least(pg_catalog.date_part('epoch', p_cap),
                                 pg_catalog.date_part('epoch', p_base)
                                 * pg_catalog.power(2::float8, least(greatest(p_attempts - 1, 0), 40))))
$$;
COMMENT ON FUNCTION attribution._backoff_s(int, float8, float8, interval, interval) IS 'Retry delay in seconds: exponential backoff with full jitter, at least p_min_delay';

-- A retry is dead instead once the attempts are used up or its delay would
-- run past the retry window.
CREATE FUNCTION attribution._retries_exhausted(p_attempts int, p_max_attempts int, p_queued_at timestamptz,
                                               p_window interval, p_delay_s float8)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT p_attempts >= p_max_attempts OR now() + p_delay_s * interval '1 second' > p_queued_at + p_window
$$;
COMMENT ON FUNCTION attribution._retries_exhausted(int, int, timestamptz, interval, float8) IS 'Whether a retry ends dead: attempts used up, or the retry delay runs past the retry window';

-- Requests a platform accepted but has not processed yet (Data Manager:
-- 200 means valid, not recorded).  Their rows wait in status submitted;
-- the worker asks for the status with backoff and records the outcome of
-- each of the request's destinations here and on the rows.
CREATE TABLE attribution.submitted_requests (
    request_id          text PRIMARY KEY,
    destination_id      int NOT NULL REFERENCES attribution.destinations (id) ON DELETE CASCADE,
    row_count           int NOT NULL,
    submitted_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    polls               int NOT NULL DEFAULT 0,
    next_poll_at        timestamptz NOT NULL,
    last_status         text,
    outcome             jsonb,
    finished_at         timestamptz
);
CREATE INDEX submitted_requests_due_idx ON attribution.submitted_requests (destination_id, next_poll_at)
    WHERE finished_at IS NULL;
COMMENT ON TABLE attribution.submitted_requests IS 'Accepted requests whose processing the delivery worker asks the platform about (requestStatus:retrieve), and the outcome per destination';
COMMENT ON COLUMN attribution.submitted_requests.outcome IS 'Per destination of the request: {reference, outcome delivered|dead, detail (status and error counts per reason)}';
COMMENT ON COLUMN attribution.submitted_requests.last_status IS 'The last answer: processing, done, unknown (no status kept), or the error of the status request';

-- The accepted requests of a destination whose status is due, leased for
-- p_lease so that a crash between asking and recording asks again.
CREATE FUNCTION attribution._claim_status_polls(p_destination int, p_limit int, p_lease interval)
RETURNS TABLE (request_id text)
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
WITH due AS (
    SELECT r.request_id FROM attribution.submitted_requests r
     WHERE r.destination_id = p_destination AND r.finished_at IS NULL
       AND r.next_poll_at <= now()
     ORDER BY r.next_poll_at
     LIMIT p_limit
       FOR UPDATE SKIP LOCKED
)
UPDATE attribution.submitted_requests r
   SET next_poll_at = now() + p_lease
  FROM due
 WHERE r.request_id = due.request_id
RETURNING r.request_id
$$;

-- Record the answer to a status request.  p_status: processing or retry
-- (ask again with exponential backoff, up to backoff_cap; after the
-- retry window the rows count as delivered, unconfirmed), unknown (the
-- platform keeps no status: delivered, unconfirmed) or done, with
-- p_detail a JSON array of {reference, outcome, detail} in the order of
-- the request's destinations; a reference names the conversion action
-- (destinationReferences) of the rows it decides.
CREATE FUNCTION attribution._record_request_status(p_destination int, p_request text, p_status text,
                                                   p_detail text, p_http_status int)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r attribution.submitted_requests;
    d attribution.destinations;
    per jsonb;
    single boolean;
    e jsonb;
BEGIN
    SELECT * INTO r FROM attribution.submitted_requests x
     WHERE x.request_id = p_request AND x.destination_id = p_destination AND x.finished_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO d FROM attribution.destinations x WHERE x.id = p_destination;
    IF p_status IN ('processing', 'retry') AND r.submitted_at + d.retry_window > clock_timestamp() THEN
        UPDATE attribution.submitted_requests x
           SET polls = x.polls + 1, last_status = coalesce(left(p_detail, 500), p_status),
               next_poll_at = clock_timestamp()
                   + least(d.backoff_cap, greatest(d.backoff_base, interval '1 second')
                                          * power(2::float8, least(x.polls + 1, 30)))
         WHERE x.request_id = p_request;
        RETURN;
    END IF;
    IF p_status = 'done' THEN
        per := p_detail::jsonb;
    ELSE
        -- no status to be had: accepted rows count as delivered, unconfirmed
        per := jsonb_build_array(jsonb_build_object(
                   'reference', NULL, 'outcome', 'delivered',
                   'detail', CASE WHEN p_status = 'unknown' THEN 'STATUS_UNAVAILABLE: ' || coalesce(p_detail, '')
                                  ELSE 'STATUS_NOT_CONFIRMED: ' || coalesce(p_detail, p_status) END));
    END IF;
    single := jsonb_array_length(per) = 1;
    FOR e IN SELECT value FROM jsonb_array_elements(per) LOOP
        WITH upd AS (
            UPDATE attribution.outbox o
               SET status = e ->> 'outcome',
                   delivered_at = CASE WHEN e ->> 'outcome' = 'delivered' THEN clock_timestamp() END,
                   last_error = CASE WHEN e ->> 'detail' NOT IN ('SUCCESS') THEN e ->> 'detail' END,
                   last_http_status = p_http_status
             WHERE o.request_id = p_request AND o.destination_id = p_destination
               AND o.status = 'submitted'
               AND (single OR e ->> 'reference' IS NULL
                    OR o.payload -> 'destinationReferences' ->> 0 = e ->> 'reference')
            RETURNING o.id
        )
        INSERT INTO attribution.delivery_log (attempted_at, outbox_id, destination_id, status, http_status,
                                              error_code, error, request_id)
        SELECT clock_timestamp(), upd.id, p_destination, e ->> 'outcome', p_http_status,
               split_part(e ->> 'detail', ':', 1),
               CASE WHEN e ->> 'detail' <> 'SUCCESS' THEN e ->> 'detail' END, p_request
          FROM upd;
    END LOOP;
    UPDATE attribution.submitted_requests x
       SET polls = x.polls + 1, last_status = p_status, outcome = per, finished_at = clock_timestamp()
     WHERE x.request_id = p_request;
END
$$;
COMMENT ON FUNCTION attribution._record_request_status(int, text, text, text, int) IS 'Record the status of an accepted request: ask again later, or settle its submitted rows per destination (delivered or dead, with the platform''s reasons)';

CREATE FUNCTION attribution._record_outcomes(
    p_destination int,
    p_ids bigint[],
    p_claims int[],
    p_outcomes text[],
    p_codes text[],
    p_errors text[],
    p_min_delay float8[],
    p_http_status int,
    p_request_id text,
    p_latency_ms float8)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- A generic plan cannot know how many rows the arrays hold; planned for a
-- handful it turns into scans of the whole outbox once there are many.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    n int;
BEGIN
    -- One UPDATE of the outbox joined to the arrays (index lookups by id),
    -- its RETURNING feeding the attempt log.  The claim check is in the
    -- UPDATE's own WHERE so that it is re-checked on the row version the
    -- UPDATE locks.  A retry whose delay (drawn once per row: r.jitter)
    -- runs past max_attempts or the retry window is dead instead.
    WITH upd AS (
        UPDATE attribution.outbox o
        SET status = CASE
                         WHEN r.outcome IN ('delivered', 'duplicate') THEN 'delivered'
                         WHEN r.outcome = 'hold' THEN 'retry'
                         WHEN r.outcome = 'retry'
                              AND attribution._retries_exhausted(o.attempts, d.max_attempts, o.queued_at, d.retry_window,
                                  attribution._backoff_s(o.attempts, r.jitter, r.min_delay, d.backoff_base, d.backoff_cap))
                              THEN 'dead'
                         ELSE r.outcome END,
            attempts = CASE WHEN r.outcome = 'hold' THEN o.attempts - 1 ELSE o.attempts END,
            next_attempt_at = CASE r.outcome
                                  WHEN 'retry' THEN clock_timestamp()
                                      + attribution._backoff_s(o.attempts, r.jitter, r.min_delay, d.backoff_base, d.backoff_cap)
                                        * interval '1 second'
                                  WHEN 'hold' THEN now()
                                  ELSE o.next_attempt_at END,
            lease_until = NULL,
            last_error = CASE
                             WHEN r.outcome IN ('delivered', 'duplicate', 'submitted') THEN NULL
                             WHEN r.outcome = 'retry'
                                  AND attribution._retries_exhausted(o.attempts, d.max_attempts, o.queued_at, d.retry_window,
                                      attribution._backoff_s(o.attempts, r.jitter, r.min_delay, d.backoff_base, d.backoff_cap))
                                  THEN concat_ws(': ', r.code, 'retries exhausted after ' || o.attempts
                                                              || ' attempts: ' || coalesce(r.err, ''))
                             ELSE concat_ws(': ', r.code, r.err) END,
            last_http_status = p_http_status,
            request_id = CASE WHEN r.outcome IN ('delivered', 'duplicate', 'submitted') THEN p_request_id ELSE o.request_id END,
            delivered_at = CASE WHEN r.outcome IN ('delivered', 'duplicate') THEN clock_timestamp() ELSE o.delivered_at END
        FROM (SELECT u.*, random() AS jitter
              FROM unnest(p_ids, p_claims, p_outcomes, p_codes, p_errors, p_min_delay)
                   AS u(id, claim, outcome, code, err, min_delay)) r,
             attribution.destinations d
        WHERE o.id = r.id
          AND o.destination_id = p_destination
          AND o.status = 'in_flight'
          AND o.attempts = r.claim
          AND d.id = p_destination
        RETURNING o.id, r.outcome, o.status AS final, r.code, r.err
    )
    INSERT INTO attribution.delivery_log (attempted_at, outbox_id, destination_id, status, http_status,
                                          error_code, error, latency_ms, request_id)
    SELECT clock_timestamp(), upd.id, p_destination,
           CASE WHEN upd.final = 'dead' THEN 'dead' WHEN upd.outcome = 'hold' THEN 'retry' ELSE upd.outcome END,
           p_http_status, upd.code,
           CASE WHEN upd.outcome = 'retry' AND upd.final = 'dead' THEN 'retries exhausted: ' || coalesce(upd.err, '')
                ELSE upd.err END,
           p_latency_ms, p_request_id
    FROM upd;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- accepted, not yet processed: the worker asks for the status later
    IF p_request_id IS NOT NULL AND 'submitted' = ANY (p_outcomes) THEN
        INSERT INTO attribution.submitted_requests (request_id, destination_id, row_count, next_poll_at)
        SELECT p_request_id, p_destination, count(*),
               clock_timestamp() + greatest(min(d.backoff_base), interval '1 second')
          FROM attribution.outbox o, attribution.destinations d
         WHERE o.request_id = p_request_id AND o.status = 'submitted'
           AND o.destination_id = p_destination AND d.id = p_destination
        HAVING count(*) > 0
        ON CONFLICT (request_id) DO NOTHING;
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION attribution._record_outcomes(int, bigint[], int[], text[], text[], text[], float8[], int, text, float8) IS 'Record one outcome per claimed row (delivered, duplicate, submitted, retry, dead, hold) if its claim still holds; logs each attempt';

-- Circuit breaker and pause state, written by the worker at each transition.
CREATE FUNCTION attribution._set_breaker(p_destination int, p_state text, p_failures int, p_event text, p_detail text)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
UPDATE attribution.destinations
SET breaker_state = p_state,
    breaker_failures = p_failures,
    breaker_opened_at = CASE WHEN p_state = 'open' THEN clock_timestamp()
                             WHEN p_state = 'closed' THEN NULL
                             ELSE breaker_opened_at END,
    updated_at = clock_timestamp()
WHERE id = p_destination;
INSERT INTO attribution.destination_events (destination_id, event, detail)
SELECT p_destination, p_event, p_detail
WHERE p_event IS NOT NULL;
$$;

-- An invalid, expired or revoked credential: mark the credential invalid
-- (when the vault's table exists) and pause the destination until an admin
-- stores a new token.  Its events are held, not killed.
CREATE FUNCTION attribution._pause_destination(p_destination int, p_reason text, p_detail text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cred bigint;
BEGIN
    UPDATE attribution.destinations
    SET paused_until = 'infinity', pause_reason = p_reason, updated_at = clock_timestamp()
    WHERE id = p_destination
    RETURNING credential_id INTO cred;
    IF cred IS NOT NULL
       AND EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = to_regclass('attribution.credentials')
                     AND attname = 'status' AND NOT attisdropped) THEN
        EXECUTE 'UPDATE attribution.credentials SET status = ''invalid'' WHERE id = $1' USING cred;
    END IF;
    INSERT INTO attribution.destination_events (destination_id, event, detail)
    VALUES (p_destination, CASE WHEN p_reason = 'credential_invalid' THEN 'credential_invalid' ELSE 'paused' END, p_detail);
END
$$;

-- Resume a paused destination (after a new token is stored): its held events
-- go out at once.
CREATE FUNCTION attribution.resume_destination(p_destination int)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE attribution.destinations
    SET paused_until = NULL, pause_reason = NULL, updated_at = clock_timestamp()
    WHERE id = p_destination AND paused_until IS NOT NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO attribution.destination_events (destination_id, event, detail)
    VALUES (p_destination, 'resumed', 'resumed by ' || current_user);
    PERFORM attribution._wake_delivery();
    RETURN true;
END
$$;
COMMENT ON FUNCTION attribution.resume_destination(int) IS 'Lift the pause of a destination (for example after storing a new token); its held events are sent at once';

-- A new test token lifts a credential pause, as storing a new vault
-- credential does.
CREATE FUNCTION attribution._destination_token_changed()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- set_credential() stores the new token and lifts the pause in one
    -- update; either way the resumption is logged here.
    IF OLD.pause_reason = 'credential_invalid'
       AND (NEW.credential_id IS DISTINCT FROM OLD.credential_id OR NEW.paused_until IS NULL) THEN
        NEW.paused_until := NULL;
        NEW.pause_reason := NULL;
        INSERT INTO attribution.destination_events (destination_id, event, detail)
        VALUES (NEW.id, 'resumed', 'new token stored');
        PERFORM attribution._wake_delivery();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER destinations_token_changed
    BEFORE UPDATE OF credential_id, paused_until ON attribution.destinations
    FOR EACH ROW WHEN (OLD.pause_reason = 'credential_invalid')
    EXECUTE FUNCTION attribution._destination_token_changed();

-- Commit-time wake-up of the delivery worker: the C function asks for the
-- worker's latch to be set when the current transaction commits (nothing
-- happens on abort), so a new outbox row is picked up without polling.
CREATE FUNCTION attribution._wake_delivery()
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'attr_wake_delivery';
COMMENT ON FUNCTION attribution._wake_delivery() IS 'Wake the delivery worker when the current transaction commits';

CREATE FUNCTION attribution._outbox_wake()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'attr_outbox_wake';
CREATE TRIGGER outbox_wake
    AFTER INSERT ON attribution.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION attribution._outbox_wake();

-- Monthly partitions of delivery_log, created ahead; rows already in the
-- DEFAULT partition for a new month are moved into it.
CREATE FUNCTION attribution.ensure_delivery_log_partitions(p_months_ahead int DEFAULT 2)
RETURNS int
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first_month timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    lo timestamptz;
    hi timestamptz;
    part text;
    created int := 0;
BEGIN
    -- each partition takes locks until commit: thousands would exhaust the
    -- lock table, and nothing is gained beyond a few years
    IF p_months_ahead < 0 OR p_months_ahead > 120 THEN
        RAISE EXCEPTION 'months ahead must be between 0 and 120, not %', p_months_ahead
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The worker keeps two months ahead; purge_delivery_log drops old ones.';
    END IF;
    FOR i IN 0 .. p_months_ahead LOOP
        lo := ((first_month AT TIME ZONE 'UTC') + make_interval(months => i)) AT TIME ZONE 'UTC';
        hi := ((first_month AT TIME ZONE 'UTC') + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
        part := 'delivery_log_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYY_MM');
        CONTINUE WHEN to_regclass(format('attribution.%I', part)) IS NOT NULL;
        EXECUTE format('CREATE TABLE attribution.%I (LIKE attribution.delivery_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        EXECUTE format('WITH moved AS (DELETE FROM attribution.delivery_log_default WHERE attempted_at >= $1 AND attempted_at < $2 RETURNING *) '
                       'INSERT INTO attribution.%I SELECT * FROM moved', part) USING lo, hi;
        EXECUTE format('ALTER TABLE attribution.delivery_log ATTACH PARTITION attribution.%I FOR VALUES FROM (%L) TO (%L)',
                       part, lo, hi);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION attribution.ensure_delivery_log_partitions(int) IS 'Create the monthly delivery_log partitions from this month to p_months_ahead months ahead (UTC); the worker calls it regularly';

-- Retention: drop whole partitions that end before the cut-off, delete older
-- rows from the DEFAULT partition.  Returns the number of rows removed.
CREATE FUNCTION attribution.purge_delivery_log(p_older_than interval)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := now() - p_older_than;
    part record;
    n bigint;
    total bigint := 0;
BEGIN
    FOR part IN
        SELECT c.oid, c.relname,
               to_date(substr(c.relname, 15, 7), 'YYYY_MM')::timestamp AT TIME ZONE 'UTC' AS lo
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'attribution.delivery_log'::regclass
          AND c.relname ~ '^delivery_log_p[0-9]{4}_[0-9]{2}$'
        ORDER BY c.relname
    LOOP
        CONTINUE WHEN (((part.lo AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC') > cutoff;
        EXECUTE format('SELECT count(*) FROM attribution.%I', part.relname) INTO n;
        EXECUTE format('ALTER TABLE attribution.delivery_log DETACH PARTITION attribution.%I', part.relname);
        -- partitions made by CREATE EXTENSION belong to it: release them first
        IF EXISTS (SELECT 1 FROM pg_depend
                   WHERE classid = 'pg_class'::regclass AND objid = part.oid AND deptype = 'e') THEN
            EXECUTE format('ALTER EXTENSION pg_attribution DROP TABLE attribution.%I', part.relname);
        END IF;
        EXECUTE format('DROP TABLE attribution.%I', part.relname);
        total := total + n;
    END LOOP;
    DELETE FROM attribution.delivery_log_default WHERE attempted_at < cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN total + n;
END
$$;
COMMENT ON FUNCTION attribution.purge_delivery_log(interval) IS 'Remove delivery_log rows older than the interval: whole monthly partitions are dropped, the DEFAULT partition is trimmed; returns rows removed';

SELECT attribution.ensure_delivery_log_partitions();

-- Per destination: queue, throughput, errors and state.  The view runs with
-- its owner's rights, so analysts read it without reading the tables.
CREATE VIEW attribution.delivery_health AS
SELECT d.id AS destination_id,
       d.name,
       d.platform,
       d.enabled,
       q.backlog,
       q.in_flight,
       q.submitted,
       now() - q.oldest_pending AS oldest_pending_age,
       q.dead,
       q.expired,
       h.delivered_last_hour,
       h.attempts_last_hour,
       CASE WHEN h.attempts_last_hour > 0
            THEN round(h.failures_last_hour::numeric / h.attempts_last_hour, 4) END AS error_rate_last_hour,
       d.breaker_state,
       d.breaker_failures,
       d.breaker_opened_at,
       CASE WHEN d.breaker_state = 'open' THEN d.breaker_opened_at + d.breaker_cooldown END AS half_open_at,
       d.paused_until,
       d.pause_reason
FROM attribution.destinations d
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE o.status IN ('pending', 'retry', 'in_flight')) AS backlog,
           count(*) FILTER (WHERE o.status = 'in_flight') AS in_flight,
           count(*) FILTER (WHERE o.status = 'submitted') AS submitted,
           min(o.queued_at) FILTER (WHERE o.status IN ('pending', 'retry', 'in_flight')) AS oldest_pending,
           count(*) FILTER (WHERE o.status = 'dead') AS dead,
           count(*) FILTER (WHERE o.status = 'expired') AS expired
    FROM attribution.outbox o
    WHERE o.destination_id = d.id
) q
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE l.status IN ('delivered', 'duplicate')) AS delivered_last_hour,
           count(*) FILTER (WHERE l.status <> 'expired') AS attempts_last_hour,
           count(*) FILTER (WHERE l.status IN ('retry', 'dead')) AS failures_last_hour
    FROM attribution.delivery_log l
    WHERE l.destination_id = d.id
      AND l.attempted_at > now() - interval '1 hour'
) h;
COMMENT ON VIEW attribution.delivery_health IS 'Per destination: backlog, in flight, submitted (accepted by the platform, status not yet known), oldest pending age, delivered and error rate in the last hour, breaker state and pause';

GRANT SELECT ON attribution.delivery_health TO attribution_analyst, attribution_admin;
GRANT SELECT ON attribution.destination_events, attribution.submitted_requests TO attribution_admin;
GRANT EXECUTE ON FUNCTION attribution.resume_destination(int),
                          attribution.purge_delivery_log(interval),
                          attribution.ensure_delivery_log_partitions(int)
    TO attribution_admin;
GRANT EXECUTE ON FUNCTION attribution._wake_delivery() TO attribution_app, attribution_admin;
