-- Channel classification: the seeded GA4-like rules, as data.
SET search_path = attribution, public;

SELECT url, referrer, classify_channel(url, referrer) AS channel
  FROM (VALUES
    (1,  'https://app.example/', NULL),
    (2,  'https://app.example/?gclid=Cj0abc', NULL),
    (3,  'https://app.example/?gbraid=0AAA', NULL),
    (4,  'https://app.example/?msclkid=m1', 'https://www.bing.com/'),
    (5,  'https://app.example/', 'https://www.google.com/'),
    (6,  'https://app.example/', 'https://www.google.co.uk/search?q=crm'),
    (7,  'https://app.example/', 'https://duckduckgo.com/'),
    (8,  'https://app.example/?fbclid=IwAR1', NULL),
    (9,  'https://app.example/?fbclid=IwAR1', 'https://l.facebook.com/'),
    (10, 'https://app.example/?fbclid=IwAR1&utm_source=facebook&utm_medium=paid_social', 'https://l.facebook.com/'),
    (11, 'https://app.example/?utm_source=facebook&utm_medium=cpc', NULL),
    (12, 'https://app.example/?ttclid=E.C.P.x', NULL),
    (13, 'https://app.example/?li_fat_id=abc', NULL),
    (14, 'https://app.example/', 'https://www.linkedin.com/feed/'),
    (15, 'https://app.example/', 'https://t.co/abc'),
    (16, 'https://app.example/?utm_source=youtube&utm_medium=cpv', NULL),
    (17, 'https://app.example/', 'https://www.youtube.com/watch?v=1'),
    (18, 'https://app.example/?utm_source=gdn&utm_medium=display', NULL),
    (19, 'https://app.example/?utm_source=partner&utm_medium=cpm', NULL),
    (20, 'https://app.example/?utm_source=capterra&utm_medium=ppc', NULL),
    (21, 'https://app.example/?utm_source=newsletter&utm_medium=email', NULL),
    (22, 'https://app.example/', 'https://mail.google.com/mail/u/0/'),
    (23, 'https://app.example/?utm_source=impact&utm_medium=affiliate', NULL),
    (24, 'https://app.example/?utm_source=twilio&utm_medium=sms', NULL),
    (25, 'https://app.example/', 'https://news.ycombinator.com/item?id=1'),
    (26, 'https://app.example/', 'https://someblog.example/post'),
    (27, 'https://app.example/?ref=FRIEND42', NULL),
    (28, 'https://app.example/?ref=FRIEND42&gclid=Cj0', 'https://www.google.com/'),
    (29, 'https://app.example/?utm_source=friend&utm_medium=referral&utm_content=u_42', NULL),
    (30, 'https://app.example/?utm_source=blog&utm_medium=referral', NULL),
    (31, 'https://app.example/', 'https://checkout.stripe.com/c/pay/cs_test'),
    (32, 'https://app.example/', 'https://buy.paddle.com/checkout'),
    (33, 'https://app.example/', 'https://app.example/pricing'),
    (34, 'https://app.example/?utm_source=chatgpt.com', NULL),
    (35, 'https://app.example/', 'https://chatgpt.com/'),
    (36, 'https://app.example/', 'https://www.perplexity.ai/search'),
    (37, 'https://app.example/', 'https://gemini.google.com/app'),
    (38, 'https://app.example/', 'https://www.amazon.com/dp/1'),
    (39, 'https://app.example/?utm_source=google&utm_medium=cpc&utm_campaign=shopping_q4', NULL),
    (40, 'https://app.example/?utm_campaign=cross-network-q1&utm_source=google&utm_medium=cpc', NULL),
    (41, 'https://app.example/?utm_source=spotify&utm_medium=audio', NULL),
    (42, 'https://app.example/?utm_source=app&utm_medium=push', NULL),
    (43, 'https://app.example/?utm_source=Google&utm_medium=CPC', NULL),
    (44, 'https://app.example/?utm_source=weird', NULL),
    (45, 'https://app.example/?dclid=CJd', NULL),
    (46, 'https://app.example/', 'android-app://com.google.android.gm/'),
    (47, 'https://app.example/?twclid=tw', NULL),
    (48, 'https://app.example/?utm_campaign=only_campaign', NULL),
    (49, 'https://app.example/', 'not a referrer at all')
  ) AS c(n, url, referrer)
 ORDER BY n;

-- Operators change the grouping with plain SQL; caches follow at once.
INSERT INTO self_referral_domains (domain, note) VALUES ('someblog.example', 'our blog');
SELECT classify_channel('https://app.example/', 'https://someblog.example/post');
INSERT INTO channel_rules (priority, channel, source_regex, medium_regex, description)
VALUES (5, 'Partners', '^capterra$', NULL, 'review sites');
SELECT classify_channel('https://app.example/?utm_source=capterra&utm_medium=ppc', NULL);
UPDATE channel_rules SET priority = 500 WHERE channel = 'Partners';
SELECT classify_channel('https://app.example/?utm_source=capterra&utm_medium=ppc', NULL);
INSERT INTO channel_hosts (host, category) VALUES ('capterra.com', 'search');
SELECT classify_channel('https://app.example/', 'https://www.capterra.com/p/1');
DELETE FROM channel_rules WHERE channel = 'Partners';
DELETE FROM channel_hosts WHERE host = 'capterra.com';
DELETE FROM self_referral_domains WHERE domain = 'someblog.example';
SELECT classify_channel('https://app.example/', 'https://someblog.example/post');

-- A rule with a broken pattern is refused when it is written.
DO $$
BEGIN
    INSERT INTO attribution.channel_rules (priority, channel, source_regex) VALUES (1, 'Broken', '(unclosed');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;

-- The same rules classify recorded touches.
SELECT track_touch('chan1', 'https://app.example/?utm_source=linkedin&utm_medium=paid_social&utm_campaign=q1', NULL, '2026-01-01') > 0;
SELECT channel FROM touchpoints WHERE visitor_id = 'chan1';
