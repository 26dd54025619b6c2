-- capture: landings (touchpoints), identities and billing customers.

CREATE TABLE attribution.touchpoints (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visitor_id      text NOT NULL,
    user_id         text,
    occurred_at     timestamptz NOT NULL,
    url             text NOT NULL,
    referrer        text,
    host            text,
    path            text,
    referrer_host   text,
    channel         text NOT NULL,
    utm_source      text,
    utm_medium      text,
    utm_campaign    text,
    utm_term        text,
    utm_content     text,
    utm_id          text,
    utm_raw         jsonb,
    referral_code   text,
    gclid           text,
    gclid_at        timestamptz,
    gbraid          text,
    gbraid_at       timestamptz,
    wbraid          text,
    dclid           text,
    fbclid          text,
    fbc             text,
    fbc_at          timestamptz,
    fbp             text,
    ttclid          text,
    ttp             text,
    li_fat_id       text,
    msclkid         text,
    twclid          text,
    clicked_at      timestamptz,
    ip              inet,
    user_agent      text,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX touchpoints_visitor_idx ON attribution.touchpoints (visitor_id, occurred_at);
CREATE INDEX touchpoints_user_idx ON attribution.touchpoints (user_id, occurred_at)
    WHERE user_id IS NOT NULL;
COMMENT ON TABLE attribution.touchpoints IS 'One row per landing recorded by track_touch()';
COMMENT ON COLUMN attribution.touchpoints.user_id IS 'User the visitor was known as when the touch was recorded, or later linked by identify(); see the journeys view';
COMMENT ON COLUMN attribution.touchpoints.channel IS 'Channel named by the first matching row of channel_rules';
COMMENT ON COLUMN attribution.touchpoints.utm_source IS 'utm_source trimmed and lower-cased; utm_raw keeps the value as received';
COMMENT ON COLUMN attribution.touchpoints.utm_raw IS 'UTM parameters exactly as received (decoded), for audit';
COMMENT ON COLUMN attribution.touchpoints.gclid_at IS 'Time of the Google click: the landing time, or the _gcl_aw cookie time when recovered from cookies';
COMMENT ON COLUMN attribution.touchpoints.fbc IS 'Meta click id in fbc form fb.1.<ms>.<fbclid>, from the _fbc cookie or built from fbclid';
COMMENT ON COLUMN attribution.touchpoints.clicked_at IS 'Time of the ad click this touch carries: the landing time for a click in the URL, else the latest cookie click time';

CREATE TABLE attribution.identities (
    visitor_id  text NOT NULL,
    user_id     text NOT NULL,
    linked_at   timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (visitor_id, user_id)
);
CREATE INDEX identities_user_idx ON attribution.identities (user_id);
COMMENT ON TABLE attribution.identities IS 'Links between anonymous visitors (browsers, devices) and signed-in users; a user may have many visitors';

CREATE TABLE attribution.customers (
    provider            text NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_]*$'),
    customer_id         text NOT NULL CHECK (customer_id <> ''),
    user_id             text NOT NULL CHECK (user_id <> ''),
    email_sha256        text CHECK (email_sha256 ~ '^[0-9a-f]{64}$'),
    email_sha256_google text CHECK (email_sha256_google ~ '^[0-9a-f]{64}$'),
    phone_sha256        text CHECK (phone_sha256 ~ '^[0-9a-f]{64}$'),
    phone_sha256_meta   text CHECK (phone_sha256_meta ~ '^[0-9a-f]{64}$'),
    linked_at           timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, customer_id)
);
CREATE INDEX customers_user_idx ON attribution.customers (user_id);
COMMENT ON TABLE attribution.customers IS 'Billing customers (Stripe cus_..., Paddle ctm_..., Lemon Squeezy ids) linked to users';
COMMENT ON COLUMN attribution.customers.email_sha256 IS 'SHA-256 of the trimmed, lower-cased e-mail (Meta, TikTok, LinkedIn form)';
COMMENT ON COLUMN attribution.customers.email_sha256_google IS 'SHA-256 of the e-mail normalised for Google (dots of gmail local parts removed)';
COMMENT ON COLUMN attribution.customers.phone_sha256 IS 'SHA-256 of the phone in E.164 with "+" (Google, TikTok form); the number itself is not kept';
COMMENT ON COLUMN attribution.customers.phone_sha256_meta IS 'SHA-256 of the phone in E.164 without "+" (Meta form)';

SELECT pg_catalog.pg_extension_config_dump('attribution.touchpoints', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.identities', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.customers', '');

