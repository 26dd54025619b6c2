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
BEGIN
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
    IF NEW.platform = 'google_ads' THEN
        IF coalesce(NEW.account ->> 'customer_id', '') !~ '^[0-9][0-9-]*[0-9]$' THEN
            RAISE EXCEPTION 'destination "%" has no Google Ads customer id', NEW.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Set account to {"customer_id": "1234567890"}.';
        END IF;
        IF NEW.adjustment_policy NOT IN ('none', 'retract', 'restate') THEN
            RAISE EXCEPTION 'adjustment policy "%" does not apply to Google Ads', NEW.adjustment_policy
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Google Ads takes none, retract (full refunds only) or restate (full and partial).';
        END IF;
    ELSIF NEW.adjustment_policy NOT IN ('none', 'negative_event', 'custom_event') THEN
        RAISE EXCEPTION 'adjustment policy "%" does not apply to platform %', NEW.adjustment_policy, NEW.platform
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Only Google Ads has retraction and restatement.',
                  HINT = 'Use none, negative_event or custom_event.';
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
BEGIN
    IF platform IS NULL OR platform NOT IN ('google_ads', 'meta', 'tiktok', 'linkedin', 'webhook') THEN
        RAISE EXCEPTION 'unknown platform "%"', platform
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use one of google_ads, meta, tiktok, linkedin, webhook.';
    END IF;
    IF platform = 'webhook' AND endpoint IS NULL THEN
        RAISE EXCEPTION 'a webhook destination needs an endpoint'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO attribution.destinations AS d
        (name, platform, account, kind_map, endpoint, click_window, max_event_age,
         adjustment_max_age, adjustment_policy, batch_size)
    VALUES (create_destination.name, create_destination.platform,
            coalesce(create_destination.account, '{}'), coalesce(create_destination.kind_map, '{}'),
            coalesce(create_destination.endpoint,
                     CASE create_destination.platform
                         WHEN 'google_ads' THEN 'https://googleads.googleapis.com'
                         WHEN 'meta' THEN 'https://graph.facebook.com'
                         WHEN 'tiktok' THEN 'https://business-api.tiktok.com'
                         WHEN 'linkedin' THEN 'https://api.linkedin.com'
                     END),
            CASE create_destination.platform
                WHEN 'meta' THEN interval '28 days' WHEN 'tiktok' THEN interval '28 days'
                WHEN 'linkedin' THEN interval '90 days' ELSE interval '90 days' END,
            CASE create_destination.platform
                WHEN 'meta' THEN interval '7 days' WHEN 'tiktok' THEN interval '28 days'
                WHEN 'linkedin' THEN interval '90 days' WHEN 'google_ads' THEN interval '90 days'
                ELSE interval '90 days' END,
            CASE create_destination.platform
                WHEN 'google_ads' THEN interval '54 days' WHEN 'meta' THEN interval '7 days'
                WHEN 'tiktok' THEN interval '28 days' ELSE interval '90 days' END,
            CASE create_destination.platform
                WHEN 'google_ads' THEN 'restate' WHEN 'webhook' THEN 'negative_event' ELSE 'none' END,
            CASE create_destination.platform
                WHEN 'google_ads' THEN 2000 WHEN 'linkedin' THEN 5000 ELSE 1000 END)
    RETURNING d.id INTO new_id;
    RETURN new_id;
END
$fn$;
COMMENT ON FUNCTION attribution.create_destination(text, text, jsonb, jsonb, text) IS 'Add a destination with its platform''s defaults (endpoint, windows, event age, batch size, adjustment policy); returns its id';

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
