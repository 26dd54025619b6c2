-- delivery/admin: checks on destination settings, and requeueing outbox
-- rows (replay, retry_dead).  Only attribution_admin configures delivery.

-- Settings that each platform reads are checked where they are written, so
-- a mistake shows at configuration time instead of as dead events.
CREATE FUNCTION attribution._destinations_check_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    k text;
    v jsonb;
    p attribution.platforms;
BEGIN
    IF NEW.transport IS NULL THEN
        NEW.transport := (SELECT x.transport FROM attribution.platforms x
                           WHERE x.platform = NEW.platform AND x.default_transport);
    END IF;
    SELECT * INTO p FROM attribution.platforms x
     WHERE x.platform = NEW.platform AND x.transport = NEW.transport;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'platform "%" with transport "%" is not known', NEW.platform, NEW.transport
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The platforms and their transports are the rows of attribution.platforms.';
    END IF;
    PERFORM attribution._check_identifier('destination name', NEW.name, 200);
    IF NEW.endpoint !~* '^https?://[^/]' THEN
        RAISE EXCEPTION 'endpoint "%" of destination "%" is not an http(s) URL', NEW.endpoint, NEW.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(NEW.account) <> 'object' OR jsonb_typeof(NEW.kind_map) <> 'object' THEN
        RAISE EXCEPTION 'account and kind_map of destination "%" must be JSON objects', NEW.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM jsonb_each(NEW.kind_map) e LOOP
        IF jsonb_typeof(v) NOT IN ('string', 'number', 'boolean', 'null') THEN
            RAISE EXCEPTION 'kind_map entry "%" of destination "%" is a JSON %', k, NEW.name, jsonb_typeof(v)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Map a lifecycle kind to an event name or id (string or number), true for the platform''s standard event, or false.';
        END IF;
    END LOOP;
    IF p.target_account_key = 'conversion_action'
       AND coalesce(NEW.account ->> 'customer_id', '') !~ '^[0-9][0-9-]*[0-9]$' THEN
        RAISE EXCEPTION 'destination "%" has no Google Ads customer id', NEW.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Set account to {"customer_id": "1234567890"}.';
    END IF;
    IF NOT NEW.adjustment_policy = ANY (p.adjustment_policies) THEN
        RAISE EXCEPTION 'adjustment policy "%" does not apply to platform %', NEW.adjustment_policy, NEW.platform
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Platform %s takes %s.', NEW.platform,
                                             pg_catalog.array_to_string(p.adjustment_policies, ', ')),
                  HINT = 'Retraction and restatement are Google Ads''; the others send an event of their own (negative_event, custom_event).';
    END IF;
    IF NEW.account ? 'full_refund' AND NEW.account ->> 'full_refund' NOT IN ('zero_value', 'skip') THEN
        RAISE EXCEPTION 'full_refund "%" of destination "%" is not zero_value or skip', NEW.account ->> 'full_refund', NEW.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.platform = 'meta' AND NEW.account ? 'action_source'
       AND NEW.account ->> 'action_source' NOT IN ('email', 'website', 'app', 'phone_call', 'chat',
                                                   'physical_store', 'system_generated', 'other') THEN
        RAISE EXCEPTION 'action_source "%" is not a Meta action source', NEW.account ->> 'action_source'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.platform = 'meta' AND NEW.account ->> 'action_source' = 'website'
       AND coalesce(NEW.account ->> 'event_source_url', '') = '' THEN
        RAISE EXCEPTION 'destination "%" sends website events without an event_source_url', NEW.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.click_window <= interval '0' OR NEW.max_event_age <= interval '0'
       OR NEW.adjustment_max_age <= interval '0' THEN
        RAISE EXCEPTION 'click_window, max_event_age and adjustment_max_age must be positive'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$fn$;

CREATE TRIGGER destinations_check
    BEFORE INSERT OR UPDATE ON attribution.destinations
    FOR EACH ROW EXECUTE FUNCTION attribution._destinations_check_trigger();

