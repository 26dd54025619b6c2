-- Demo, part 4: the outbox drains to the ad platforms.  Each conversion was
-- routed in the transaction that created it (a click ID of the platform
-- within its window, or a hashed e-mail); the delivery worker batches,
-- sends over HTTPS with no transaction open, and records each outcome.
\set mock_url `cat mock.url`
\echo '== Routing: what each destination claimed =='
SELECT d.name, o.kind, count(*) AS rows
  FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
 GROUP BY d.name, o.kind ORDER BY d.name, o.kind;

\echo '== A burst of faults on Meta and TikTok (503, 429 with Retry-After) while the worker drains =='
\! curl -s -k -X POST "$(cat mock.url)/_mock/faults" -H 'Content-Type: application/json' -d '[{"platform": "meta", "mode": "status", "status": 503, "count": 2}, {"platform": "tiktok", "mode": "429", "retry_after": 1, "count": 2}]' > /dev/null
SELECT attribution.replay(name, now() - interval '1 year', now()) AS requeued
  FROM attribution.destinations WHERE name IN ('meta', 'tiktok') ORDER BY name;

DO $$
BEGIN
    FOR i IN 1..120 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM attribution.outbox
                               WHERE status IN ('pending', 'in_flight', 'retry')
                                 AND next_attempt_at < now() + interval '10 seconds');
        PERFORM pg_sleep(0.5);
    END LOOP;
END $$;

\echo '== Outcomes =='
SELECT d.name, o.status, count(*) AS rows, max(o.attempts) AS max_attempts
  FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
 GROUP BY d.name, o.status ORDER BY d.name, o.status;

\echo '== The refund reached Google Ads as a conversion adjustment =='
SELECT d.name, o.payload ->> 'adjustmentType' AS adjustment, o.payload ->> 'orderId' AS order_id,
       o.payload #>> '{restatementValue,adjustedValue}' AS new_value, o.status
  FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
 WHERE o.kind = 'adjustment' ORDER BY d.name;

\echo '== Events that ended dead, with their reason =='
SELECT d.name, o.kind, o.dedup_key, o.attempts, o.last_error
  FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
 WHERE o.status = 'dead' ORDER BY d.name, o.dedup_key;

\echo '== Delivery health =='
SELECT * FROM attribution.delivery_health ORDER BY 1;
