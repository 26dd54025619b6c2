-- Landing URL parsing: libcurl splits the URL, pg_attribution decodes the
-- query; names are case-insensitive, '+' is a space, the first non-empty
-- value of a repeated parameter wins, fragments are ignored, no scheme
-- means https.
SET search_path = attribution, public;

CREATE TEMP TABLE url_cases (n int, url text);
INSERT INTO url_cases VALUES
 (1,  'https://example.com/'),
 (2,  'https://example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring_sale'),
 (3,  'example.com/pricing?utm_source=google'),
 (4,  'www.example.com'),
 (5,  'http://example.com:8080/a/b?utm_source=x'),
 (6,  'https://EXAMPLE.com/Path/Case?UTM_SOURCE=Google&Utm_Medium=CPC'),
 (7,  'https://example.com/?utm_campaign=spring+sale+2026'),
 (8,  'https://example.com/?utm_campaign=spring%20sale%202026'),
 (9,  'https://example.com/?utm_campaign=caf%C3%A9'),
 (10, 'https://example.com/?utm_campaign=a%2Bb'),
 (11, 'https://example.com/?utm_source=&utm_source=bing&utm_source=google'),
 (12, 'https://example.com/?utm_source=first&utm_source=second'),
 (13, 'https://example.com/?utm_source=+++&utm_source=real'),
 (14, 'https://example.com/#utm_source=fragment'),
 (15, 'https://example.com/?utm_source=query#utm_source=fragment&gclid=x'),
 (16, 'https://example.com/?gclid=Cj0KCQiAtest_BwE'),
 (17, 'https://example.com/?GCLID=CaseKept_BwE'),
 (18, 'https://example.com/?gbraid=0AAAAA&wbraid=1BBBBB'),
 (19, 'https://example.com/?dclid=CJ-d&msclkid=abc123&twclid=tw1'),
 (20, 'https://example.com/?fbclid=IwAR2F4-test'),
 (21, 'https://example.com/?ttclid=E.C.P.mockclick'),
 (22, 'https://example.com/?li_fat_id=df5gf5-gh6t7-ph4j7h-fgf6n1'),
 (23, 'https://example.com/?ref=FRIEND42'),
 (24, 'https://example.com/?referral_code=abc&ref=later'),
 (25, 'https://example.com/?via=partner_1'),
 (26, 'https://example.com/?REF=Upper'),
 (27, 'https://example.com/?utm_source=a&&&utm_medium=b&'),
 (28, 'https://example.com/?utm_source'),
 (29, 'https://example.com/?=novalue&utm_source=ok'),
 (30, 'https://example.com/?unknown=1&other=2&utm_term=crm+software'),
 (31, 'https://example.com/?utm_content=banner_a&utm_id=12345'),
 (32, 'https://bücher.example/?utm_source=idn'),
 (33, 'https://xn--bcher-kva.example/?utm_source=puny'),
 (34, 'https://example.com/%E2%82%AC/price?x=1'),
 (35, 'https://example.com/a%20b/c+d'),
 (36, 'https://user:pw@example.com/?utm_source=userinfo'),
 (37, 'https://127.0.0.1:3000/?utm_source=local'),
 (38, 'https://[::1]:8443/?utm_source=v6'),
 (39, 'https://example.com/?utm_source=%FF%FE'),
 (40, 'https://example.com/?utm_source=a%00b'),
 (41, 'https://example.com/?utm_medium=%20Email%20&utm_source=%20NewsLetter'),
 (42, 'https://example.com/?utm_source=google%26evil%3D1'),
 (43, 'https://example.com?utm_source=noslash'),
 (44, 'HTTPS://Example.COM/?utm_source=UPPER'),
 (45, 'https://example.com/?utm_source=%zz'),
 (46, 'https://example.com/?Utm_Campaign=Black%20Friday&utm_campaign=later');

SELECT n, p.scheme, p.host, p.port, p.path
  FROM url_cases, parse_landing_url(url) p ORDER BY n;

SELECT n, p.utm_source, p.utm_medium, p.utm_campaign, p.utm_term, p.utm_content, p.utm_id,
       p.utm_source_raw, p.utm_campaign_raw
  FROM url_cases, parse_landing_url(url) p
 WHERE coalesce(p.utm_source, p.utm_medium, p.utm_campaign, p.utm_term, p.utm_content, p.utm_id) IS NOT NULL
 ORDER BY n;

SELECT n, p.gclid, p.gbraid, p.wbraid, p.dclid, p.fbclid, p.ttclid, p.li_fat_id, p.msclkid,
       p.twclid, p.referral_code
  FROM url_cases, parse_landing_url(url) p
 WHERE coalesce(p.gclid, p.gbraid, p.wbraid, p.dclid, p.fbclid, p.ttclid, p.li_fat_id,
                p.msclkid, p.twclid, p.referral_code) IS NOT NULL
 ORDER BY n;

-- Referral parameter names come from pg_attribution.referral_params.
SET pg_attribution.referral_params = 'invite, Partner';
SELECT (parse_landing_url('https://example.com/?ref=old&PARTNER=p9')).referral_code;
SELECT (parse_landing_url('https://example.com/?invite=i7')).referral_code;
RESET pg_attribution.referral_params;
SELECT (parse_landing_url('https://example.com/?invite=i7&ref=r1')).referral_code;

-- Not URLs, or not landings.
CREATE FUNCTION pg_temp.try_parse(u text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM attribution.parse_landing_url(u);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT u, pg_temp.try_parse(u) FROM unnest(ARRAY[
    'not a url',
    '',
    'https://',
    'javascript:alert(1)',
    'ftp://example.com/file',
    'mailto:someone@example.com',
    'https://exa mple.com/',
    'http://[::1',
    'https://example.com:99999/']) u;
