-- Referral platforms become referral facts (never conversions); Segment and
-- RudderStack page and identify calls become touchpoints and identities.
SET timezone = 'UTC';

CREATE TEMP TABLE mine (id bigint PRIMARY KEY);
CREATE FUNCTION pg_temp.enqueue(p_source text, p_body text, p_received timestamptz DEFAULT now(),
                                p_event_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql AS $fn$
    WITH ins AS (
        INSERT INTO attribution.webhook_inbox
            (source, event_id, event_type, body, body_sha256, received_at, next_attempt_at)
        SELECT p_source,
               coalesce(p_event_id, b->>'id', b->>'event_id', md5(p_body)),
               coalesce(b->>'type', b->>'event_type', b#>>'{meta,event_name}'),
               p_body, encode(sha256(convert_to(p_body, 'UTF8')), 'hex'), p_received, p_received
          FROM (SELECT p_body::jsonb AS b) s
        RETURNING id)
    INSERT INTO mine SELECT id FROM ins RETURNING id
$fn$;

-- Process this test's rows now.  The processor worker may hold some of
-- them (process_inbox skips locked rows): wait for its lock, then process
-- what is left, so the checks below never race the worker.
CREATE FUNCTION pg_temp.drain() RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM 1 FROM attribution.webhook_inbox WHERE id IN (SELECT id FROM mine) FOR UPDATE;
    PERFORM attribution.process_inbox();
    RETURN NOT EXISTS (SELECT 1 FROM attribution.webhook_inbox
                        WHERE id IN (SELECT id FROM mine) AND status = 'pending');
END $fn$;

\set fb_reward `cat test/fixtures/friendbuy/advocate_reward.json`
\set fb_batch `cat test/fixtures/friendbuy/advocate_reward_batch.json`
\set mm_referral `cat test/fixtures/mentionme/referral_created.json`
\set ex_reward `cat test/fixtures/extole/reward_earned.json`
\set seg_page `cat test/fixtures/segment/page.json`
\set seg_identify `cat test/fixtures/segment/identify.json`
\set seg_track `cat test/fixtures/segment/track_order_completed.json`
\set rs_page `cat test/fixtures/rudderstack/page.json`
\set rs_identify `cat test/fixtures/rudderstack/identify.json`

-- The signature vectors' bodies, under event ids of this test's own.
SELECT count(pg_temp.enqueue('friendbuy', :'fb_reward', '2026-01-01 00:00:02+00', 'fixture-fb-1')) AS queued;
SELECT count(pg_temp.enqueue('friendbuy', :'fb_batch', '2026-02-01 09:05:02+00', 'fixture-fb-2')) AS queued;
SELECT count(pg_temp.enqueue('mentionme', :'mm_referral', '2026-01-02 00:00:00+00', 'fixture-mm-1')) AS queued;
SELECT count(pg_temp.enqueue('extole', :'ex_reward', '2026-01-03 00:00:00+00', 'fixture-ex-1')) AS queued;
SELECT pg_temp.drain() AS processed;
SELECT source, status, count(*) FROM attribution.webhook_inbox
 WHERE id IN (SELECT id FROM mine) GROUP BY source, status ORDER BY source;

SELECT source, kind, fact_key, user_id, customer_ref, email_sha256 IS NOT NULL AS email_hashed,
       reward_amount, currency, occurred_at
  FROM attribution.referral_events
 WHERE fact_key IN ('reward:r-2', 'reward:r-3', 'event:fixture-mm-1')
 ORDER BY source, fact_key;
-- The contract-vector rewards may already have been recorded from the same
-- events ingested by an earlier test: each fact is there exactly once.
SELECT source, fact_key, count(*) AS facts, min(user_id) AS user_id
  FROM attribution.referral_events
 WHERE fact_key IN ('reward:r-1', 'event:qb3jju459ugjr2aojk5e')
 GROUP BY source, fact_key ORDER BY source;
SELECT details FROM attribution.referral_events
 WHERE inbox_id IN (SELECT id FROM mine) AND fact_key = 'reward:r-2';
-- Rewards are not revenue: no billing fact from this test's rows, no
-- conversion for the rewarded users of its own.
SELECT (SELECT count(*) FROM attribution.billing_events WHERE inbox_id IN (SELECT id FROM mine)) AS billing_facts,
       (SELECT count(*) FROM attribution.conversions WHERE user_id IN ('u_fb_2', 'u_fb_3')) AS conversions;

-- Re-processing does not repeat a reward.
UPDATE attribution.webhook_inbox SET status = 'pending', next_attempt_at = now()
 WHERE id IN (SELECT id FROM mine);
SELECT pg_temp.drain() AS processed;
SELECT status, count(*) FROM attribution.webhook_inbox
 WHERE id IN (SELECT id FROM mine) GROUP BY status ORDER BY status;
SELECT count(*) AS rewards FROM attribution.referral_events
 WHERE fact_key IN ('reward:r-1', 'reward:r-2', 'reward:r-3', 'event:fixture-mm-1',
                    'event:qb3jju459ugjr2aojk5e');

-- Segment and RudderStack.
SELECT count(pg_temp.enqueue(src, body, '2026-01-12 00:00:00+00'))
  FROM (VALUES ('segment', :'seg_page'), ('segment', :'seg_identify'), ('segment', :'seg_track'),
               ('rudderstack', :'rs_page'), ('rudderstack', :'rs_identify')) AS v(src, body);
SELECT pg_temp.drain() AS processed;
SELECT source, event_type, status FROM attribution.webhook_inbox
 WHERE id IN (SELECT id FROM mine) AND source IN ('segment', 'rudderstack')
 ORDER BY id;
SELECT visitor_id, user_id, occurred_at, host, path, channel, utm_source, utm_medium, utm_campaign,
       gclid, referral_code, referrer_host, ip, user_agent
  FROM attribution.touchpoints
 WHERE visitor_id IN ('anon-seg-1', 'anon-rs-1')
 ORDER BY visitor_id, occurred_at;
SELECT visitor_id, user_id FROM attribution.identities
 WHERE visitor_id IN ('anon-seg-1', 'anon-rs-1')
 ORDER BY visitor_id;
SELECT user_id, touch_number, channel FROM attribution.journeys
 WHERE user_id IN ('u_seg_1', 'u_rs_1')
 ORDER BY user_id, touch_number;