-- The landing_url composite returned by parse_landing_url().
CREATE TYPE attribution.landing_url AS (
    utm_source      text,
    utm_medium      text,
    utm_campaign    text,
    utm_term        text,
    utm_content     text,
    utm_id          text,
    gclid           text,
    gbraid          text,
    wbraid          text,
    dclid           text,
    fbclid          text,
    ttclid          text,
    li_fat_id       text,
    msclkid         text,
    twclid          text,
    referral_code   text,
    scheme          text,
    host            text,
    port            int,
    path            text,
    utm_source_raw  text,
    utm_medium_raw  text,
    utm_campaign_raw text,
    utm_term_raw    text,
    utm_content_raw text,
    utm_id_raw      text
);

CREATE FUNCTION attribution.parse_landing_url(url text)
RETURNS attribution.landing_url
AS 'MODULE_PATHNAME', 'attr_parse_landing_url'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.parse_landing_url(text) IS 'Parse a landing URL: UTM values (normalised and raw), click IDs, referral code, host and path';

-- Identifiers (visitor, user and customer ids, destination names) are
-- indexed: a value past a few kilobytes fails deep inside an index insert
-- (54000), so every function that takes one refuses it up front.
CREATE FUNCTION attribution._check_identifier(what text, value text, max_bytes int DEFAULT 256)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF value IS NOT NULL AND octet_length(value) > max_bytes THEN
        RAISE EXCEPTION '% must be at most % bytes long, not %', what, max_bytes, octet_length(value)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the application''s id or a digest of it, not a document.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION attribution._check_identifier(text, text, int) IS 'Refuse an identifier longer than max_bytes (256 by default) with 22023';
-- the destinations trigger runs as the administrator who writes the row
GRANT EXECUTE ON FUNCTION attribution._check_identifier(text, text, int) TO attribution_admin;

