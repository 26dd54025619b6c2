-- Demo, part 1: a synthetic SaaS company's landings, recorded through
-- track_touch() and identify() exactly as an application would call them.
\echo '== Recording 40,000 synthetic landings of 20,000 visitors over 180 days (campaigns, organic, referrals, cross-device sign-ins) =='
SELECT setseed(0.42) \gset

CREATE TEMP TABLE demo_sources (n int, url_tail text, referrer text, weight int);
INSERT INTO demo_sources VALUES
 (1,  'utm_source=google&utm_medium=cpc&utm_campaign=brand_search&gclid=Cj0KCQiAdemo', 'https://www.google.com/', 14),
 (2,  'utm_source=google&utm_medium=cpc&utm_campaign=competitor_terms&gclid=Cj0KCQiAcomp', 'https://www.google.com/', 8),
 (3,  'utm_source=facebook&utm_medium=paid_social&utm_campaign=lookalike_q3&fbclid=IwAR2demo', 'https://l.facebook.com/', 10),
 (4,  'utm_source=linkedin&utm_medium=paid_social&utm_campaign=cfo_persona&li_fat_id=5f1c2b7e-demo', 'https://www.linkedin.com/', 6),
 (5,  'utm_source=tiktok&utm_medium=paid_social&utm_campaign=ugc_videos&ttclid=E.C.P.demo', NULL, 5),
 (6,  '', 'https://www.google.com/', 16),
 (7,  '', 'https://duckduckgo.com/', 3),
 (8,  'fbclid=IwAR_organic', 'https://l.facebook.com/', 4),
 (9,  '', 'https://news.ycombinator.com/item?id=1', 3),
 (10, '', 'https://chatgpt.com/', 3),
 (11, 'utm_source=newsletter&utm_medium=email&utm_campaign=weekly-digest', NULL, 6),
 (12, 'ref=FRIEND', NULL, 5),
 (13, 'utm_source=partner&utm_medium=referral&utm_campaign=ambassadors&utm_content=amb_', NULL, 3),
 (14, '', NULL, 12),
 (15, '', 'https://checkout.stripe.com/c/pay', 2),
 -- badly tagged campaigns: capitals, a medium outside the vocabulary, a missing campaign
 (16, 'utm_source=Facebook&utm_medium=CPC&utm_campaign=Summer%20Promo', NULL, 3),
 (17, 'utm_source=capterra&utm_medium=listing&utm_campaign=reviews', NULL, 2),
 (18, 'utm_source=google&utm_medium=cpc', 'https://www.google.com/', 2);

CREATE TEMP TABLE demo_pick AS
SELECT n, sum(weight) OVER (ORDER BY n) - weight AS lo, sum(weight) OVER (ORDER BY n) AS hi
  FROM demo_sources;

CREATE TEMP TABLE demo_visits AS
SELECT g AS visit,
       'visitor_' || (1 + (random() * 19999)::int) AS visitor_id,
       date_trunc('day', now()) - interval '180 days' + (random() * 179) * interval '1 day' AS at,
       (random() * (SELECT max(hi) FROM demo_pick)) AS r
  FROM generate_series(1, 40000) g;

SELECT count(attribution.track_touch(
           v.visitor_id,
           'https://app.example.com/' || (ARRAY['', 'pricing', 'features', 'blog/attribution'])[1 + v.visit % 4]
               || CASE WHEN s.url_tail = '' THEN '' ELSE '?' || s.url_tail
                       || CASE WHEN s.n IN (12, 13) THEN (v.visit % 40)::text ELSE '' END END,
           s.referrer, v.at, NULL,
           CASE WHEN v.visit % 5 = 0 THEN '_fbp=fb.1.1767225600000.' || v.visit ELSE NULL END,
           ('198.51.100.' || (v.visit % 250))::inet, 'Mozilla/5.0 (demo)')) AS landings_recorded
  FROM demo_visits v
  JOIN demo_pick p ON v.r >= p.lo AND v.r < p.hi
  JOIN demo_sources s ON s.n = p.n;

-- 10,000 visitors sign in as 8,000 users; 2,000 people with two devices
-- (laptop and phone) sign in on both, so their journeys join across devices.
SELECT count(attribution.identify('visitor_' || g, 'user_' || ((g / 2) % 8000))) AS sign_ins
  FROM generate_series(1, 20000, 2) g;

\echo
\echo '== Channel mix =='
SELECT channel, count(*) AS landings,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct
  FROM attribution.touchpoints GROUP BY channel ORDER BY landings DESC;

\echo '== Cross-device journeys (users whose touches span several visitors) =='
SELECT count(*) AS users_with_journeys,
       count(*) FILTER (WHERE devices > 1) AS cross_device_users,
       round(avg(touches), 1) AS avg_touches
  FROM (SELECT user_id, count(DISTINCT visitor_id) AS devices, count(*) AS touches
          FROM attribution.journeys GROUP BY user_id) j;

\echo '== One cross-device journey =='
SELECT touch_number, visitor_id, occurred_at::date AS day, channel, utm_campaign, referral_code,
       gclid IS NOT NULL AS has_gclid, fbc IS NOT NULL AS has_fbc
  FROM attribution.journeys
 WHERE user_id = (SELECT user_id FROM attribution.journeys GROUP BY user_id
                   HAVING count(DISTINCT visitor_id) > 1 ORDER BY count(*) DESC, user_id LIMIT 1)
 ORDER BY touch_number;

\echo '== UTM violations (the touches are kept; these are reported) =='
SELECT utm_source, utm_medium, utm_campaign, rule, touches, first_seen::date, last_seen::date
  FROM attribution.utm_violations ORDER BY touches DESC, utm_source, rule;

\echo '== A correctly tagged link for the next campaign =='
SELECT attribution.build_utm_url('https://app.example.com/pricing', 'linkedin', 'paid_social',
                                 'cfo_persona', 'carousel v2') AS campaign_url;
