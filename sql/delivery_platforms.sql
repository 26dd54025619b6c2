-- The platform modules as data: attribution.platforms is filled from the C
-- modules at CREATE EXTENSION.  Routing reads its facts; the credentials
-- code reads each platform's OAuth facts (consent, token, refresh and debug
-- endpoints, scopes, PKCE, refresh style).
SET timezone = 'UTC';

-- One row per module and transport; Google's default transport is Data
-- Manager, the only path for new developer tokens since 2026-06-15.
SELECT platform, transport, default_transport, default_endpoint, default_version, max_batch
  FROM attribution.platforms ORDER BY platform, transport;

-- OAuth: where to send the operator, where codes and refresh tokens go.
SELECT platform, transport, oauth_authorize_url, oauth_token_url, oauth_refresh_url,
       oauth_debug_url
  FROM attribution.platforms ORDER BY platform, transport;
SELECT platform, transport, oauth_scopes, format('%L', oauth_scope_separator) AS sep, oauth_pkce, oauth_token_body,
       oauth_client_id_field, oauth_client_secret_field, oauth_code_param,
       oauth_refresh_style, token_header, oauth_authorize_params
  FROM attribution.platforms ORDER BY platform, transport;

-- Every platform with a consent page has a token endpoint and a refresh
-- style other than none; the webhook has neither.
SELECT platform, transport FROM attribution.platforms
 WHERE (oauth_authorize_url IS NOT NULL) <> (oauth_token_url IS NOT NULL)
    OR (oauth_authorize_url IS NULL) <> (oauth_refresh_style = 'none');

-- The analyst and the admin read the facts; the application does not need them.
SET ROLE attribution_analyst;
SELECT count(*) > 0 AS analyst_reads FROM attribution.platforms;
RESET ROLE;
