-- Every error path of capture, with its SQLSTATE.
SET search_path = attribution, public;

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT pg_temp.err($$SELECT attribution.track_touch(NULL, 'https://app.example/')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('', 'https://app.example/')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch(repeat('v', 300), 'https://app.example/')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('v', NULL)$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('v', '')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('v', 'not a url')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('v', 'javascript:alert(1)')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('v', 'https://app.example/?q=' || repeat('x', 9000))$$);
SET pg_attribution.max_url_length = 20000;
SELECT pg_temp.err($$SELECT attribution.track_touch('long', 'https://app.example/?q=' || repeat('x', 9000)) > 0$$);
RESET pg_attribution.max_url_length;
SELECT pg_temp.err($$SELECT attribution.parse_landing_url('https://app.example/?q=' || repeat('x', 9000))$$);
-- Over-long referrers and user agents are cut, not refused: the visit is kept.
SELECT pg_temp.err($$SELECT attribution.track_touch('longref', 'https://app.example/', 'https://ref.example/?' || repeat('r', 20000), now(), NULL, NULL, '203.0.113.7', repeat('u', 5000))$$);
SELECT length(referrer), referrer_host, length(user_agent), ip FROM touchpoints WHERE visitor_id = 'longref';
SELECT pg_temp.err($$SELECT attribution.identify('', 'u')$$);
SELECT pg_temp.err($$SELECT attribution.identify('v', '')$$);
SELECT attribution.identify(NULL, 'u') IS NULL AS strict_null;
SELECT pg_temp.err($$SELECT attribution.link_customer('stripe', NULL, 'u')$$);
SELECT pg_temp.err($$SELECT attribution.link_customer('Stripe!', 'cus_1', 'u')$$);
SELECT pg_temp.err($$SELECT attribution.link_customer('stripe', 'cus_1', 'u', 'no-at-sign')$$);
SELECT pg_temp.err($$SELECT attribution.hash_email('a@b.c', 'myspace')$$);
SELECT pg_temp.err($$SELECT attribution.build_utm_url(NULL, 'google', 'cpc', 'x')$$);
SELECT pg_temp.err($$SET pg_attribution.max_url_length = 10$$);
SELECT pg_temp.err($$INSERT INTO attribution.channel_hosts VALUES ('Upper.Com', 'search')$$);
SELECT pg_temp.err($$INSERT INTO attribution.channel_click_ids VALUES ('yclid', 'yandex', 'cpc')$$);