-- A destination with the platform's defaults: the real API endpoint, the
-- event age it accepts, its batch limit and an adjustment policy.
CREATE FUNCTION attribution.create_destination(name text, platform text, account jsonb DEFAULT '{}',
                                               kind_map jsonb DEFAULT '{}', endpoint text DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    new_id int;
    p attribution.platforms;
BEGIN
    SELECT * INTO p FROM attribution.platforms x
     WHERE x.platform = create_destination.platform AND x.default_transport;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown platform "%"', platform
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = pg_catalog.format('Use one of %s.', (SELECT pg_catalog.string_agg(DISTINCT x.platform, ', ')
                                                               FROM attribution.platforms x));
    END IF;
    IF p.default_endpoint IS NULL AND endpoint IS NULL THEN
        RAISE EXCEPTION 'a % destination needs an endpoint', platform
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO attribution.destinations AS d
        (name, platform, transport, account, kind_map, endpoint, click_window, max_event_age,
         adjustment_max_age, adjustment_policy, batch_size)
    VALUES (create_destination.name, create_destination.platform, p.transport,
            coalesce(create_destination.account, '{}'), coalesce(create_destination.kind_map, '{}'),
            coalesce(create_destination.endpoint, p.default_endpoint),
            p.click_window, p.max_event_age, p.adjustment_max_age, p.default_adjustment_policy,
            greatest(p.max_batch, 1000))
    RETURNING d.id INTO new_id;
    RETURN new_id;
END
$fn$;
COMMENT ON FUNCTION attribution.create_destination(text, text, jsonb, jsonb, text) IS 'Add a destination with its platform''s defaults from attribution.platforms (default transport, endpoint, windows, event age, batch size, adjustment policy); returns its id';

CREATE FUNCTION attribution._destination_id(destination text)
RETURNS int
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found_id int;
BEGIN
    SELECT d.id INTO found_id FROM attribution.destinations d WHERE d.name = destination;
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'destination "%" does not exist', destination
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN found_id;
END
$fn$;

-- Wake the delivery worker at commit after a requeue.  The wake-up function
-- belongs to the worker's part of the extension; looked up at run time, so
-- requeueing works (and the rows wait for the worker's next wake-up) in a
-- build without it.
CREATE FUNCTION attribution._wake_after_requeue()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF pg_catalog.to_regprocedure('attribution._wake_delivery()') IS NOT NULL THEN
        EXECUTE 'SELECT attribution._wake_delivery()';
    END IF;
END
$fn$;

-- Requeue rows the worker has finished with: they go out again with the
-- same de-duplication key, so the platform drops what it already has.
CREATE FUNCTION attribution._requeue(ids bigint[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
BEGIN
    UPDATE attribution.outbox o
       SET status = 'pending', attempts = 0, next_attempt_at = pg_catalog.now(),
           queued_at = pg_catalog.now(), lease_until = NULL, last_error = NULL,
           last_http_status = NULL, request_id = NULL, delivered_at = NULL
     WHERE o.id = ANY (ids) AND o.status IN ('delivered', 'dead', 'expired');
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM attribution._wake_after_requeue();
    END IF;
    RETURN n;
END
$fn$;

CREATE FUNCTION attribution.replay(destination text, from_time timestamptz, to_time timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dest int := attribution._destination_id(destination);
BEGIN
    IF from_time IS NULL OR to_time IS NULL OR from_time > to_time THEN
        RAISE EXCEPTION 'replay window [%, %) is not a time range', from_time, to_time
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN attribution._requeue(ARRAY(
        SELECT o.id FROM attribution.outbox o
         WHERE o.destination_id = dest
           AND o.event_time >= from_time AND o.event_time < to_time
           AND o.status IN ('delivered', 'dead', 'expired')
         ORDER BY o.id
           FOR UPDATE));
END
$fn$;
COMMENT ON FUNCTION attribution.replay(text, timestamptz, timestamptz) IS 'Requeue the delivered, dead and expired outbox rows of a destination whose event time is in [from_time, to_time); they are resent with the same de-duplication key. Returns the number requeued';

CREATE FUNCTION attribution.retry_dead(destination text, error_like text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dest int := attribution._destination_id(destination);
BEGIN
    RETURN attribution._requeue(ARRAY(
        SELECT o.id FROM attribution.outbox o
         WHERE o.destination_id = dest AND o.status = 'dead'
           AND (error_like IS NULL OR o.last_error LIKE error_like)
         ORDER BY o.id
           FOR UPDATE));
END
$fn$;
COMMENT ON FUNCTION attribution.retry_dead(text, text) IS 'Requeue the dead outbox rows of a destination, those whose last error is LIKE error_like when given. Returns the number requeued';

GRANT EXECUTE ON FUNCTION attribution.create_destination(text, text, jsonb, jsonb, text),
                          attribution.replay(text, timestamptz, timestamptz),
                          attribution.retry_dead(text, text)
   TO attribution_admin;
