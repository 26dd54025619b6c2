-- delivery/platforms: the platform modules' facts as data.  Each module
-- (src/delivery/platforms/*.c) declares what it claims -- the click ids it
-- matches on, its consent rule, its adjustment policies and age limits,
-- its default events, batch limit, endpoint and API version -- and the
-- registry hands them to this table when the extension is created.
-- Routing and the destination checks read them here, so no plpgsql names
-- a platform.

CREATE TABLE attribution.platforms (
    platform                     text NOT NULL,
    transport                    text NOT NULL,
    default_transport            boolean NOT NULL,
    default_endpoint             text,
    default_version              text,
    click_ids                    text[] NOT NULL,
    user_match                   boolean NOT NULL,
    lead_option                  boolean NOT NULL,
    match_always                 boolean NOT NULL,
    consent_denied_blocks        boolean NOT NULL,
    carries_consent              boolean NOT NULL,
    adjustment_policies          text[] NOT NULL,
    default_adjustment_policy    text NOT NULL,
    adjustment_age_from_original boolean NOT NULL,
    adjustment_target            text NOT NULL CHECK (adjustment_target IN ('original', 'own_or_original', 'event')),
    target_account_key           text,
    standard_events              jsonb,
    adjustment_events            jsonb,
    events_are_kinds             boolean NOT NULL,
    predicted_ltv                text NOT NULL CHECK (predicted_ltv IN ('never', 'value_mode', 'always')),
    click_window                 interval NOT NULL,
    max_event_age                interval NOT NULL,
    adjustment_max_age           interval NOT NULL,
    max_batch                    int NOT NULL CHECK (max_batch >= 1),
    oauth_authorize_url          text,
    oauth_authorize_params       jsonb,
    oauth_token_url              text,
    oauth_refresh_url            text,
    oauth_debug_url              text,
    oauth_scopes                 text[] NOT NULL,
    oauth_scope_separator        text,
    oauth_pkce                   boolean NOT NULL,
    oauth_token_body             text CHECK (oauth_token_body IN ('form', 'json', 'query')),
    oauth_client_id_field        text,
    oauth_client_secret_field    text,
    oauth_code_param             text,
    oauth_refresh_style          text NOT NULL CHECK (oauth_refresh_style IN ('refresh_token', 'rotating', 'fixed_expiry', 'exchange', 'none')),
    token_header                 text NOT NULL CHECK (token_header IN ('bearer', 'access_token')),
    PRIMARY KEY (platform, transport)
);
CREATE UNIQUE INDEX platforms_default_idx ON attribution.platforms (platform) WHERE default_transport;
COMMENT ON TABLE attribution.platforms IS 'One row per platform module and transport, registered by the extension''s C modules: what routing may decide from';
COMMENT ON COLUMN attribution.platforms.transport IS 'How the platform is reached (google_ads: data_manager or ads_api); destinations name one, else the default_transport one';
COMMENT ON COLUMN attribution.platforms.click_ids IS 'Click ids of a touch that let the platform match a conversion';
COMMENT ON COLUMN attribution.platforms.user_match IS 'A hashed e-mail or phone alone matches a conversion';
COMMENT ON COLUMN attribution.platforms.lead_option IS 'A hashed e-mail or phone alone matches when the destination''s account sets leads_without_click';
COMMENT ON COLUMN attribution.platforms.match_always IS 'Every conversion is sent (the company''s own endpoint)';
COMMENT ON COLUMN attribution.platforms.consent_denied_blocks IS 'The payload has no consent field: a user''s denial means the conversion is not sent';
COMMENT ON COLUMN attribution.platforms.carries_consent IS 'The payload states consent: rows not sent yet are rebuilt when it changes';
COMMENT ON COLUMN attribution.platforms.adjustment_age_from_original IS 'An adjustment''s age limit counts from the original conversion (Google), else from the adjustment itself';
COMMENT ON COLUMN attribution.platforms.adjustment_target IS 'What an adjustment is sent as: the original''s target (original), the adjustment kind''s target else the original''s (own_or_original), or an event of its own (event)';
COMMENT ON COLUMN attribution.platforms.target_account_key IS 'Account field holding the default conversion action or rule that kind_map true means';
COMMENT ON COLUMN attribution.platforms.predicted_ltv IS 'never: predicted LTV replaces the value under value_mode predicted_ltv; value_mode: sent as a field of its own under that mode; always: always a field of its own';
COMMENT ON COLUMN attribution.platforms.oauth_authorize_url IS 'Consent page of the authorization-code flow (default; a destination''s oauth_authorize_url setting overrides it); NULL: none';
COMMENT ON COLUMN attribution.platforms.oauth_authorize_params IS 'Fixed extra parameters of the consent URL (Google: access_type=offline, prompt=consent)';
COMMENT ON COLUMN attribution.platforms.oauth_token_url IS 'Where an authorization code is exchanged for tokens (default; overridable per destination)';
COMMENT ON COLUMN attribution.platforms.oauth_refresh_url IS 'Where a refresh token (or, for exchange, a long-lived token) is exchanged for a new access token';
COMMENT ON COLUMN attribution.platforms.oauth_debug_url IS 'Token inspection endpoint (Meta debug_token, Google tokeninfo, LinkedIn introspectToken)';
COMMENT ON COLUMN attribution.platforms.oauth_scopes IS 'Scopes the consent asks for; empty when the platform fixes them on the app';
COMMENT ON COLUMN attribution.platforms.oauth_scope_separator IS 'How scopes are joined in the consent URL';
COMMENT ON COLUMN attribution.platforms.oauth_pkce IS 'The consent page accepts a PKCE S256 code_challenge';
COMMENT ON COLUMN attribution.platforms.oauth_token_body IS 'How the token endpoint takes its fields: form (x-www-form-urlencoded), json, or query (GET parameters)';
COMMENT ON COLUMN attribution.platforms.oauth_client_id_field IS 'The token endpoint''s name for the app id (client_id; TikTok app_id)';
COMMENT ON COLUMN attribution.platforms.oauth_client_secret_field IS 'The token endpoint''s name for the app secret (client_secret; TikTok secret)';
COMMENT ON COLUMN attribution.platforms.oauth_code_param IS 'The callback parameter carrying the authorization code (code; TikTok auth_code)';
COMMENT ON COLUMN attribution.platforms.oauth_refresh_style IS 'refresh_token: a refresh renews only the access token; rotating: a new refresh token may come back and replaces the old; fixed_expiry: a refresh does not extend the refresh token; exchange: no refresh grant, check with debug_url; none: no OAuth';
COMMENT ON COLUMN attribution.platforms.token_header IS 'How delivery sends the access token: bearer (Authorization: Bearer) or access_token (TikTok''s Access-Token header)';

CREATE FUNCTION attribution._platform_registry()
RETURNS SETOF attribution.platforms
AS 'MODULE_PATHNAME', 'attr_platform_registry'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION attribution._platform_registry() IS 'The platform modules compiled into the extension, as rows of attribution.platforms';

INSERT INTO attribution.platforms SELECT * FROM attribution._platform_registry();

GRANT SELECT ON attribution.platforms TO attribution_admin, attribution_analyst;
