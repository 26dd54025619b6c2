-- The UTM convention: building tagged URLs and reporting captured violations.
SET search_path = attribution, public;
SET timezone = 'UTC';

SELECT build_utm_url('https://app.example/pricing', 'google', 'cpc', 'spring_sale');
SELECT build_utm_url('app.example/pricing', 'newsletter', 'email', 'weekly-digest-12', 'hero button', 'crm & sales');
SELECT build_utm_url('https://app.example/signup?plan=pro#top', 'partner', 'referral', 'friends', 'u_42');
SELECT build_utm_url('https://app.example/', 'facebook', 'social', NULL);
-- The URL it builds parses back to the same values.
SELECT p.utm_source, p.utm_medium, p.utm_campaign, p.utm_content, p.utm_term
  FROM parse_landing_url(build_utm_url('app.example/p', 'newsletter', 'email', 'weekly-digest-12',
                                       'hero button', 'crm & sales')) p;

CREATE FUNCTION pg_temp.try_build(b text, s text, m text, c text, ct text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN attribution.build_utm_url(b, s, m, c, ct);
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.try_build('https://app.example/', 'google', 'banner', 'x');
SELECT pg_temp.try_build('https://app.example/', 'myspace', 'cpc', 'x');
SELECT pg_temp.try_build('https://app.example/', 'google', 'cpc', NULL);
SELECT pg_temp.try_build('https://app.example/', 'google', 'cpc', 'Spring Sale');
SELECT pg_temp.try_build('https://app.example/', 'Google', 'cpc', 'spring');
SELECT pg_temp.try_build('https://app.example/', NULL, 'cpc', 'spring');
SELECT pg_temp.try_build('https://app.example/', 'partner', 'referral', 'friends', NULL);
SELECT pg_temp.try_build('https://app.example/', 'partner', 'referral', 'friends', 'bad id!');
SELECT pg_temp.try_build('https://app.example/?utm_source=x', 'google', 'cpc', 'spring');
SELECT pg_temp.try_build('not a url', 'google', 'cpc', 'spring');

-- The convention is data.
INSERT INTO utm_sources (source) VALUES ('myspace');
SELECT pg_temp.try_build('https://app.example/', 'myspace', 'cpc', 'x');

-- Violations among captured touches: reported, never dropped.
SELECT track_touch('utm1', 'https://app.example/?utm_source=google&utm_medium=cpc&utm_campaign=good_one', NULL, '2026-02-01') > 0;
SELECT track_touch('utm2', 'https://app.example/?utm_source=Google&utm_medium=CPC&utm_campaign=Spring%20Sale', NULL, '2026-02-02') > 0;
SELECT track_touch('utm3', 'https://app.example/?utm_source=Google&utm_medium=CPC&utm_campaign=Spring%20Sale', NULL, '2026-02-05') > 0;
SELECT track_touch('utm4', 'https://app.example/?utm_source=fb&utm_medium=banner', NULL, '2026-02-03') > 0;
SELECT track_touch('utm5', 'https://app.example/?utm_medium=referral&utm_source=partner', NULL, '2026-02-04') > 0;
SELECT count(*) FROM touchpoints WHERE visitor_id LIKE 'utm_';
SELECT utm_source, utm_medium, utm_campaign, rule, touches, first_seen, last_seen
  FROM utm_violations
 WHERE first_seen >= '2026-02-01' AND first_seen < '2026-03-01'
 ORDER BY utm_source, utm_medium, rule;
