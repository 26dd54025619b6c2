-- delivery/routing: which destinations may claim each conversion, the
-- payload each of them gets, and the adjustments refunds turn into.
--
-- Routing runs in the transaction that records the conversion (a trigger on
-- attribution.conversions), so a conversion and its outbox rows commit or
-- roll back together.  The decision and the facts a payload is built from
-- are gathered here in SQL; attribution._render_payload (payload.c and the
-- build_*.c files) writes the element in the platform's format.

COMMENT ON COLUMN attribution.destinations.account IS 'Platform account fields: google_ads {customer_id, conversion_action (default action), login_customer_id, api_version}; meta {pixel_id, api_version, test_event_code, action_source, event_source_url}; tiktok {event_source, event_source_id, test_event_code, page_url}; linkedin {conversion_rule (default rule), linkedin_version}; webhook {signing}';
COMMENT ON COLUMN attribution.destinations.kind_map IS 'Lifecycle kind -> event name (Meta, TikTok, webhook), conversion action id (Google) or conversion rule id (LinkedIn); true = the standard event or the account default; empty = every payment kind as true. Keys refund/chargeback/chargeback_reversed name the event of an adjustment';
COMMENT ON COLUMN attribution.destinations.adjustment_policy IS 'Refunds, chargebacks, negative downgrades: google_ads none | retract (full refunds) | restate (RETRACTION or RESTATEMENT); others none | negative_event (own event, negative value) | custom_event (own event, refunded amount positive)';
COMMENT ON COLUMN attribution.destinations.adjustment_max_age IS 'Google Ads: oldest original conversion an adjustment may still refer to (54 days); other platforms: the age limit of adjustment events (as max_event_age)';

-- Columns the delivery worker reads, added to the shared outbox table.
ALTER TABLE attribution.outbox
    ADD COLUMN queued_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN attribution.outbox.queued_at IS 'When the row last became pending: at insert, replay() or retry_dead(); the retry window runs from here';
COMMENT ON COLUMN attribution.outbox.kind IS 'conversion: a new conversion (Google: element of uploadClickConversions); adjustment: a refund, chargeback or downgrade (Google: element of uploadConversionAdjustments; others: an event of the negative_event or custom_event policy)';
COMMENT ON COLUMN attribution.outbox.event_time IS 'Time the platform measures the event''s age from: the conversion time, for a Google adjustment the original conversion''s time (adjustment_max_age), for other adjustments the refund time (max_event_age)';
COMMENT ON COLUMN attribution.outbox.payload IS
'One event element exactly as the platform takes it inside its batch; the worker wraps elements in the request envelope. '
'google_ads, kind conversion: a ClickConversion {gclid|gbraid|wbraid, conversionAction "customers/{cid}/conversionActions/{id}", conversionDateTime "yyyy-mm-dd hh:mm:ss+00:00", conversionValue, currencyCode, orderId, userIdentifiers[{userIdentifierSource FIRST_PARTY, hashedEmail}], consent{adUserData, adPersonalization}} for {"conversions":[...],"partialFailure":true}; '
'google_ads, kind adjustment: a ConversionAdjustment {conversionAction, adjustmentType RETRACTION|RESTATEMENT, adjustmentDateTime, orderId, restatementValue{adjustedValue, currencyCode} (RESTATEMENT only)} for {"conversionAdjustments":[...],"partialFailure":true}; '
'meta: one element of data[] {event_name, event_time, event_id, action_source, event_source_url?, user_data{em[], external_id[], fbc, fbp, client_ip_address, client_user_agent}, custom_data{value, currency, predicted_ltv?, order_id}}; '
'tiktok: one element of data[] {event, event_time, event_id, user{ttclid, ttp, email[], external_id[], ip, user_agent}, properties{value, currency, order_id, content_type}, page{url}?}; '
'linkedin: one element of elements[] {conversion "urn:lla:llaPartnerConversion:{id}", conversionHappenedAt (ms), conversionValue{currencyCode, amount (string)}, eventId, user{userIds[{idType, idValue}]}}; '
'webhook: {id, type conversion|adjustment, kind, event, occurred_at (RFC 3339 UTC), conversion_id, provider, order_id, value, currency, ltv, predicted_ltv?, user{id, external_id_sha256, email_sha256, ip, user_agent}, click_ids{gclid, gbraid, wbraid, fbc, fbp, ttclid, ttp, li_fat_id}, consent{ad_user_data, ad_personalization}}, posted one object per request. '
'Absent values are left out. Values are major units written with at least one decimal (29.0, 14.5).';

