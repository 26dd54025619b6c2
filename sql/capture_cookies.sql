-- Click IDs recovered from the Cookie header, and the fbc built from fbclid.
SET search_path = attribution, public;
SET timezone = 'UTC';

CREATE FUNCTION pg_temp.touch(v text, u text, c text, at timestamptz DEFAULT '2026-01-01 00:00:00+00')
RETURNS bigint LANGUAGE sql AS
$$ SELECT attribution.track_touch(v, u, NULL, at, NULL, c) $$;

SELECT pg_temp.touch('ck1', 'https://app.example/', '_gcl_aw=GCL.1767000000.Cj0KCQiAcookie_BwE; _fbp=fb.1.1596403881668.1116446470');
SELECT pg_temp.touch('ck2', 'https://app.example/', '_gcl_gb=GCL.1766000000.0AAAAbraid; _ttp=2mockttpcookie; li_fat_id=df5gf5-gh6t7-ph4j7h-fgf6n1');
SELECT pg_temp.touch('ck3', 'https://app.example/', '_fbc=fb.1.1767000000123.IwAR_cookie; _uetmsclkid=_uetabc123def');
-- URL fbclid, no _fbc: fbc is built from the landing time in ms.
SELECT pg_temp.touch('ck4', 'https://app.example/?fbclid=IwAR_url', NULL, '2026-01-01 00:00:01.5+00');
-- URL fbclid with an _fbc about the same click: the cookie (with its older time) is kept.
SELECT pg_temp.touch('ck5', 'https://app.example/?fbclid=IwAR_same', '_fbc=fb.1.1766000000000.IwAR_same');
-- URL fbclid with an _fbc of an older, different click: the new click wins.
SELECT pg_temp.touch('ck6', 'https://app.example/?fbclid=IwAR_new', '_fbc=fb.1.1766000000000.IwAR_old');
-- URL gclid beats the cookie's older gclid.
SELECT pg_temp.touch('ck7', 'https://app.example/?gclid=url_gclid', '_gcl_aw=GCL.1767000000.cookie_gclid');
-- Malformed cookies are ignored, never fatal.
SELECT pg_temp.touch('ck8', 'https://app.example/', '_gcl_aw=GCL.notanumber.x; _fbc=fb.x.y; _fbp=garbage; ;;; =; novalue; _ttp=; li_fat_id=bad value; _uetmsclkid=nouet');
SELECT pg_temp.touch('ck9', 'https://app.example/', '  _gcl_aw = "GCL.1767000001.quoted_gclid" ; _gcl_aw=GCL.1.second');
SELECT pg_temp.touch('ck10', 'https://app.example/', repeat('a=b; ', 2000) || '_fbp=fb.2.1700000000000.42');

SELECT visitor_id, gclid, gclid_at, gbraid, gbraid_at, fbclid, fbc, fbc_at, fbp, ttp,
       li_fat_id, msclkid, clicked_at
  FROM touchpoints WHERE visitor_id LIKE 'ck%'
 ORDER BY length(visitor_id), visitor_id;

-- Click IDs in cookies recall an earlier click: they do not make this landing paid.
SELECT visitor_id, channel FROM touchpoints WHERE visitor_id IN ('ck1', 'ck7') ORDER BY visitor_id;
