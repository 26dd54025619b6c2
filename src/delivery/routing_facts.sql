-- delivery/routing_facts: what routing decides from -- consent, predicted
-- lifetime values, the links from refunds to the payments they adjust,
-- the facts a payload is built from -- and the helpers that gather them:
-- the user's click ids within a window, hashed e-mails, the kind map, the
-- de-duplication key, the original of an adjustment.  routing.sql decides.

COMMENT ON COLUMN attribution.destinations.account IS 'Platform account fields: google_ads {customer_id, conversion_action (default action), login_customer_id, api_version (ads_api), leads_without_click, full_refund zero_value|skip (data_manager)}; meta {pixel_id, api_version, test_event_code, action_source, event_source_url}; tiktok {event_source, event_source_id, test_event_code, page_url}; linkedin {conversion_rule (default rule), linkedin_version}; webhook {signing}';
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
    transport           text,
    kind                text,
    lifecycle           text,
    target              text,
    account_id          text,
    dedup_key           text,
    order_id            text,
    event_time          timestamptz,
    original_time       timestamptz,
    value               numeric,
    currency            text,
    predicted_ltv       numeric,
    ltv                 numeric,
    adjustment_type     text,
    email_sha256        text,
    email_sha256_google text,
    phone_sha256        text,
    phone_sha256_meta   text,
    ip_sha256           text,
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

-- What true in kind_map (or an empty kind_map) means for a payment kind:
-- the platform's standard event (attribution.platforms.standard_events,
-- or the kind itself where events_are_kinds), or the account's default
-- conversion action or rule (target_account_key).
CREATE FUNCTION attribution._standard_target(d attribution.destinations, kind text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT CASE
        WHEN p.events_are_kinds THEN kind
        WHEN p.target_account_key IS NOT NULL THEN
            CASE WHEN kind IN ('trial_started', 'subscription_started', 'renewal', 'upgrade',
                               'downgrade', 'reactivated', 'one_time_purchase')
                 THEN nullif(d.account ->> p.target_account_key, '') END
        ELSE p.standard_events ->> kind
    END
      FROM attribution.platforms p
     WHERE p.platform = d.platform AND p.transport = d.transport
$fn$;

-- The event an adjustment is sent as on platforms without a retraction
-- (policies negative_event and custom_event), unless kind_map names one
-- for refund, chargeback or chargeback_reversed.
CREATE FUNCTION attribution._adjustment_event(d attribution.destinations, kind text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN p.events_are_kinds THEN kind
                ELSE coalesce(p.adjustment_events ->> kind, p.adjustment_events ->> '*') END
      FROM attribution.platforms p
     WHERE p.platform = d.platform AND p.transport = d.transport
$fn$;

-- The event name, conversion action id or rule id a destination sends a
-- lifecycle kind as; NULL when the destination does not take that kind.
-- kind_map values: a string or number (the name or id), true (the
-- platform's standard event; for Google Ads the account's
-- conversion_action, for LinkedIn its conversion_rule), false or null (not
-- sent).  An empty kind_map sends every payment kind as true would.
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

-- The user's e-mail and phone hashes: those of the billing customer that
-- paid, else of any customer linked to the user (the latest linked).
CREATE FUNCTION attribution._email_hashes(c attribution.conversions,
    OUT email_sha256 text, OUT email_sha256_google text,
    OUT phone_sha256 text, OUT phone_sha256_meta text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $fn$
BEGIN
    IF c.customer_id IS NOT NULL THEN
        SELECT k.email_sha256, k.email_sha256_google, k.phone_sha256, k.phone_sha256_meta
          INTO email_sha256, email_sha256_google, phone_sha256, phone_sha256_meta
          FROM attribution.customers k
         WHERE k.provider = c.provider AND k.customer_id = c.customer_id;
    END IF;
    IF email_sha256 IS NULL AND phone_sha256 IS NULL AND c.user_id IS NOT NULL THEN
        SELECT k.email_sha256, k.email_sha256_google, k.phone_sha256, k.phone_sha256_meta
          INTO email_sha256, email_sha256_google, phone_sha256, phone_sha256_meta
          FROM attribution.customers k
         WHERE k.user_id = c.user_id AND (k.email_sha256 IS NOT NULL OR k.phone_sha256 IS NOT NULL)
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
        WHEN d.value_mode = 'predicted_ltv'
             AND (SELECT p.predicted_ltv = 'never' FROM attribution.platforms p
                   WHERE p.platform = d.platform AND p.transport = d.transport) THEN
            coalesce((SELECT p.value FROM attribution.predicted_ltv p
                       WHERE p.user_id = c.user_id AND p.currency = c.currency), c.value)
        ELSE c.value
    END
$fn$;

