-- Demo: the ad accounts conversions go to.  The platforms cannot be reached
-- from here, so every destination points at the local contract mock over
-- HTTPS (its throwaway CA trusted through pg_attribution.ca_file); in
-- production the endpoints default to the real APIs.
\echo '== Destinations: Google Ads, Meta, TikTok, LinkedIn, and an HTTPS webhook, all on the local mock =='
\set mock_url `cat mock.url`
\set ca_file `pwd`/certs/ca.crt
ALTER SYSTEM SET pg_attribution.ca_file = :'ca_file';
SELECT pg_reload_conf() \gset

SELECT attribution.create_destination('google', 'google_ads',
           '{"customer_id": "123-456-7890", "api_version": "v24"}',
           '{"subscription_started": "555", "renewal": "556", "upgrade": "556"}', :'mock_url') AS google,
       attribution.create_destination('meta', 'meta', '{"pixel_id": "1234567890123456", "api_version": "v25.0"}',
           '{"subscription_started": "Subscribe", "renewal": "Purchase", "upgrade": "Purchase"}', :'mock_url') AS meta,
       attribution.create_destination('tiktok', 'tiktok',
           '{"event_source": "web", "event_source_id": "CDEMOPIXEL123"}',
           '{"subscription_started": "Subscribe", "renewal": "CompletePayment", "upgrade": "CompletePayment"}', :'mock_url') AS tiktok,
       attribution.create_destination('linkedin', 'linkedin', '{"linkedin_version": "202603"}',
           '{"subscription_started": "123456", "renewal": "123457", "upgrade": "123457"}', :'mock_url') AS linkedin,
       attribution.create_destination('crm_hook', 'webhook', '{}',
           '{"subscription_started": true, "renewal": true, "upgrade": true}', :'mock_url' || '/webhook/crm') AS webhook;

-- Tokens go into the vault, encrypted; nothing can read them back.
SELECT attribution.set_credential(name, 'demo-token-' || name) > 0 AS stored, name
  FROM attribution.destinations ORDER BY name;
SELECT destination, platform, kind, status FROM attribution.credential_status ORDER BY destination;
