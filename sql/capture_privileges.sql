-- What the three roles, and a plain role, may do.
SET timezone = 'UTC';
CREATE ROLE capture_app_user LOGIN IN ROLE attribution_app;
CREATE ROLE capture_analyst_user LOGIN IN ROLE attribution_analyst;
CREATE ROLE capture_plain_user LOGIN;

CREATE FUNCTION public.try_as(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SET ROLE capture_app_user;
SELECT public.try_as($$SELECT attribution.track_touch('priv_v', 'https://app.example/?utm_source=google', NULL, '2026-04-01')$$);
SELECT public.try_as($$SELECT attribution.identify('priv_v', 'priv_u')$$);
SELECT public.try_as($$SELECT attribution.link_customer('stripe', 'cus_priv', 'priv_u', 'p@example.com')$$);
SELECT public.try_as($$SELECT attribution.classify_channel('https://app.example/', NULL)$$);
SELECT public.try_as($$SELECT * FROM attribution.touchpoints$$);
SELECT public.try_as($$SELECT * FROM attribution.customers$$);
SELECT public.try_as($$SELECT * FROM attribution.journeys$$);
SELECT public.try_as($$INSERT INTO attribution.touchpoints (visitor_id, occurred_at, url, channel) VALUES ('x', now(), 'u', 'c')$$);
SELECT public.try_as($$DELETE FROM attribution.channel_rules$$);
SELECT public.try_as($$SET pg_attribution.referral_params = 'x'$$);
RESET ROLE;

SET ROLE capture_analyst_user;
SELECT public.try_as($$SELECT count(*) FROM attribution.journeys$$);
SELECT public.try_as($$SELECT count(*) FROM attribution.utm_violations$$);
SELECT public.try_as($$SELECT count(*) FROM attribution.channel_rules$$);
SELECT public.try_as($$SELECT * FROM attribution.touchpoints$$);
SELECT public.try_as($$SELECT * FROM attribution.customers$$);
SELECT public.try_as($$SELECT attribution.track_touch('a', 'https://app.example/')$$);
SELECT public.try_as($$UPDATE attribution.channel_rules SET enabled = false$$);
RESET ROLE;

SET ROLE capture_plain_user;
SELECT public.try_as($$SELECT attribution.track_touch('p', 'https://app.example/')$$);
SELECT public.try_as($$SELECT attribution.parse_landing_url('https://app.example/')$$);
SELECT public.try_as($$SELECT count(*) FROM attribution.journeys$$);
RESET ROLE;

-- What the app recorded is there, attributed to its user.
SELECT visitor_id, user_id, channel FROM attribution.touchpoints WHERE visitor_id = 'priv_v';
-- Every SECURITY DEFINER function of the extension pins its search_path.
SELECT count(*) > 0 AS has_definers,
       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                                          WHERE c LIKE 'search_path=%')) AS unpinned
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'attribution' AND p.prosecdef;

DROP FUNCTION public.try_as(text);
DROP ROLE capture_app_user, capture_analyst_user, capture_plain_user;
