-- Input that used to be accepted silently or fail deep inside an index:
-- landing times out of range, identifiers of a megabyte, unknown
-- currencies, webhook secrets of a byte, a partition count that exhausts
-- the lock table.  Each is refused up front with a SQLSTATE and a message.
SET timezone = 'UTC';

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- landing times: infinite or absurd ones are refused, nothing is stored
SELECT pg_temp.err($$SELECT attribution.track_touch('ib_v', 'https://app.example/?fbclid=ABC', occurred_at => 'infinity')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('ib_v', 'https://app.example/?fbclid=ABC', occurred_at => '-infinity')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('ib_v', 'https://app.example/?fbclid=ABC', occurred_at => '1969-12-31 00:00:00+00')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('ib_v', 'https://app.example/?fbclid=ABC', occurred_at => '3000-01-01 00:00:00+00')$$);
SELECT count(*) AS stored FROM attribution.touchpoints WHERE visitor_id = 'ib_v';
-- a plausible old landing is kept, its fbc built from the landing time
SELECT attribution.track_touch('ib_v', 'https://app.example/?fbclid=ABC', occurred_at => '2001-09-09 01:46:40+00') > 0 AS stored;
SELECT fbc FROM attribution.touchpoints WHERE visitor_id = 'ib_v';
-- a landing a few hours ahead (clock skew) is kept
SELECT attribution.track_touch('ib_v2', 'https://app.example/', occurred_at => now() + interval '3 hours') > 0 AS stored;

-- identifiers of a megabyte: 22023, not 54000 from an index
SELECT pg_temp.err($$SELECT attribution.track_touch(repeat('v', 1000000), 'https://app.example/')$$);
SELECT pg_temp.err($$SELECT attribution.track_touch('ib_v3', 'https://app.example/', user_id => repeat('u', 1000000))$$);
SELECT pg_temp.err($$SELECT attribution.identify(repeat('v', 1000000), 'u')$$);
SELECT pg_temp.err($$SELECT attribution.identify('ib_v', repeat('u', 1000000))$$);
SELECT pg_temp.err($$SELECT attribution.link_customer('stripe', repeat('c', 1000000), 'u')$$);
SELECT pg_temp.err($$SELECT attribution.link_customer('stripe', 'cus_ib', repeat('u', 1000000))$$);
SELECT pg_temp.err($$SELECT attribution.set_consent(repeat('u', 1000000), true)$$);
SELECT pg_temp.err($$SELECT attribution.set_predicted_ltv(repeat('u', 1000000), 10, 'USD')$$);
SELECT pg_temp.err($$SELECT attribution.create_destination(repeat('d', 1000000), 'webhook', endpoint => 'https://hooks.example.com/')$$);
-- the limit is inclusive
SELECT pg_temp.err($$SELECT attribution.identify('ib_v', repeat('u', 256))$$);
SELECT count(*) AS linked FROM attribution.identities WHERE visitor_id = 'ib_v';

-- currencies: ISO 4217 codes only, any case
SELECT c, attribution.currency_exponent(c), attribution.minor_to_major(12345, c)
  FROM (VALUES ('usd'), ('JPY'), ('KWD'), ('CLF')) t(c);
SELECT pg_temp.err($$SELECT attribution.currency_exponent('XYZ')$$);
SELECT pg_temp.err($$SELECT attribution.minor_to_major(100, 'US')$$);
SELECT pg_temp.err($$SELECT attribution.minor_to_major(100, 'bitcoin')$$);

-- webhook secrets: at least 8 bytes
SELECT pg_temp.err($$SELECT attribution.set_webhook_secret('stripe', 'x')$$);
SELECT pg_temp.err($$SELECT attribution.set_webhook_secret('stripe', '1234567')$$);

-- delivery_log partitions: bounded
SELECT pg_temp.err($$SELECT attribution.ensure_delivery_log_partitions(2147483647)$$);
SELECT pg_temp.err($$SELECT attribution.ensure_delivery_log_partitions(-1)$$);

DELETE FROM attribution.identities WHERE visitor_id = 'ib_v';
DELETE FROM attribution.touchpoints WHERE visitor_id IN ('ib_v', 'ib_v2');
