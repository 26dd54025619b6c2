-- Every click-id column track_touch writes is read back, each from its own
-- URL parameter, so that one stored in another's column shows; and the
-- click time recalls the newest of the cookie clicks.
SET timezone = 'UTC';

SELECT attribution.track_touch('cid_all',
    'https://app.example/?gclid=G_url&gbraid=GB_url&wbraid=WB_url&dclid=DC_url&fbclid=FB_url'
    || '&ttclid=TT_url&li_fat_id=LI_url&msclkid=MS_url&twclid=TW_url',
    occurred_at => '2026-01-05 10:00:00+00') > 0 AS stored;
SELECT gclid, gbraid, wbraid, dclid, fbclid, ttclid, li_fat_id, msclkid, twclid, fbc, clicked_at
  FROM attribution.touchpoints WHERE visitor_id = 'cid_all';

-- one parameter at a time: the value lands in its column and no other
SELECT count(attribution.track_touch('cid_' || p, 'https://app.example/?' || p || '=X1',
                                     occurred_at => '2026-01-05 10:00:00+00')) AS stored
  FROM unnest(ARRAY['gclid', 'gbraid', 'wbraid', 'dclid', 'fbclid', 'ttclid', 'li_fat_id', 'msclkid', 'twclid']) p;
SELECT visitor_id,
       concat_ws(',', CASE WHEN gclid IS NOT NULL THEN 'gclid' END, CASE WHEN gbraid IS NOT NULL THEN 'gbraid' END,
                 CASE WHEN wbraid IS NOT NULL THEN 'wbraid' END, CASE WHEN dclid IS NOT NULL THEN 'dclid' END,
                 CASE WHEN fbclid IS NOT NULL THEN 'fbclid' END, CASE WHEN ttclid IS NOT NULL THEN 'ttclid' END,
                 CASE WHEN li_fat_id IS NOT NULL THEN 'li_fat_id' END, CASE WHEN msclkid IS NOT NULL THEN 'msclkid' END,
                 CASE WHEN twclid IS NOT NULL THEN 'twclid' END) AS columns
  FROM attribution.touchpoints
 WHERE visitor_id IN ('cid_gclid', 'cid_gbraid', 'cid_wbraid', 'cid_dclid', 'cid_fbclid', 'cid_ttclid',
                      'cid_li_fat_id', 'cid_msclkid', 'cid_twclid')
 ORDER BY visitor_id;

-- two cookie clicks: a gclid cookie (2026-01-01) and a newer _fbc click
-- (2026-01-03); the landing itself has no click in its URL
SELECT attribution.track_touch('cid_cookies', 'https://app.example/',
    occurred_at => '2026-01-05 10:00:00+00',
    cookies => '_gcl_aw=GCL.1767225600.G_cookie; _fbc=fb.1.1767398400000.FB_cookie') > 0 AS stored;
SELECT gclid, gclid_at, fbc, fbc_at, clicked_at FROM attribution.touchpoints WHERE visitor_id = 'cid_cookies';
-- the same with the gclid the newer one
SELECT attribution.track_touch('cid_cookies2', 'https://app.example/',
    occurred_at => '2026-01-05 10:00:00+00',
    cookies => '_gcl_aw=GCL.1767398400.G_cookie; _gcl_gb=GCL.1767312000.GB_cookie; _fbc=fb.1.1767225600000.FB_cookie') > 0 AS stored;
SELECT gclid_at, gbraid, gbraid_at, fbc_at, clicked_at FROM attribution.touchpoints WHERE visitor_id = 'cid_cookies2';

-- routing: two gclids of one user in the window, the newer recorded
-- first; the newest click is the one sent
SELECT attribution.track_touch('cid_route', 'https://app.example/?gclid=G_newer', occurred_at => '2026-01-04 00:00:00+00',
                               user_id => 'cid_user') > 0 AS stored;
SELECT attribution.track_touch('cid_route', 'https://app.example/?gclid=G_older', occurred_at => '2026-01-02 00:00:00+00',
                               user_id => 'cid_user') > 0 AS stored;
SELECT attribution.track_touch('cid_route', 'https://app.example/?gclid=G_after', occurred_at => '2026-01-09 00:00:00+00',
                               user_id => 'cid_user') > 0 AS stored;
SELECT gclid FROM attribution._click_facts('cid_user', '2026-01-05 00:00:00+00', '30 days');
SELECT gclid FROM attribution._click_facts('cid_user', '2026-01-03 00:00:00+00', '30 days');

DELETE FROM attribution.touchpoints WHERE visitor_id LIKE 'cid\_%';
