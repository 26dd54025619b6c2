-- Delivery administration: who may configure destinations, the checks on
-- their settings, and requeueing with replay() and retry_dead().
SET timezone = 'UTC';

-- Privileges: the admin configures destinations; the application and the
-- analyst may not, and nobody but the admin reads the outbox.
SET ROLE attribution_admin;
SELECT attribution.create_destination('a_meta', 'meta', '{"pixel_id": "42"}') > 0 AS created;
SELECT name, platform, endpoint, click_window, max_event_age, adjustment_max_age,
       adjustment_policy, batch_size, enabled
  FROM attribution.destinations WHERE name = 'a_meta';
SELECT attribution.create_destination('a_google', 'google_ads', '{"customer_id": "1234567890"}',
                                      '{"subscription_started": "555"}') > 0 AS created;
SELECT name, endpoint, max_event_age, adjustment_policy, batch_size
  FROM attribution.destinations WHERE name = 'a_google';
SELECT attribution.create_destination('a_hook', 'webhook', endpoint => 'https://hooks.example.com/in') > 0 AS created;
SELECT attribution.create_destination('a_tiktok', 'tiktok') > 0 AS created;
SELECT attribution.create_destination('a_linkedin', 'linkedin') > 0 AS created;
SELECT name, platform, max_event_age, click_window, adjustment_policy, batch_size
  FROM attribution.destinations WHERE name IN ('a_hook', 'a_tiktok', 'a_linkedin') ORDER BY name;
UPDATE attribution.destinations SET rate_limit_per_sec = 50 WHERE name = 'a_meta';
SELECT count(*) AS outbox_visible FROM attribution.outbox WHERE false;
RESET ROLE;

SET ROLE attribution_app;
DO $$
BEGIN
    UPDATE attribution.destinations SET enabled = false WHERE name = 'a_meta';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.replay('a_meta', now() - interval '1 day', now());
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.build_payload(1, 1);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
-- the application records consent
SELECT attribution.set_consent('a_user', true);
RESET ROLE;

SET ROLE attribution_analyst;
DO $$
BEGIN
    PERFORM count(*) FROM attribution.outbox;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.retry_dead('a_meta');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;

-- Settings are checked when written.
DO $$
BEGIN
    PERFORM attribution.create_destination('a_bad', 'google_ads');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    UPDATE attribution.destinations SET adjustment_policy = 'restate' WHERE name = 'a_meta';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    UPDATE attribution.destinations SET adjustment_policy = 'negative_event' WHERE name = 'a_google';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    UPDATE attribution.destinations SET kind_map = '{"renewal": ["a"]}' WHERE name = 'a_meta';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    UPDATE attribution.destinations SET endpoint = 'ftp://example.com' WHERE name = 'a_meta';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    UPDATE attribution.destinations SET account = '{"pixel_id": "42", "action_source": "website"}' WHERE name = 'a_meta';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.create_destination('a_x', 'myspace');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;

-- Requeueing.  Outbox rows in every state for a_meta, written here
-- directly (the worker writes them in production); the destination is
-- paused so that a delivery worker running in this database leaves them.
UPDATE attribution.destinations SET paused_until = 'infinity', pause_reason = 'test' WHERE name = 'a_meta';
INSERT INTO attribution.outbox (destination_id, kind, dedup_key, payload, event_time, status,
                                attempts, last_error, last_http_status, request_id, delivered_at,
                                next_attempt_at, queued_at)
SELECT d.id, 'conversion', 'a_evt_' || s.n, '{}', '2026-01-01 00:00:00+00'::timestamptz + s.n * interval '1 day',
       s.status, 3, s.err, s.http, 'req-' || s.n,
       CASE WHEN s.status = 'delivered' THEN '2026-03-01 00:00:00+00'::timestamptz END,
       '2026-03-01 00:00:00+00', '2026-03-01 00:00:00+00'
  FROM attribution.destinations d,
       (VALUES (1, 'delivered', NULL, 200), (2, 'dead', 'meta 100/2804003 Event Timestamp Too Old', 400),
               (3, 'expired', 'older than max_event_age', NULL), (4, 'pending', NULL, NULL),
               (5, 'dead', 'meta 190 invalid token', 400), (6, 'delivered', NULL, 200),
               (7, 'retry', 'http 503', 503), (8, 'dead', 'http 400 bad request', 400))
       AS s(n, status, err, http)
 WHERE d.name = 'a_meta';

SET ROLE attribution_admin;
-- events of Jan 2 .. Jan 5 (a_evt_1 .. a_evt_4): the delivered, dead and
-- expired rows requeue; the pending one stays as it is
SELECT attribution.replay('a_meta', '2026-01-02', '2026-01-06') AS replayed;
-- the remaining dead rows whose error matches
SELECT attribution.retry_dead('a_meta', '%invalid token%') AS retried_matching;
SELECT attribution.retry_dead('a_meta') AS retried_all;
SELECT attribution.retry_dead('a_meta') AS retried_again;
SELECT dedup_key, status, attempts, last_error, last_http_status, request_id, delivered_at,
       next_attempt_at <= now() AS due_now, queued_at > '2026-03-01' AS requeued
  FROM attribution.outbox o
 WHERE o.destination_id = (SELECT id FROM attribution.destinations WHERE name = 'a_meta')
 ORDER BY dedup_key;
DO $$
BEGIN
    PERFORM attribution.replay('a_nowhere', now() - interval '1 day', now());
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
    PERFORM attribution.replay('a_meta', '2026-02-01', '2026-01-01');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
RESET ROLE;

DELETE FROM attribution.destinations WHERE name LIKE 'a\_%';