-- The billing event a refund refers to is found by its provider object id:
-- the refund's parent_object_id (the payment it takes money back from, as
-- the ingest normalisers record it) matched against the payments' object_id
-- or their own parent_object_id (a charge or payment intent of an invoice).
-- The ingest ledger declares parent_object_id; a ledger without it gets it
-- here, unused by ingest.
DO $ledger$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                    WHERE attrelid = 'attribution.billing_events'::regclass
                      AND attname = 'parent_object_id' AND NOT attisdropped) THEN
        ALTER TABLE attribution.billing_events ADD COLUMN parent_object_id text;
        COMMENT ON COLUMN attribution.billing_events.parent_object_id IS 'For refunds and chargebacks: the provider id of the payment they take money back from (charge, transaction, order, invoice)';
        CREATE INDEX billing_events_parent_idx ON attribution.billing_events (provider, parent_object_id)
            WHERE parent_object_id IS NOT NULL;
    END IF;
END
$ledger$;
CREATE INDEX billing_events_object_idx
    ON attribution.billing_events (provider, object_id) WHERE object_id IS NOT NULL;

-- Consent per user, as the application's consent banner or account
-- settings record it.  Unknown (no row, or NULL) differs from denied.
CREATE TABLE attribution.consents (
    user_id             text PRIMARY KEY CHECK (user_id <> ''),
    ad_user_data        boolean,
    ad_personalization  boolean,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE attribution.consents IS 'Per user consent to sending user data to ad platforms (ad_user_data) and to ad personalisation; NULL is unknown';
COMMENT ON COLUMN attribution.consents.ad_user_data IS 'true granted, false denied, NULL unknown. Denied: never routed to meta, tiktok, linkedin; Google gets consent.adUserData DENIED. Destinations with require_consent need true';

-- A predicted lifetime value per user, written by whatever model the
-- company runs; sent by destinations whose value_mode is predicted_ltv.
CREATE TABLE attribution.predicted_ltv (
    user_id             text PRIMARY KEY CHECK (user_id <> ''),
    value               numeric NOT NULL CHECK (value >= 0),
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE attribution.predicted_ltv IS 'Predicted lifetime value per user in major units, for destinations with value_mode predicted_ltv';

-- Which conversion each refund, chargeback or downgrade adjusts.
CREATE TABLE attribution.adjustment_links (
    adjustment_id       bigint PRIMARY KEY REFERENCES attribution.conversions (id) ON DELETE CASCADE,
    original_id         bigint NOT NULL REFERENCES attribution.conversions (id) ON DELETE CASCADE,
    linked_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (adjustment_id <> original_id)
);
CREATE INDEX adjustment_links_original_idx ON attribution.adjustment_links (original_id);
COMMENT ON TABLE attribution.adjustment_links IS 'Refund, chargeback or downgrade conversion -> the original conversion it adjusts (found by provider object id)';

SELECT pg_catalog.pg_extension_config_dump('attribution.consents', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.predicted_ltv', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.adjustment_links', '');

-- Everything a payload builder needs, resolved by routing.
CREATE TYPE attribution._payload_facts AS (
    platform            text,
    kind                text,
    lifecycle           text,
    target              text,
    account_id          text,
    dedup_key           text,
    order_id            text,
    event_time          timestamptz,
    value               numeric,
    currency            text,
    predicted_ltv       numeric,
    ltv                 numeric,
    adjustment_type     text,
    email_sha256        text,
    external_id_sha256  text,
    gclid               text,
    gbraid              text,
    wbraid              text,
    fbc                 text,
    fbp                 text,
    ttclid              text,
    ttp                 text,
    li_fat_id           text,
    ip                  text,
    user_agent          text,
    ad_user_data        boolean,
    ad_personalization  boolean,
    action_source       text,
    source_url          text,
    user_id             text,
    provider            text,
    conversion_id       bigint
);
COMMENT ON TYPE attribution._payload_facts IS 'The facts one outbox payload is built from (see _render_payload)';

CREATE FUNCTION attribution._render_payload(facts attribution._payload_facts)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'attr_render_payload'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution._render_payload(attribution._payload_facts) IS 'One platform event element, written by the C builder of facts.platform';

-- Minor units to major units: ISO 4217 exponents, 2 unless listed.
CREATE FUNCTION attribution._minor_to_major(minor bigint, currency text)
RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT CASE
        WHEN currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF',
                          'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF')
            THEN minor::numeric
        WHEN currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND')
            THEN minor::numeric / 1000
        ELSE minor::numeric / 100
    END
$fn$;

-- Whether a conversion is an adjustment of an earlier one rather than a
-- conversion of its own.
CREATE FUNCTION attribution._is_adjustment(kind text, value_minor bigint)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT kind IN ('refund', 'chargeback', 'chargeback_reversed') OR coalesce(value_minor < 0, false)
$fn$;

-- The platform's standard event for a lifecycle kind, used where kind_map
-- says true or (Meta, TikTok, webhook) is empty.  Google actions and
-- LinkedIn rules are ids only the account knows, so they have no default.
CREATE FUNCTION attribution._default_event(platform text, kind text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE
        WHEN platform IN ('meta', 'tiktok') THEN
            CASE kind
                WHEN 'trial_started' THEN 'StartTrial'
                WHEN 'subscription_started' THEN 'Subscribe'
                WHEN 'renewal' THEN CASE platform WHEN 'meta' THEN 'Purchase' ELSE 'CompletePayment' END
                WHEN 'upgrade' THEN CASE platform WHEN 'meta' THEN 'Purchase' ELSE 'CompletePayment' END
                WHEN 'downgrade' THEN CASE platform WHEN 'meta' THEN 'Purchase' ELSE 'CompletePayment' END
                WHEN 'reactivated' THEN CASE platform WHEN 'meta' THEN 'Purchase' ELSE 'CompletePayment' END
                WHEN 'one_time_purchase' THEN CASE platform WHEN 'meta' THEN 'Purchase' ELSE 'CompletePayment' END
            END
        WHEN platform = 'webhook' THEN kind
    END
$fn$;

-- The custom event an adjustment is sent as on platforms without a
-- retraction (policies negative_event and custom_event), unless kind_map
-- names one for refund, chargeback or chargeback_reversed.
CREATE FUNCTION attribution._adjustment_event(platform text, kind text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE
        WHEN platform = 'webhook' THEN kind
        WHEN platform IN ('meta', 'tiktok') THEN
            CASE kind
                WHEN 'refund' THEN 'Refund'
                WHEN 'chargeback' THEN 'Chargeback'
                WHEN 'chargeback_reversed' THEN 'ChargebackReversed'
                ELSE 'Downgrade'
            END
    END
$fn$;

-- The event name, conversion action id or rule id a destination sends a
-- lifecycle kind as; NULL when the destination does not take that kind.
-- kind_map values: a string or number (the name or id), true (the
-- platform's standard event; for Google Ads the account's
-- conversion_action, for LinkedIn its conversion_rule), false or null (not
-- sent).  An empty kind_map sends every payment kind as true would.
-- What true in kind_map (or an empty kind_map) means for a payment kind:
-- the platform's standard event, or the account's default conversion
-- action (Google Ads) or conversion rule (LinkedIn).
CREATE FUNCTION attribution._standard_target(d attribution.destinations, kind text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT CASE d.platform
        WHEN 'google_ads' THEN CASE WHEN kind IN ('trial_started', 'subscription_started', 'renewal', 'upgrade',
                                                  'downgrade', 'reactivated', 'one_time_purchase')
                                    THEN nullif(d.account ->> 'conversion_action', '') END
        WHEN 'linkedin' THEN CASE WHEN kind IN ('trial_started', 'subscription_started', 'renewal', 'upgrade',
                                                'downgrade', 'reactivated', 'one_time_purchase')
                                  THEN nullif(d.account ->> 'conversion_rule', '') END
        ELSE attribution._default_event(d.platform, kind)
    END
$fn$;

CREATE FUNCTION attribution._kind_target(d attribution.destinations, kind text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT CASE
        WHEN d.kind_map -> kind IS NULL OR jsonb_typeof(d.kind_map -> kind) = 'null' THEN
            CASE WHEN d.kind_map = '{}'::jsonb AND NOT attribution._is_adjustment(kind, NULL)
                 THEN attribution._standard_target(d, kind) END
        WHEN jsonb_typeof(d.kind_map -> kind) = 'boolean' THEN
            CASE WHEN d.kind_map -> kind = 'true'::jsonb THEN attribution._standard_target(d, kind) END
        WHEN jsonb_typeof(d.kind_map -> kind) = 'string' THEN nullif(d.kind_map ->> kind, '')
        WHEN jsonb_typeof(d.kind_map -> kind) = 'number' THEN (d.kind_map -> kind)::text
    END
$fn$;

-- The de-duplication key of a billing event: the provider's object id
-- (invoice, transaction, order), else its fact key.
CREATE FUNCTION attribution._dedup_key(billing_event_id bigint)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT coalesce(nullif(b.object_id, ''), b.fact_key)
      FROM attribution.billing_events b WHERE b.id = billing_event_id
$fn$;

-- The conversion a refund, chargeback or downgrade adjusts: a payment of
-- the same provider whose object id (or parent object id) the adjustment's
-- billing event names -- its parent_object_id, its own object_id, or the
-- details keys original_object_id, invoice_id, invoice, transaction_id,
-- order_id, charge_id, charge, payment_intent_id, payment_intent -- else a
-- payment of the same customer whose details carry one of those ids.  The
-- earliest such payment wins; NULL when none is found (nothing is routed).
CREATE FUNCTION attribution._original_conversion(adjustment_id bigint)
RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $fn$
    WITH a AS (
        SELECT c.id, c.provider, c.customer_id, b.object_id, b.parent_object_id, b.details
          FROM attribution.conversions c
          JOIN attribution.billing_events b ON b.id = c.billing_event_id
         WHERE c.id = adjustment_id
    ), refs AS (
        SELECT DISTINCT r.ref
          FROM a, LATERAL (VALUES (a.parent_object_id), (a.details ->> 'original_object_id'),
                                  (a.details ->> 'invoice_id'), (a.details ->> 'invoice'),
                                  (a.details ->> 'transaction_id'), (a.details ->> 'order_id'),
                                  (a.details ->> 'charge_id'), (a.details ->> 'charge'),
                                  (a.details ->> 'payment_intent_id'), (a.details ->> 'payment_intent'),
                                  (a.object_id)) r(ref)
         WHERE r.ref IS NOT NULL AND r.ref <> ''
    ), by_id AS (
        SELECT ob.id FROM a, attribution.billing_events ob
         WHERE ob.provider = a.provider AND ob.object_id IN (SELECT ref FROM refs)
        UNION
        SELECT ob.id FROM a, attribution.billing_events ob
         WHERE ob.provider = a.provider AND ob.parent_object_id IN (SELECT ref FROM refs)
    )
    SELECT coalesce(
        (SELECT oc.id
           FROM a, by_id
           JOIN attribution.conversions oc ON oc.billing_event_id = by_id.id
          WHERE oc.id <> a.id AND NOT attribution._is_adjustment(oc.kind, oc.value_minor)
          ORDER BY oc.occurred_at, oc.id LIMIT 1),
        (SELECT oc.id
           FROM a
           JOIN attribution.conversions oc ON oc.provider = a.provider AND oc.customer_id = a.customer_id
           JOIN attribution.billing_events ob ON ob.id = oc.billing_event_id
          WHERE oc.id <> a.id AND NOT attribution._is_adjustment(oc.kind, oc.value_minor)
            AND EXISTS (SELECT 1 FROM refs
                         WHERE refs.ref IN (ob.details ->> 'invoice_id', ob.details ->> 'invoice',
                                            ob.details ->> 'transaction_id', ob.details ->> 'order_id',
                                            ob.details ->> 'charge_id', ob.details ->> 'charge',
                                            ob.details ->> 'payment_intent_id', ob.details ->> 'payment_intent'))
          ORDER BY oc.occurred_at, oc.id LIMIT 1))
$fn$;

-- The touches of a user: those recorded for the user and those of the
-- user's visitors not yet assigned (identify() assigns them).
CREATE FUNCTION attribution._user_touches(p_user text)
RETURNS SETOF attribution.touchpoints
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT t.* FROM attribution.touchpoints t WHERE t.user_id = p_user
    UNION ALL
    SELECT t.* FROM attribution.touchpoints t
     WHERE t.user_id IS NULL
       AND t.visitor_id IN (SELECT i.visitor_id FROM attribution.identities i WHERE i.user_id = p_user)
$fn$;

-- The click ids of a user's touches whose click falls within [p_at -
-- p_window, p_at], the most recent of each kind (by click time: the cookie
-- or landing time the touch records); gbraid and wbraid come as one (the
-- more recent; gbraid when one touch has both), since Google takes one
-- click id per conversion and prefers a gclid.  IP and user agent are
-- those of the latest touch at or before p_at.  PL/pgSQL so that its plans
-- are kept for the session: routing runs it for every destination of every
-- conversion, in one pass over the user's touches near p_at.
CREATE FUNCTION attribution._click_facts(p_user text, p_at timestamptz, p_window interval,
    OUT gclid text, OUT gbraid text, OUT wbraid text, OUT fbc text, OUT fbp text,
    OUT ttclid text, OUT ttp text, OUT li_fat_id text, OUT ip text, OUT user_agent text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $fn$
DECLARE
    lo timestamptz := p_at - p_window;
    t record;
    last_at timestamptz;
    last_id bigint;
    -- best (time, id) so far per click id kind
    gclid_t timestamptz; gclid_i bigint;
    braid_t timestamptz; braid_i bigint; braid_pref int;
    fbc_t timestamptz; fbc_i bigint;
    fbp_t timestamptz; fbp_i bigint;
    ttclid_t timestamptz; ttclid_i bigint;
    ttp_t timestamptz; ttp_i bigint;
    li_t timestamptz; li_i bigint;
BEGIN
    IF p_user IS NULL THEN
        RETURN;
    END IF;
    -- a touch recorded up to a day after its click still carries it
    FOR t IN
        SELECT u.id, u.occurred_at, u.gclid AS g, coalesce(u.gclid_at, u.occurred_at) AS g_at,
               u.gbraid AS gb, coalesce(u.gbraid_at, u.occurred_at) AS gb_at, u.wbraid AS wb,
               u.fbc AS c, coalesce(u.fbc_at, u.occurred_at) AS c_at, u.fbp AS p,
               u.ttclid AS tt, coalesce(u.clicked_at, u.occurred_at) AS tt_at, u.ttp AS tp,
               u.li_fat_id AS li, host(u.ip) AS addr, u.user_agent AS ua
          FROM attribution._user_touches(p_user) u
         WHERE u.occurred_at >= lo - interval '1 day' AND u.occurred_at <= p_at + interval '1 day'
    LOOP
        IF t.occurred_at <= p_at AND (last_at IS NULL OR (t.occurred_at, t.id) > (last_at, last_id)) THEN
            last_at := t.occurred_at; last_id := t.id;
            ip := t.addr; user_agent := t.ua;
        END IF;
        IF t.g IS NOT NULL AND t.g_at BETWEEN lo AND p_at
           AND (gclid_t IS NULL OR (t.g_at, t.id) > (gclid_t, gclid_i)) THEN
            gclid := t.g; gclid_t := t.g_at; gclid_i := t.id;
        END IF;
        IF t.gb IS NOT NULL AND t.gb_at BETWEEN lo AND p_at
           AND (braid_t IS NULL OR t.gb_at > braid_t OR (t.gb_at = braid_t AND (0 < braid_pref OR (braid_pref = 0 AND t.id > braid_i)))) THEN
            gbraid := t.gb; wbraid := NULL; braid_t := t.gb_at; braid_i := t.id; braid_pref := 0;
        END IF;
        IF t.wb IS NOT NULL AND t.occurred_at BETWEEN lo AND p_at
           AND (braid_t IS NULL OR t.occurred_at > braid_t OR (t.occurred_at = braid_t AND braid_pref = 1 AND t.id > braid_i)) THEN
            wbraid := t.wb; gbraid := NULL; braid_t := t.occurred_at; braid_i := t.id; braid_pref := 1;
        END IF;
        IF t.c IS NOT NULL AND t.c_at BETWEEN lo AND p_at
           AND (fbc_t IS NULL OR (t.c_at, t.id) > (fbc_t, fbc_i)) THEN
            fbc := t.c; fbc_t := t.c_at; fbc_i := t.id;
        END IF;
        IF t.p IS NOT NULL AND t.occurred_at BETWEEN lo AND p_at
           AND (fbp_t IS NULL OR (t.occurred_at, t.id) > (fbp_t, fbp_i)) THEN
            fbp := t.p; fbp_t := t.occurred_at; fbp_i := t.id;
        END IF;
        IF t.tt IS NOT NULL AND t.tt_at BETWEEN lo AND p_at
           AND (ttclid_t IS NULL OR (t.tt_at, t.id) > (ttclid_t, ttclid_i)) THEN
            ttclid := t.tt; ttclid_t := t.tt_at; ttclid_i := t.id;
        END IF;
        IF t.tp IS NOT NULL AND t.occurred_at BETWEEN lo AND p_at
           AND (ttp_t IS NULL OR (t.occurred_at, t.id) > (ttp_t, ttp_i)) THEN
            ttp := t.tp; ttp_t := t.occurred_at; ttp_i := t.id;
        END IF;
        IF t.li IS NOT NULL AND t.occurred_at BETWEEN lo AND p_at
           AND (li_t IS NULL OR (t.occurred_at, t.id) > (li_t, li_i)) THEN
            li_fat_id := t.li; li_t := t.occurred_at; li_i := t.id;
        END IF;
    END LOOP;
    IF last_at IS NULL THEN
        -- no touch near the conversion: the latest one before it
        SELECT host(u.ip), u.user_agent INTO ip, user_agent
          FROM attribution._user_touches(p_user) u
         WHERE u.occurred_at <= p_at
         ORDER BY u.occurred_at DESC, u.id DESC LIMIT 1;
    END IF;
END
$fn$;

-- The user's e-mail hashes: those of the billing customer that paid,
-- else of any customer linked to the user (the latest linked).
CREATE FUNCTION attribution._email_hashes(c attribution.conversions,
    OUT email_sha256 text, OUT email_sha256_google text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $fn$
BEGIN
    IF c.customer_id IS NOT NULL THEN
        SELECT k.email_sha256, k.email_sha256_google INTO email_sha256, email_sha256_google
          FROM attribution.customers k
         WHERE k.provider = c.provider AND k.customer_id = c.customer_id;
    END IF;
    IF email_sha256 IS NULL AND c.user_id IS NOT NULL THEN
        SELECT k.email_sha256, k.email_sha256_google INTO email_sha256, email_sha256_google
          FROM attribution.customers k
         WHERE k.user_id = c.user_id AND k.email_sha256 IS NOT NULL
         ORDER BY k.updated_at DESC, k.provider, k.customer_id
         LIMIT 1;
    END IF;
END
$fn$;

-- The value a conversion is sent with under the destination's value_mode.
CREATE FUNCTION attribution._send_value(d attribution.destinations, c attribution.conversions)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT CASE
        WHEN d.value_mode = 'ltv' THEN attribution._minor_to_major(c.ltv_minor, c.currency)
        WHEN d.value_mode = 'predicted_ltv' AND d.platform NOT IN ('meta', 'webhook') THEN
            coalesce((SELECT p.value FROM attribution.predicted_ltv p
                       WHERE p.user_id = c.user_id AND p.currency = c.currency), c.value)
        ELSE c.value
    END
$fn$;

-- Decide whether destination d may claim conversion c (an adjustment when
-- o, the conversion it adjusts, is given) at time p_now, and gather the
-- facts of its payload.  decision is 'routed' or the reason it is not.
-- p_check false (build_payload) skips the gates and keeps only what the
-- payload itself needs.
CREATE FUNCTION attribution._route_decision(d attribution.destinations, c attribution.conversions,
    o attribution.conversions, p_now timestamptz, p_check boolean,
    OUT decision text, OUT facts attribution._payload_facts)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    adj boolean := o.id IS NOT NULL;
    basis attribution.conversions := CASE WHEN o.id IS NOT NULL THEN o ELSE c END;
    f attribution._payload_facts;
    k record;
    e record;
    consent_data boolean;
    consent_pers boolean;
    sent numeric;
    adjusted numeric;
    matched boolean;
BEGIN
    facts := NULL;
    IF p_check AND NOT d.enabled THEN
        decision := 'disabled';
        RETURN;
    END IF;

    f.platform := d.platform;
    f.kind := CASE WHEN adj THEN 'adjustment' ELSE 'conversion' END;
    f.lifecycle := c.kind;
    f.conversion_id := c.id;
    f.currency := c.currency;

    -- what the destination sends this kind as
    IF NOT adj THEN
        f.target := attribution._kind_target(d, c.kind);
    ELSIF d.platform = 'google_ads' THEN
        f.target := attribution._kind_target(d, o.kind);
    ELSIF d.platform = 'linkedin' THEN
        f.target := coalesce(attribution._kind_target(d, c.kind), attribution._kind_target(d, o.kind));
    ELSE
        f.target := coalesce(CASE WHEN c.kind IN ('refund', 'chargeback', 'chargeback_reversed')
                                  THEN attribution._kind_target(d, c.kind) END,
                             attribution._adjustment_event(d.platform, c.kind));
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

    -- Google measures an adjustment's age from the conversion it adjusts;
    -- on the other platforms it is an event of its own
    IF p_check THEN
        IF adj AND d.platform = 'google_ads' THEN
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
    IF p_check AND consent_data IS FALSE AND d.platform IN ('meta', 'tiktok', 'linkedin') THEN
        decision := 'consent_denied';
        RETURN;
    END IF;

    -- keys and values
    IF adj THEN
        f.dedup_key := (SELECT b.fact_key FROM attribution.billing_events b WHERE b.id = c.billing_event_id);
        f.order_id := attribution._dedup_key(o.billing_event_id);
    ELSE
        f.dedup_key := attribution._dedup_key(c.billing_event_id);
        f.order_id := f.dedup_key;
    END IF;
    f.event_time := c.occurred_at;

    IF NOT adj THEN
        f.value := attribution._send_value(d, c);
    ELSIF d.platform = 'google_ads' THEN
        IF d.adjustment_policy NOT IN ('retract', 'restate') THEN
            decision := 'policy_none';
            RETURN;
        END IF;
        -- the value Google holds, then every adjustment up to this one
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
            f.adjustment_type := 'RETRACTION';
        ELSIF d.adjustment_policy = 'retract' THEN
            decision := 'partial_not_retracted';
            RETURN;
        ELSE
            f.adjustment_type := 'RESTATEMENT';
            f.value := adjusted;
        END IF;
        -- Google ignores an adjustment that does not follow the conversion
        f.event_time := greatest(c.occurred_at, o.occurred_at + interval '1 second');
    ELSIF d.adjustment_policy = 'negative_event' THEN
        f.value := c.value;
    ELSIF d.adjustment_policy = 'custom_event' THEN
        f.value := abs(c.value);
    ELSE
        decision := 'policy_none';
        RETURN;
    END IF;

    -- identity: click ids within the window before the (original) conversion
    SELECT * INTO k FROM attribution._click_facts(basis.user_id, basis.occurred_at, d.click_window);
    SELECT * INTO e FROM attribution._email_hashes(basis);
    CASE d.platform
        WHEN 'google_ads' THEN
            f.account_id := regexp_replace(coalesce(d.account ->> 'customer_id', ''), '[^0-9]', '', 'g');
            IF NOT adj THEN
                f.gclid := k.gclid;
                IF f.gclid IS NULL THEN
                    f.gbraid := k.gbraid;
                    f.wbraid := k.wbraid;
                END IF;
                f.email_sha256 := e.email_sha256_google;
                f.ad_user_data := consent_data;
                f.ad_personalization := consent_pers;
            END IF;
            matched := adj OR k.gclid IS NOT NULL OR k.gbraid IS NOT NULL OR k.wbraid IS NOT NULL;
        WHEN 'meta' THEN
            f.fbc := k.fbc;
            f.fbp := k.fbp;
            f.email_sha256 := e.email_sha256;
            f.ip := k.ip;
            f.user_agent := k.user_agent;
            f.action_source := nullif(d.account ->> 'action_source', '');
            f.source_url := nullif(d.account ->> 'event_source_url', '');
            IF d.value_mode = 'predicted_ltv' AND NOT adj THEN
                f.predicted_ltv := (SELECT p.value FROM attribution.predicted_ltv p
                                     WHERE p.user_id = basis.user_id AND p.currency = c.currency);
            END IF;
            matched := adj OR k.fbc IS NOT NULL OR k.fbp IS NOT NULL OR e.email_sha256 IS NOT NULL;
        WHEN 'tiktok' THEN
            f.ttclid := k.ttclid;
            f.ttp := k.ttp;
            f.email_sha256 := e.email_sha256;
            f.ip := k.ip;
            f.user_agent := k.user_agent;
            f.source_url := nullif(d.account ->> 'page_url', '');
            matched := adj OR k.ttclid IS NOT NULL OR k.ttp IS NOT NULL OR e.email_sha256 IS NOT NULL;
        WHEN 'linkedin' THEN
            f.li_fat_id := k.li_fat_id;
            f.email_sha256 := e.email_sha256;
            matched := adj OR k.li_fat_id IS NOT NULL OR e.email_sha256 IS NOT NULL;
        ELSE
            f.gclid := k.gclid;
            f.gbraid := k.gbraid;
            f.wbraid := k.wbraid;
            f.fbc := k.fbc;
            f.fbp := k.fbp;
            f.ttclid := k.ttclid;
            f.ttp := k.ttp;
            f.li_fat_id := k.li_fat_id;
            f.email_sha256 := e.email_sha256;
            f.ip := k.ip;
            f.user_agent := k.user_agent;
            f.ad_user_data := consent_data;
            f.ad_personalization := consent_pers;
            f.user_id := basis.user_id;
            f.provider := c.provider;
            f.ltv := attribution._minor_to_major(c.ltv_minor, c.currency);
            f.predicted_ltv := (SELECT p.value FROM attribution.predicted_ltv p
                                 WHERE p.user_id = basis.user_id AND p.currency = c.currency);
            matched := true;
    END CASE;
    IF d.platform IN ('meta', 'tiktok', 'webhook') AND basis.user_id IS NOT NULL THEN
        f.external_id_sha256 := encode(sha256(convert_to(basis.user_id, 'UTF8')), 'hex');
    END IF;

    IF p_check AND NOT matched THEN
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
                CASE WHEN (r.facts).kind = 'adjustment' AND d.platform = 'google_ads'
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
RETURNS TABLE (destination text, platform text, kind text, decision text)
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
        IF adj AND o.id IS NULL THEN
            decision := 'no_original';
        ELSE
            r := attribution._route_decision(d, c, o, pg_catalog.now(), true);
            decision := r.decision;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION attribution.explain_routing(bigint) IS 'Per destination, whether the conversion would be routed now, or why not (disabled, kind_not_mapped, too_old, no_consent, consent_denied, no_match, policy_none, original_not_sent, no_original, currency_mismatch, partial_not_retracted)';

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

-- Conversions recent enough for some destination are re-routed when one of
-- the user's visitors is newly linked.
CREATE FUNCTION attribution._identities_route_trigger()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    oldest timestamptz;
    cid bigint;
BEGIN
    SELECT pg_catalog.now() - max(greatest(d.max_event_age, d.adjustment_max_age)) INTO oldest
      FROM attribution.destinations d WHERE d.enabled;
    IF oldest IS NULL THEN
        RETURN NULL;
    END IF;
    FOR cid IN SELECT c.id FROM attribution.conversions c
                WHERE c.user_id = NEW.user_id AND c.occurred_at >= oldest
                ORDER BY c.occurred_at, c.id LOOP
        PERFORM attribution._route_conversion(cid);
    END LOOP;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER identities_route
    AFTER INSERT ON attribution.identities
    FOR EACH ROW EXECUTE FUNCTION attribution._identities_route_trigger();

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
    RETURN NULL;
END
$fn$;

CREATE TRIGGER customers_user_to_conversions
    AFTER INSERT OR UPDATE OF user_id ON attribution.customers
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
    INSERT INTO attribution.consents AS s (user_id, ad_user_data, ad_personalization)
    VALUES (set_consent.user_id, set_consent.ad_user_data, set_consent.ad_personalization)
    ON CONFLICT ON CONSTRAINT consents_pkey DO UPDATE
       SET ad_user_data = EXCLUDED.ad_user_data,
           ad_personalization = EXCLUDED.ad_personalization,
           updated_at = pg_catalog.now();
END
$fn$;
COMMENT ON FUNCTION attribution.set_consent(text, boolean, boolean) IS 'Record a user''s consent to ad-platform data use (NULL: unknown); applies to conversions routed from now on';

CREATE FUNCTION attribution.set_predicted_ltv(user_id text, value numeric, currency text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF set_predicted_ltv.user_id = '' THEN
        RAISE EXCEPTION 'user_id must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
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
