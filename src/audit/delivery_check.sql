-- audit/delivery_check: whether each destination that should have a
-- sampled conversion delivered it, was answered, and holds the ledger's
-- value.  Kept apart from checks.sql: it reads the delivery component's
-- outbox and routing, and the request status of Google's Data Manager path
-- when that table is installed.

-- What the platform said about an accepted request, when the delivery
-- component keeps request statuses (Google Data Manager): the stored row,
-- without its per-destination outcome list.
CREATE FUNCTION attribution._audit_request_status(p_request_id text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r jsonb;
BEGIN
    IF p_request_id IS NULL OR to_regclass('attribution.submitted_requests') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT to_jsonb(s) - ''outcome'' FROM attribution.submitted_requests s WHERE s.request_id = $1 LIMIT 1'
       INTO r USING p_request_id;
    RETURN r;
EXCEPTION WHEN undefined_column OR undefined_table THEN
    RETURN NULL;
END
$fn$;

-- One row per destination: delivered with the ledger's value (pass), dead,
-- expired, queued past the grace period, routed without an outbox row, or
-- sent with another value (fail); not routed by its rules (not_applicable).
CREATE FUNCTION attribution._audit_delivery(c attribution.conversions, p_grace interval)
RETURNS SETOF attribution._audit_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    d attribution.destinations;
    o attribution.outbox;
    decision text;
    sent numeric;
    want numeric;
    st jsonb;
    any_dest boolean := false;
BEGIN
    FOR d IN SELECT * FROM attribution.destinations x ORDER BY x.id LOOP
        any_dest := true;
        SELECT * INTO o FROM attribution.outbox x
         WHERE x.conversion_id = c.id AND x.destination_id = d.id AND x.kind = 'conversion'
         ORDER BY x.id LIMIT 1;
        IF NOT FOUND THEN
            IF NOT d.enabled THEN
                decision := 'disabled';
            ELSIF d.created_at > c.created_at THEN
                decision := 'destination created after the conversion';
            ELSE
                decision := (attribution._route_decision(d, c, NULL::attribution.conversions, c.created_at, true)).decision;
            END IF;
            IF decision = 'routed' THEN
                RETURN NEXT ROW('delivered', d.name, 'fail',
                                format('never delivered to %s: its routing rules take the conversion but there is no outbox row', d.name),
                                NULL)::attribution._audit_result;
            ELSE
                RETURN NEXT ROW('delivered', d.name, 'not_applicable',
                                format('not routed to %s: %s', d.name, decision), NULL)::attribution._audit_result;
            END IF;
            CONTINUE;
        END IF;
        st := attribution._audit_request_status(o.request_id);
        IF o.status = 'delivered' THEN
            sent := attribution._audit_payload_value(o.payload);
            want := attribution._send_value(d, c);
            IF sent IS DISTINCT FROM want THEN
                RETURN NEXT ROW('delivered', d.name, 'fail',
                                format('%s was sent the value %s %s but the ledger holds %s %s',
                                       d.name, coalesce(trim_scale(sent)::text, '(none)'), c.currency, trim_scale(want), c.currency),
                                jsonb_build_object('outbox_id', o.id, 'sent', sent, 'ledger', want,
                                                   'request_id', o.request_id))::attribution._audit_result;
            ELSE
                RETURN NEXT ROW('delivered', d.name, 'pass',
                                format('delivered to %s with the value %s %s; request id %s', d.name, trim_scale(want), c.currency,
                                       coalesce(o.request_id, '(none returned)')),
                                jsonb_strip_nulls(jsonb_build_object('outbox_id', o.id, 'request_id', o.request_id,
                                                                     'request_status', st)))::attribution._audit_result;
            END IF;
        ELSIF o.status IN ('dead', 'expired') THEN
            RETURN NEXT ROW('delivered', d.name, 'fail',
                            format('never delivered to %s: %s after %s attempt(s)%s', d.name, o.status, o.attempts,
                                   coalesce(': ' || left(o.last_error, 200), '')),
                            jsonb_strip_nulls(jsonb_build_object('outbox_id', o.id, 'status', o.status,
                                                                 'http_status', o.last_http_status)))::attribution._audit_result;
        ELSIF o.queued_at < now() - p_grace THEN
            RETURN NEXT ROW('delivered', d.name, 'fail',
                            format('not yet delivered to %s: %s since %s (%s attempt(s))%s', d.name, o.status,
                                   to_char(o.queued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), o.attempts,
                                   coalesce(': ' || left(o.last_error, 200), '')),
                            jsonb_strip_nulls(jsonb_build_object('outbox_id', o.id, 'status', o.status,
                                                                 'request_id', o.request_id, 'request_status', st)))::attribution._audit_result;
        ELSE
            RETURN NEXT ROW('delivered', d.name, 'not_applicable',
                            format('queued for %s (%s)', d.name, o.status),
                            jsonb_build_object('outbox_id', o.id))::attribution._audit_result;
        END IF;
    END LOOP;
    IF NOT any_dest THEN
        RETURN NEXT ROW('delivered', '', 'not_applicable', 'no destination is configured', NULL)::attribution._audit_result;
    END IF;
END
$fn$;
