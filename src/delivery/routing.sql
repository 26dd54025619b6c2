-- delivery/routing: which destinations may claim each conversion, the
-- payload each of them gets, and the adjustments refunds turn into.
--
-- Routing runs in the transaction that records the conversion (a trigger on
-- attribution.conversions), so a conversion and its outbox rows commit or
-- roll back together.  The facts are gathered by the helpers of
-- routing_facts.sql; attribution._render_payload (payload.c and the
-- build_*.c files) writes the element in the platform's format.

-- Decide whether destination d may claim conversion c (an adjustment when
-- o, the conversion it adjusts, is given) at time p_now, and gather the
-- facts of its payload.  decision is 'routed' or the reason it is not.
-- p_check false (build_payload) skips the gates and keeps only what the
-- payload itself needs.
CREATE FUNCTION attribution._route_decision(d attribution.destinations, c attribution.conversions,
    o attribution.conversions, p_now timestamptz, p_check boolean,
    OUT decision text, OUT facts attribution._payload_facts, OUT matched_on text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    adj boolean := o.id IS NOT NULL;
    basis attribution.conversions := CASE WHEN o.id IS NOT NULL THEN o ELSE c END;
    p attribution.platforms;
    f attribution._payload_facts;
    k record;
    e record;
    consent_data boolean;
    consent_pers boolean;
    sent numeric;
    adjusted numeric;
    clicks text[];
BEGIN
    facts := NULL;
    IF p_check AND NOT d.enabled THEN
        decision := 'disabled';
        RETURN;
    END IF;
    -- what the platform's module declares (platforms.sql)
    SELECT * INTO p FROM attribution.platforms x
     WHERE x.platform = d.platform AND x.transport = d.transport;

    f.platform := d.platform;
    f.transport := d.transport;
    f.kind := CASE WHEN adj THEN 'adjustment' ELSE 'conversion' END;
    f.lifecycle := c.kind;
    f.conversion_id := c.id;
    f.currency := c.currency;
    f.provider := c.provider;

    -- what the destination sends this kind as
    IF NOT adj THEN
        f.target := attribution._kind_target(d, c.kind);
    ELSIF p.adjustment_target = 'original' THEN
        f.target := attribution._kind_target(d, o.kind);
    ELSIF p.adjustment_target = 'own_or_original' THEN
        f.target := coalesce(attribution._kind_target(d, c.kind), attribution._kind_target(d, o.kind));
    ELSE
        f.target := coalesce(CASE WHEN c.kind IN ('refund', 'chargeback', 'chargeback_reversed')
                                  THEN attribution._kind_target(d, c.kind) END,
                             attribution._adjustment_event(d, c.kind));
    END IF;
    IF f.target IS NULL THEN
        decision := 'kind_not_mapped';
        RETURN;
    END IF;

    IF adj THEN
        IF d.adjustment_policy = 'none' THEN
            decision := 'policy_none';
            RETURN;
        END IF;
        IF c.currency <> o.currency THEN
            decision := 'currency_mismatch';
            RETURN;
        END IF;
        -- the platform must have been given the original to adjust it
        IF p_check AND NOT EXISTS (
                SELECT 1 FROM attribution.outbox x
                 WHERE x.destination_id = d.id AND x.conversion_id = o.id AND x.kind = 'conversion'
                   AND x.status NOT IN ('dead', 'expired')) THEN
            decision := 'original_not_sent';
            RETURN;
        END IF;
    END IF;

    -- an adjustment's age counts from the conversion it adjusts where the
    -- platform adjusts that conversion, else it is an event of its own
    IF p_check THEN
        IF adj AND p.adjustment_age_from_original THEN
            IF o.occurred_at < p_now - d.adjustment_max_age THEN
                decision := 'too_old';
                RETURN;
            END IF;
        ELSIF adj THEN
            IF c.occurred_at < p_now - d.adjustment_max_age THEN
                decision := 'too_old';
                RETURN;
            END IF;
        ELSIF c.occurred_at < p_now - d.max_event_age THEN
            decision := 'too_old';
            RETURN;
        END IF;
    END IF;

    -- consent: unknown is NULL
    SELECT s.ad_user_data, s.ad_personalization INTO consent_data, consent_pers
      FROM attribution.consents s WHERE s.user_id = basis.user_id;
    IF p_check AND d.require_consent AND consent_data IS NOT TRUE THEN
        decision := 'no_consent';
        RETURN;
    END IF;
    IF p_check AND consent_data IS FALSE AND p.consent_denied_blocks THEN
        decision := 'consent_denied';
        RETURN;
    END IF;

    -- keys and values
    IF adj THEN
        f.dedup_key := (SELECT b.fact_key FROM attribution.billing_events b WHERE b.id = c.billing_event_id);
        f.order_id := attribution._dedup_key(o.billing_event_id);
        f.original_time := o.occurred_at;
    ELSE
        f.dedup_key := attribution._dedup_key(c.billing_event_id);
        f.order_id := f.dedup_key;
    END IF;
    f.event_time := c.occurred_at;

    IF NOT adj THEN
        f.value := attribution._send_value(d, c);
    ELSIF d.adjustment_policy IN ('retract', 'restate') THEN
        -- the value the platform holds, then every adjustment up to this one
        sent := coalesce(
            (SELECT (x.payload ->> 'conversionValue')::numeric FROM attribution.outbox x
              WHERE x.destination_id = d.id AND x.conversion_id = o.id AND x.kind = 'conversion'),
            attribution._send_value(d, o));
        adjusted := sent + c.value + coalesce(
            (SELECT sum(a.value) FROM attribution.adjustment_links l
               JOIN attribution.conversions a ON a.id = l.adjustment_id
              WHERE l.original_id = o.id AND a.id <> c.id AND a.currency = o.currency
                AND (a.occurred_at, a.id) < (c.occurred_at, c.id)), 0);
        IF adjusted <= 0 THEN
            IF d.account ->> 'full_refund' = 'skip' THEN
                decision := 'full_refund_skipped';
                RETURN;
            END IF;
            f.adjustment_type := 'RETRACTION';
        ELSIF d.adjustment_policy = 'retract' THEN
            decision := 'partial_not_retracted';
            RETURN;
        ELSE
            f.adjustment_type := 'RESTATEMENT';
            f.value := adjusted;
        END IF;
        -- an adjustment that does not follow the conversion is ignored
        f.event_time := greatest(c.occurred_at, o.occurred_at + interval '1 second');
    ELSIF d.adjustment_policy = 'negative_event' THEN
        f.value := c.value;
    ELSIF d.adjustment_policy = 'custom_event' THEN
        f.value := abs(c.value);
    ELSE
        decision := 'policy_none';
        RETURN;
    END IF;

    -- identity: click ids within the window before the (original)
    -- conversion, hashed e-mail and phone; each module takes what its
    -- platform matches on
    SELECT * INTO k FROM attribution._click_facts(basis.user_id, basis.occurred_at, d.click_window);
    SELECT * INTO e FROM attribution._email_hashes(basis);
    f.account_id := regexp_replace(coalesce(d.account ->> 'customer_id', ''), '[^0-9]', '', 'g');
    f.gclid := k.gclid;
    IF f.gclid IS NULL THEN
        f.gbraid := k.gbraid;
        f.wbraid := k.wbraid;
    END IF;
    f.fbc := k.fbc;
    f.fbp := k.fbp;
    f.ttclid := k.ttclid;
    f.ttp := k.ttp;
    f.li_fat_id := k.li_fat_id;
    f.ip := k.ip;
    f.ip_sha256 := CASE WHEN k.ip IS NOT NULL THEN encode(sha256(convert_to(k.ip, 'UTF8')), 'hex') END;
    f.user_agent := k.user_agent;
    f.email_sha256 := e.email_sha256;
    f.email_sha256_google := e.email_sha256_google;
    f.phone_sha256 := e.phone_sha256;
    f.phone_sha256_meta := e.phone_sha256_meta;
    f.ad_user_data := consent_data;
    f.ad_personalization := consent_pers;
    f.action_source := nullif(d.account ->> 'action_source', '');
    f.source_url := nullif(coalesce(d.account ->> 'event_source_url', d.account ->> 'page_url'), '');
    f.user_id := basis.user_id;
    f.ltv := attribution._minor_to_major(c.ltv_minor, c.currency);
    IF p.predicted_ltv = 'always' OR (p.predicted_ltv = 'value_mode' AND d.value_mode = 'predicted_ltv' AND NOT adj) THEN
        f.predicted_ltv := (SELECT v.value FROM attribution.predicted_ltv v
                             WHERE v.user_id = basis.user_id AND v.currency = c.currency);
    END IF;
    IF basis.user_id IS NOT NULL THEN
        f.external_id_sha256 := encode(sha256(convert_to(basis.user_id, 'UTF8')), 'hex');
    END IF;

    -- what made the match: the click ids the platform uses, else (where
    -- the platform or the destination's leads option allows) hashed
    -- e-mail and phone
    clicks := ARRAY(SELECT x FROM unnest(p.click_ids) x
                     WHERE x = ANY (ARRAY[CASE WHEN f.gclid IS NOT NULL THEN 'gclid' END,
                                          CASE WHEN f.gbraid IS NOT NULL THEN 'gbraid' END,
                                          CASE WHEN f.wbraid IS NOT NULL THEN 'wbraid' END,
                                          CASE WHEN f.fbc IS NOT NULL THEN 'fbc' END,
                                          CASE WHEN f.fbp IS NOT NULL THEN 'fbp' END,
                                          CASE WHEN f.ttclid IS NOT NULL THEN 'ttclid' END,
                                          CASE WHEN f.ttp IS NOT NULL THEN 'ttp' END,
                                          CASE WHEN f.li_fat_id IS NOT NULL THEN 'li_fat_id' END]));
    IF p.user_match OR (p.lead_option AND coalesce((d.account ->> 'leads_without_click')::boolean, false)) THEN
        clicks := clicks || ARRAY(SELECT x FROM unnest(ARRAY[
                      CASE WHEN e.email_sha256 IS NOT NULL THEN 'email' END,
                      CASE WHEN e.phone_sha256 IS NOT NULL THEN 'phone' END]) x WHERE x IS NOT NULL);
    END IF;
    matched_on := nullif(array_to_string(clicks, ','), '');
    IF adj THEN
        matched_on := coalesce(matched_on, 'original');
    ELSIF matched_on IS NULL AND p.match_always THEN
        matched_on := 'always';
    END IF;

    IF p_check AND matched_on IS NULL THEN
        decision := 'no_match';
        RETURN;
    END IF;
    decision := 'routed';
    facts := f;
END
$fn$;

-- Route one conversion: for each enabled destination that may claim it,
-- an outbox row (ON CONFLICT keeps a row already there, so routing again
-- after an identity change adds only what changed).  Returns the number of
-- rows written.  A refund whose original conversion cannot be found routes
-- nothing.
CREATE FUNCTION attribution._route_conversion(conversion_id bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c attribution.conversions;
    o attribution.conversions;
    d attribution.destinations;
    r record;
    n integer := 0;
    added integer;
BEGIN
    SELECT * INTO c FROM attribution.conversions x WHERE x.id = _route_conversion.conversion_id;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF attribution._is_adjustment(c.kind, c.value_minor) THEN
        SELECT * INTO o FROM attribution.conversions x
         WHERE x.id = attribution._original_conversion(c.id);
        IF NOT FOUND THEN
            RETURN 0;
        END IF;
        INSERT INTO attribution.adjustment_links (adjustment_id, original_id)
        VALUES (c.id, o.id)
        ON CONFLICT (adjustment_id) DO NOTHING;
    END IF;
    FOR d IN SELECT * FROM attribution.destinations x WHERE x.enabled ORDER BY x.id LOOP
        r := attribution._route_decision(d, c, o, pg_catalog.now(), true);
        CONTINUE WHEN r.decision <> 'routed';
        INSERT INTO attribution.outbox (destination_id, conversion_id, kind, dedup_key, payload, event_time)
        VALUES (d.id, c.id, (r.facts).kind, (r.facts).dedup_key, attribution._render_payload(r.facts),
                CASE WHEN (r.facts).kind = 'adjustment' AND (SELECT p.adjustment_age_from_original
                                                                FROM attribution.platforms p
                                                               WHERE p.platform = d.platform
                                                                 AND p.transport = d.transport)
                     THEN o.occurred_at ELSE (r.facts).event_time END)
        ON CONFLICT (destination_id, kind, dedup_key) DO NOTHING;
        GET DIAGNOSTICS added = ROW_COUNT;
        n := n + added;
    END LOOP;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION attribution._route_conversion(bigint) IS 'Write the outbox rows of every enabled destination that may claim the conversion (or adjustment); returns how many were written';

-- Routing decisions of one conversion, per destination, as the routing
-- trigger would take them now: for admins checking a destination's setup.
CREATE FUNCTION attribution.explain_routing(conversion_id bigint)
RETURNS TABLE (destination text, platform text, kind text, decision text, matched_on text)
LANGUAGE plpgsql STABLE STRICT
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c attribution.conversions;
    o attribution.conversions;
    d attribution.destinations;
    r record;
    adj boolean;
BEGIN
    SELECT * INTO c FROM attribution.conversions x WHERE x.id = explain_routing.conversion_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'conversion % does not exist', explain_routing.conversion_id
            USING ERRCODE = 'no_data_found';
    END IF;
    adj := attribution._is_adjustment(c.kind, c.value_minor);
    IF adj THEN
        SELECT * INTO o FROM attribution.conversions x
         WHERE x.id = attribution._original_conversion(c.id);
    END IF;
    FOR d IN SELECT * FROM attribution.destinations x ORDER BY x.id LOOP
        destination := d.name;
        platform := d.platform;
        kind := CASE WHEN adj THEN 'adjustment' ELSE 'conversion' END;
        matched_on := NULL;
        IF adj AND o.id IS NULL THEN
            decision := 'no_original';
        ELSE
            r := attribution._route_decision(d, c, o, pg_catalog.now(), true);
            decision := r.decision;
            matched_on := r.matched_on;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION attribution.explain_routing(bigint) IS 'Per destination, whether the conversion would be routed now, or why not (disabled, kind_not_mapped, too_old, no_consent, consent_denied, no_match, policy_none, original_not_sent, no_original, currency_mismatch, partial_not_retracted, full_refund_skipped), and which identifiers made the match (click ids, email, phone; original for an adjustment; always for the own endpoint)';

-- The payload a destination gets for a conversion, built now whatever the
-- routing gates say: for checking a destination's setup and for tests.
CREATE FUNCTION attribution.build_payload(destination_id int, conversion_id bigint,
                                          kind text DEFAULT 'conversion')
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c attribution.conversions;
    o attribution.conversions;
    d attribution.destinations;
    r record;
BEGIN
    IF build_payload.kind IS NULL OR build_payload.kind NOT IN ('conversion', 'adjustment') THEN
        RAISE EXCEPTION 'kind "%" is not conversion or adjustment', build_payload.kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO d FROM attribution.destinations x WHERE x.id = build_payload.destination_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'destination % does not exist', build_payload.destination_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO c FROM attribution.conversions x WHERE x.id = build_payload.conversion_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'conversion % does not exist', build_payload.conversion_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF attribution._is_adjustment(c.kind, c.value_minor) <> (build_payload.kind = 'adjustment') THEN
        RAISE EXCEPTION 'conversion % is not of kind %', c.id, build_payload.kind
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Refunds, chargebacks, reversals and negative values are adjustments; other conversions are conversions.';
    END IF;
    IF build_payload.kind = 'adjustment' THEN
        SELECT * INTO o FROM attribution.conversions x
         WHERE x.id = attribution._original_conversion(c.id);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'adjustment % refers to no conversion that can be found', c.id
                USING ERRCODE = 'no_data_found',
                      HINT = 'The billing event''s details must name the original invoice, transaction or charge.';
        END IF;
    END IF;
    r := attribution._route_decision(d, c, o, pg_catalog.now(), false);
    IF r.decision <> 'routed' THEN
        RAISE EXCEPTION 'destination "%" sends no % for conversion %', d.name, build_payload.kind, c.id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Routing decision: %s.', r.decision);
    END IF;
    RETURN attribution._render_payload(r.facts);
END
$fn$;
COMMENT ON FUNCTION attribution.build_payload(int, bigint, text) IS 'The platform event element a destination gets for a conversion or adjustment, built now without the routing gates';

-- Triggers: route at insert; route again when a conversion's user changes
-- (identity merge), when a visitor is linked to a user (new touches may now
-- qualify), and carry a customer's new user onto the customer's conversions.
CREATE FUNCTION attribution._conversions_route_trigger()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM attribution._route_conversion(NEW.id);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER conversions_route
    AFTER INSERT ON attribution.conversions
    FOR EACH ROW EXECUTE FUNCTION attribution._conversions_route_trigger();
CREATE TRIGGER conversions_reroute
    AFTER UPDATE OF user_id ON attribution.conversions
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION attribution._conversions_route_trigger();

-- Route again the conversions of a user (or of a billing customer) recent
-- enough for some enabled destination: what the user's new identity, e-mail
-- or consent now lets a destination claim.  Returns the rows written.
CREATE FUNCTION attribution._route_recent(p_user text, p_provider text DEFAULT NULL,
                                          p_customer text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    oldest timestamptz;
    cid bigint;
    n integer := 0;
BEGIN
    SELECT pg_catalog.now() - max(greatest(d.max_event_age, d.adjustment_max_age)) INTO oldest
      FROM attribution.destinations d WHERE d.enabled;
    IF oldest IS NULL THEN
        RETURN 0;
    END IF;
    FOR cid IN SELECT c.id FROM attribution.conversions c
                WHERE c.user_id = p_user AND c.occurred_at >= oldest
               UNION
               SELECT c.id FROM attribution.conversions c
                WHERE c.provider = p_provider AND c.customer_id = p_customer AND c.occurred_at >= oldest
               ORDER BY 1 LOOP
        n := n + attribution._route_conversion(cid);
    END LOOP;
    RETURN n;
END
$fn$;

-- A visitor newly linked to a user: the visitor's touches may carry the
-- click a destination needs.
CREATE FUNCTION attribution._identities_route_trigger()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM attribution._route_recent(NEW.user_id);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER identities_route
    AFTER INSERT ON attribution.identities
    FOR EACH ROW EXECUTE FUNCTION attribution._identities_route_trigger();

-- A customer linked to a user (or to another one): the customer's
-- conversions become the user's, which routes them again; a customer whose
-- e-mail became known routes its recent conversions again too.
CREATE FUNCTION attribution._customers_user_trigger()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE attribution.conversions c
       SET user_id = NEW.user_id
     WHERE c.provider = NEW.provider AND c.customer_id = NEW.customer_id
       AND c.user_id IS DISTINCT FROM NEW.user_id;
    IF (NEW.email_sha256 IS NOT NULL OR NEW.phone_sha256 IS NOT NULL)
       AND (TG_OP = 'INSERT' OR OLD.email_sha256 IS DISTINCT FROM NEW.email_sha256
            OR OLD.phone_sha256 IS DISTINCT FROM NEW.phone_sha256) THEN
        PERFORM attribution._route_recent(NULL, NEW.provider, NEW.customer_id);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER customers_user_to_conversions
    AFTER INSERT OR UPDATE OF user_id, email_sha256, phone_sha256 ON attribution.customers
    FOR EACH ROW EXECUTE FUNCTION attribution._customers_user_trigger();

-- Consent and predicted LTV, written by the application.
CREATE FUNCTION attribution.set_consent(user_id text, ad_user_data boolean,
                                        ad_personalization boolean DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF set_consent.user_id IS NULL OR set_consent.user_id = '' THEN
        RAISE EXCEPTION 'user_id must be given' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM attribution._check_identifier('user_id', set_consent.user_id);
    INSERT INTO attribution.consents AS s (user_id, ad_user_data, ad_personalization)
    VALUES (set_consent.user_id, set_consent.ad_user_data, set_consent.ad_personalization)
    ON CONFLICT ON CONSTRAINT consents_pkey DO UPDATE
       SET ad_user_data = EXCLUDED.ad_user_data,
           ad_personalization = EXCLUDED.ad_personalization,
           updated_at = pg_catalog.now();
    -- rows not sent yet carry the new state where the payload states it:
    -- they are built again by their platform's module
    UPDATE attribution.outbox o
       SET payload = coalesce(attribution._render_payload(
                         (attribution._route_decision(d, c, NULL::attribution.conversions,
                                                      pg_catalog.now(), false)).facts), o.payload)
      FROM attribution.destinations d, attribution.conversions c, attribution.platforms p
     WHERE d.id = o.destination_id AND c.id = o.conversion_id
       AND p.platform = d.platform AND p.transport = d.transport AND p.carries_consent
       AND c.user_id = set_consent.user_id
       AND o.kind = 'conversion' AND o.status IN ('pending', 'retry');
    IF set_consent.ad_user_data THEN
        -- destinations that waited for consent may claim recent conversions
        PERFORM attribution._route_recent(set_consent.user_id);
    ELSIF set_consent.ad_user_data IS FALSE THEN
        -- what has not gone out yet no longer goes where routing would now
        -- refuse it (rows whose payload states consent stay)
        DELETE FROM attribution.outbox o
         USING attribution.destinations d, attribution.conversions c, attribution.platforms p
         WHERE d.id = o.destination_id AND c.id = o.conversion_id
           AND p.platform = d.platform AND p.transport = d.transport
           AND c.user_id = set_consent.user_id
           AND o.status IN ('pending', 'retry')
           AND (d.require_consent OR p.consent_denied_blocks);
    END IF;
END
$fn$;
COMMENT ON FUNCTION attribution.set_consent(text, boolean, boolean) IS 'Record a user''s consent to ad-platform data use (NULL: unknown). A grant routes the user''s recent conversions again; a denial withdraws their unsent rows from destinations that would now refuse them';

CREATE FUNCTION attribution.set_predicted_ltv(user_id text, value numeric, currency text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF set_predicted_ltv.user_id = '' THEN
        RAISE EXCEPTION 'user_id must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM attribution._check_identifier('user_id', set_predicted_ltv.user_id);
    INSERT INTO attribution.predicted_ltv AS p (user_id, value, currency)
    VALUES (set_predicted_ltv.user_id, set_predicted_ltv.value, upper(set_predicted_ltv.currency))
    ON CONFLICT ON CONSTRAINT predicted_ltv_pkey DO UPDATE
       SET value = EXCLUDED.value, currency = EXCLUDED.currency, updated_at = pg_catalog.now();
END
$fn$;
COMMENT ON FUNCTION attribution.set_predicted_ltv(text, numeric, text) IS 'Record a user''s predicted lifetime value (major units), sent by destinations with value_mode predicted_ltv';

GRANT EXECUTE ON FUNCTION attribution.set_consent(text, boolean, boolean),
                          attribution.set_predicted_ltv(text, numeric, text)
   TO attribution_app, attribution_admin;
GRANT EXECUTE ON FUNCTION attribution.build_payload(int, bigint, text),
                          attribution.explain_routing(bigint)
   TO attribution_admin;
GRANT SELECT ON attribution.consents, attribution.predicted_ltv, attribution.adjustment_links
   TO attribution_admin;