CREATE FUNCTION attribution.track_touch(
    visitor_id text,
    url text,
    referrer text DEFAULT NULL,
    occurred_at timestamptz DEFAULT now(),
    user_id text DEFAULT NULL,
    cookies text DEFAULT NULL,
    ip inet DEFAULT NULL,
    user_agent text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'attr_track_touch'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION attribution.track_touch(text, text, text, timestamptz, text, text, inet, text) IS 'Record one landing; returns the touchpoint id';

CREATE FUNCTION attribution.identify(visitor_id text, user_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF visitor_id = '' OR user_id = '' THEN
        RAISE EXCEPTION 'visitor_id and user_id must not be empty'
            USING ERRCODE = '22023';
    END IF;
    PERFORM attribution._check_identifier('visitor_id', visitor_id);
    PERFORM attribution._check_identifier('user_id', user_id);
    -- One identify per visitor at a time: its touches are re-assigned below
    -- and two callers must not interleave.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('attribution.visitor:' || visitor_id, 0));
    INSERT INTO attribution.identities AS i (visitor_id, user_id)
    VALUES (identify.visitor_id, identify.user_id)
    ON CONFLICT ON CONSTRAINT identities_pkey
    DO UPDATE SET last_seen = pg_catalog.now();
    -- Touches recorded before the link belong to the user from now on.
    UPDATE attribution.touchpoints t
       SET user_id = identify.user_id
     WHERE t.visitor_id = identify.visitor_id AND t.user_id IS NULL;
END
$fn$;
COMMENT ON FUNCTION attribution.identify(text, text) IS 'Link an anonymous visitor to a signed-in user; earlier touches of the visitor become the user''s';

CREATE FUNCTION attribution.normalize_email(email text, platform text DEFAULT 'generic')
RETURNS text
AS 'MODULE_PATHNAME', 'attr_normalize_email'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.normalize_email(text, text) IS 'E-mail normalised as a platform matches it (generic, google_ads, meta, tiktok, linkedin)';

CREATE FUNCTION attribution.hash_email(email text, platform text DEFAULT 'generic')
RETURNS text
AS 'MODULE_PATHNAME', 'attr_hash_email'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.hash_email(text, text) IS 'SHA-256 hex of the e-mail normalised for a platform';

CREATE FUNCTION attribution.hash_phone(phone text, platform text DEFAULT 'generic')
RETURNS text
AS 'MODULE_PATHNAME', 'attr_hash_phone'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.hash_phone(text, text) IS 'SHA-256 hex of a phone number with country code, normalised for a platform (+ for Google and TikTok, none for Meta)';

CREATE FUNCTION attribution.link_customer(provider text, customer_id text, user_id text,
                                          email text DEFAULT NULL, phone text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF provider IS NULL OR customer_id IS NULL OR user_id IS NULL
       OR provider = '' OR customer_id = '' OR user_id = '' THEN
        RAISE EXCEPTION 'provider, customer_id and user_id must be given'
            USING ERRCODE = '22023';
    END IF;
    PERFORM attribution._check_identifier('provider', provider, 64);
    PERFORM attribution._check_identifier('customer_id', customer_id);
    PERFORM attribution._check_identifier('user_id', user_id);
    IF provider !~ '^[a-z][a-z0-9_]*$' THEN
        RAISE EXCEPTION 'provider "%" is not a provider name', provider
            USING ERRCODE = '22023',
                  HINT = 'Use the lower-case provider name, such as stripe, paddle or lemonsqueezy.';
    END IF;
    IF email IS NOT NULL AND attribution.normalize_email(email) IS NULL THEN
        RAISE EXCEPTION 'email is not an e-mail address'
            USING ERRCODE = '22023';
    END IF;
    IF phone IS NOT NULL AND attribution.hash_phone(phone, 'google_ads') IS NULL THEN
        RAISE EXCEPTION 'phone is not a phone number with its country code'
            USING ERRCODE = '22023',
                  HINT = 'Give the number in E.164, such as +16505551212.';
    END IF;
    INSERT INTO attribution.customers AS c
        (provider, customer_id, user_id, email_sha256, email_sha256_google, phone_sha256, phone_sha256_meta)
    VALUES (link_customer.provider, link_customer.customer_id, link_customer.user_id,
            attribution.hash_email(email, 'generic'), attribution.hash_email(email, 'google_ads'),
            attribution.hash_phone(phone, 'google_ads'), attribution.hash_phone(phone, 'meta'))
    ON CONFLICT ON CONSTRAINT customers_pkey DO UPDATE
       SET user_id = EXCLUDED.user_id,
           email_sha256 = coalesce(EXCLUDED.email_sha256, c.email_sha256),
           email_sha256_google = coalesce(EXCLUDED.email_sha256_google, c.email_sha256_google),
           phone_sha256 = coalesce(EXCLUDED.phone_sha256, c.phone_sha256),
           phone_sha256_meta = coalesce(EXCLUDED.phone_sha256_meta, c.phone_sha256_meta),
           updated_at = pg_catalog.now();
END
$fn$;
COMMENT ON FUNCTION attribution.link_customer(text, text, text, text, text) IS 'Link a billing customer to a user; the e-mail and phone (E.164) are kept only as platform SHA-256 hashes';

-- Per user, the ordered touches across all of the user's visitors.  A touch
-- recorded while its visitor's identify() was still uncommitted is resolved
-- here through identities.
CREATE VIEW attribution.journeys AS
SELECT u.user_id,
       pg_catalog.row_number() OVER (PARTITION BY u.user_id ORDER BY t.occurred_at, t.id) AS touch_number,
       t.id AS touch_id,
       t.visitor_id,
       t.occurred_at,
       t.channel,
       t.host,
       t.path,
       t.referrer_host,
       t.utm_source, t.utm_medium, t.utm_campaign, t.utm_term, t.utm_content,
       t.referral_code,
       t.gclid, t.gbraid, t.wbraid, t.fbc, t.fbp, t.ttclid, t.ttp, t.li_fat_id, t.msclkid,
       t.clicked_at
  FROM attribution.touchpoints t
  CROSS JOIN LATERAL (
        SELECT coalesce(t.user_id,
                        (SELECT i.user_id FROM attribution.identities i
                          WHERE i.visitor_id = t.visitor_id
                          ORDER BY i.linked_at, i.user_id LIMIT 1)) AS user_id) u
 WHERE u.user_id IS NOT NULL;
COMMENT ON VIEW attribution.journeys IS 'Per user, the touches of all of the user''s visitors in time order, with channel and click IDs';

GRANT EXECUTE ON FUNCTION attribution.track_touch(text, text, text, timestamptz, text, text, inet, text),
                          attribution.identify(text, text),
                          attribution.link_customer(text, text, text, text, text)
   TO attribution_app;
GRANT EXECUTE ON FUNCTION attribution.parse_landing_url(text),
                          attribution.normalize_email(text, text),
                          attribution.hash_email(text, text),
                          attribution.hash_phone(text, text)
   TO attribution_app, attribution_analyst, attribution_admin;
GRANT SELECT ON attribution.journeys TO attribution_analyst, attribution_admin;
