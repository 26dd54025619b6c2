-- The delivery worker's SQL steps: claim (with expiry before batching),
-- record (outcomes, backoff, exhaustion, claim tokens), requeue functions,
-- pause and resume, log partitions and retention, the health view, grants.
-- Destinations stay disabled so the running worker leaves them alone.

INSERT INTO attribution.destinations (name, platform, endpoint, enabled, max_event_age, max_attempts,
                                      backoff_base, backoff_cap, retry_window)
VALUES ('regress_meta', 'meta', 'https://graph.invalid', false, '7 days', 3,
        '10 seconds', '1 minute', '1 day');

INSERT INTO attribution.outbox (destination_id, kind, dedup_key, payload, event_time)
SELECT d.id, 'conversion', k, jsonb_build_object('event_id', k), now() - age
FROM attribution.destinations d,
     (VALUES ('e1', interval '1 hour'), ('e2', '2 hours'), ('e3', '3 hours'),
             ('e4', '4 hours'), ('e5', '5 hours'), ('stale', '8 days')) AS v(k, age)
WHERE d.name = 'regress_meta';

-- The stale event expires at claim time; the others are claimed once.
SELECT dedup_key, claim, kind, payload
FROM attribution._claim_batch((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'), 10, '5 minutes')
ORDER BY dedup_key;

SELECT dedup_key, status, attempts, lease_until IS NOT NULL AS leased, last_error
FROM attribution.outbox ORDER BY dedup_key;

-- Nothing is due any more.
SELECT count(*) FROM attribution._claim_batch((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'), 10, '5 minutes');

-- One outcome of each kind; e5 is recorded with a stale claim and is skipped.
SELECT attribution._record_outcomes(
    d.id,
    ARRAY(SELECT id FROM attribution.outbox WHERE dedup_key IN ('e1', 'e2', 'e3', 'e4', 'e5') ORDER BY dedup_key),
    ARRAY[1, 1, 1, 1, 7],
    ARRAY['delivered', 'duplicate', 'retry', 'hold', 'dead'],
    ARRAY[NULL, 'ORDER_ID_ALREADY_IN_USE', 'HTTP_503', 'META_190_463', 'X'],
    ARRAY[NULL, 'already uploaded', 'server error', 'Session has expired', 'x'],
    ARRAY[0, 0, 3600, 0, 0]::float8[],
    200, 'req-1', 12.5)
FROM attribution.destinations d WHERE d.name = 'regress_meta';

SELECT dedup_key, status, attempts, lease_until IS NULL AS released, last_error, last_http_status,
       request_id, delivered_at IS NOT NULL AS has_delivered_at,
       CASE WHEN status = 'retry' THEN next_attempt_at > now() + interval '59 minutes' END AS waits_retry_after
FROM attribution.outbox ORDER BY dedup_key;

SELECT o.dedup_key, l.status, l.http_status, l.error_code, l.error, l.latency_ms, l.request_id
FROM attribution.delivery_log l JOIN attribution.outbox o ON o.id = l.outbox_id
ORDER BY o.dedup_key, l.status;

-- Backoff without Retry-After: full jitter within [0, base * 2^(attempt-1)].
UPDATE attribution.outbox SET next_attempt_at = now() - interval '1 second' WHERE dedup_key = 'e3';
SELECT dedup_key, claim FROM attribution._claim_batch((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'), 1, '5 minutes');
SELECT attribution._record_outcomes(d.id, ARRAY[o.id], ARRAY[o.attempts], ARRAY['retry'], ARRAY['HTTP_500'],
                                    ARRAY['server error'], ARRAY[0]::float8[], 500, NULL, 3)
FROM attribution.destinations d JOIN attribution.outbox o ON o.destination_id = d.id
WHERE d.name = 'regress_meta' AND o.dedup_key = 'e3';
SELECT status, attempts, next_attempt_at <= clock_timestamp() + interval '20 seconds' AS within_cap
FROM attribution.outbox WHERE dedup_key = 'e3';

-- The third attempt is the last (max_attempts 3): a retry becomes dead.
UPDATE attribution.outbox SET next_attempt_at = now() - interval '1 second' WHERE dedup_key = 'e3';
SELECT dedup_key, claim FROM attribution._claim_batch((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'), 1, '5 minutes');
SELECT attribution._record_outcomes(d.id, ARRAY[o.id], ARRAY[o.attempts], ARRAY['retry'], ARRAY['HTTP_500'],
                                    ARRAY['server error'], ARRAY[0]::float8[], 500, NULL, 3)
FROM attribution.destinations d JOIN attribution.outbox o ON o.destination_id = d.id
WHERE d.name = 'regress_meta' AND o.dedup_key = 'e3';
SELECT status, attempts, last_error FROM attribution.outbox WHERE dedup_key = 'e3';

-- Requeue: dead rows, then a replay of delivered ones by event time.
SELECT attribution.retry_dead('regress_meta');
SELECT dedup_key, status, attempts FROM attribution.outbox WHERE dedup_key = 'e3';
SELECT attribution.replay('regress_meta', now() - interval '150 minutes', now());
SELECT dedup_key, status, attempts, delivered_at FROM attribution.outbox ORDER BY dedup_key;

-- Pause for an invalid credential; a new token lifts it.
SELECT attribution._pause_destination(d.id, 'credential_invalid', 'META_190_463: Session has expired')
FROM attribution.destinations d WHERE d.name = 'regress_meta';
SELECT paused_until, pause_reason FROM attribution.destinations WHERE name = 'regress_meta';
SELECT attribution.set_credential('regress_meta', 'new-token') > 0 AS stored;
SELECT paused_until, pause_reason FROM attribution.destinations WHERE name = 'regress_meta';
SELECT attribution.resume_destination((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'));

-- Breaker transitions are durable and logged.
SELECT attribution._set_breaker(d.id, 'open', 5, 'breaker_open', 'HTTP_503: server error')
FROM attribution.destinations d WHERE d.name = 'regress_meta';
SELECT breaker_state, breaker_failures, breaker_opened_at IS NOT NULL AS opened
FROM attribution.destinations WHERE name = 'regress_meta';
SELECT attribution._set_breaker(d.id, 'closed', 0, 'breaker_closed', 'request succeeded')
FROM attribution.destinations d WHERE d.name = 'regress_meta';
SELECT event, detail FROM attribution.destination_events ORDER BY id;

-- Health per destination.
SELECT name, platform, backlog, in_flight, dead, expired, delivered_last_hour, attempts_last_hour,
       error_rate_last_hour, breaker_state, paused_until, pause_reason
FROM attribution.delivery_health ORDER BY name;

-- Partitions: this month and two ahead exist; calling again creates none.
SELECT count(*) >= 3 AS has_partitions
FROM pg_inherits WHERE inhparent = 'attribution.delivery_log'::regclass;
SELECT attribution.ensure_delivery_log_partitions();
INSERT INTO attribution.delivery_log (attempted_at, outbox_id, destination_id, status)
VALUES ('2020-01-15 00:00+00', 0, 0, 'delivered');
SELECT attribution.purge_delivery_log('365 days');
SELECT count(*) FROM attribution.delivery_log WHERE attempted_at < '2021-01-01';

-- Grants: analysts read the health view, not the tables or the functions.
SET ROLE attribution_analyst;
SELECT count(*) FROM attribution.delivery_health;
DO $$ BEGIN PERFORM 1 FROM attribution.destinations; EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM; END $$;
DO $$ BEGIN PERFORM attribution.retry_dead('regress_meta'); EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM; END $$;
RESET ROLE;
SET ROLE attribution_admin;
SELECT attribution.retry_dead('regress_meta');
DO $$ BEGIN PERFORM * FROM attribution._claim_batch(1, 1, '1 minute'); EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM; END $$;
RESET ROLE;

-- The wake-up is transactional: a no-op outside a preloaded server's worker.
SELECT attribution._wake_delivery();

-- An adjustment waits while the conversion it adjusts (adjustment_links)
-- is pending, in flight or submitted, and goes once that was sent.
DELETE FROM attribution.outbox WHERE destination_id = (SELECT id FROM attribution.destinations WHERE name = 'regress_meta');
WITH be AS (
    INSERT INTO attribution.billing_events (provider, kind, fact_key, object_id, amount_minor, currency, occurred_at)
    VALUES ('stripe', 'renewal', 'ord1:renewal', 'ord1', 100, 'USD', now()),
           ('stripe', 'refund', 'ord1:refund', 'rf1', -100, 'USD', now()),
           ('stripe', 'renewal', 'ord2:renewal', 'ord2', 100, 'USD', now()),
           ('stripe', 'refund', 'ord2:refund', 'rf2', -100, 'USD', now())
    RETURNING id, fact_key, kind, amount_minor
)
INSERT INTO attribution.conversions (billing_event_id, provider, kind, occurred_at, value_minor, currency, value, ltv_minor)
SELECT be.id, 'stripe', be.kind, now(), be.amount_minor, 'USD', be.amount_minor / 100.0, 0 FROM be;
INSERT INTO attribution.adjustment_links (adjustment_id, original_id)
SELECT a.id, o.id
FROM attribution.conversions a
JOIN attribution.billing_events ab ON ab.id = a.billing_event_id
JOIN attribution.billing_events ob ON ob.fact_key = split_part(ab.fact_key, ':', 1) || ':renewal'
JOIN attribution.conversions o ON o.billing_event_id = ob.id
WHERE ab.fact_key IN ('ord1:refund', 'ord2:refund')
ON CONFLICT (adjustment_id) DO NOTHING;
INSERT INTO attribution.outbox (destination_id, conversion_id, kind, dedup_key, payload, event_time)
SELECT d.id, c.id, v.kind, v.k, v.payload, now()
FROM attribution.destinations d,
     (VALUES ('conversion', 'ord1', 'ord1:renewal', '{"orderId": "ord1"}'::jsonb),
             ('adjustment', 'ord1:retract', 'ord1:refund', '{"orderId": "ord1", "adjustmentType": "RETRACTION"}'),
             ('adjustment', 'ord2:retract', 'ord2:refund', '{"orderId": "ord2", "adjustmentType": "RETRACTION"}')) AS v(kind, k, fact, payload)
JOIN attribution.billing_events b ON b.fact_key = v.fact
JOIN attribution.conversions c ON c.billing_event_id = b.id
WHERE d.name = 'regress_meta';
SELECT kind, dedup_key FROM attribution._claim_batch((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'), 10, '5 minutes')
ORDER BY dedup_key;
SELECT kind, dedup_key FROM attribution._claim_batch((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'), 10, '5 minutes');
UPDATE attribution.outbox SET status = 'submitted', lease_until = NULL
WHERE dedup_key = 'ord1' AND destination_id = (SELECT id FROM attribution.destinations WHERE name = 'regress_meta');
SELECT kind, dedup_key FROM attribution._claim_batch((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'), 10, '5 minutes');
UPDATE attribution.outbox SET status = 'delivered', delivered_at = now(), lease_until = NULL
WHERE dedup_key = 'ord1' AND destination_id = (SELECT id FROM attribution.destinations WHERE name = 'regress_meta');
SELECT kind, dedup_key FROM attribution._claim_batch((SELECT id FROM attribution.destinations WHERE name = 'regress_meta'), 10, '5 minutes');

DELETE FROM attribution.delivery_log WHERE destination_id = (SELECT id FROM attribution.destinations WHERE name = 'regress_meta');
DELETE FROM attribution.destinations WHERE name = 'regress_meta';
