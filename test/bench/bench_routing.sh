#!/usr/bin/env bash
# Benchmark: what routing adds to recording a conversion.  The same N
# conversions (each with its billing event) are inserted twice into a
# throwaway cluster: once with the routing trigger, five enabled
# destinations (Google, Meta, TikTok, LinkedIn, webhook) and users with
# three touches each, once with the trigger disabled (the baseline: the
# ledger insert alone).  Alternated ROUNDS times; prints times and ratios.
#
#     make -s install && test/bench/bench_routing.sh          (as root or the cluster's user)
#     N=20000 ROUNDS=3 test/bench/bench_routing.sh
set -euo pipefail

if [ -z "${PG_ATTRIBUTION_BENCH_INNER:-}" ]; then
    PG_ATTRIBUTION_BENCH_INNER=1 exec pg_virtualenv -v 15 \
        -o shared_preload_libraries=pg_attribution \
        "$(readlink -f "$0")"
fi

N=${N:-5000}
ROUNDS=${ROUNDS:-2}
DB=bench_routing

createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<SQL
CREATE EXTENSION pg_attribution;
INSERT INTO attribution.destinations (name, platform, endpoint, account, kind_map, click_window, max_event_age)
VALUES ('g', 'google_ads', 'https://googleads.googleapis.com', '{"customer_id": "1234567890"}',
        '{"subscription_started": "555", "renewal": "556"}', '90 days', '90 days'),
       ('m', 'meta', 'https://graph.facebook.com', '{"pixel_id": "1"}', '{}', '28 days', '7 days'),
       ('t', 'tiktok', 'https://business-api.tiktok.com', '{}', '{}', '28 days', '28 days'),
       ('l', 'linkedin', 'https://api.linkedin.com', '{}', '{"subscription_started": 1, "renewal": 1}', '90 days', '90 days'),
       ('w', 'webhook', 'https://hooks.example.com/c', '{}', '{}', '90 days', '90 days');
-- N users, three touches each (a gclid, an fbc/fbp, a ttclid/li_fat_id), a linked customer
INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel, gclid, gclid_at,
                                     fbc, fbc_at, fbp, ttclid, ttp, li_fat_id, clicked_at, ip, user_agent)
SELECT 'v' || u, 'u' || u, now() - (k || ' days')::interval, 'https://app.example.com/', 'paid',
       CASE k WHEN 1 THEN 'G' || u END, CASE k WHEN 1 THEN now() - interval '1 day' END,
       CASE k WHEN 2 THEN 'fb.1.1.' || u END, CASE k WHEN 2 THEN now() - interval '2 days' END,
       CASE k WHEN 2 THEN 'fb.1.2.' || u END, CASE k WHEN 3 THEN 'TT' || u END,
       CASE k WHEN 3 THEN 'ttp' || u END, CASE k WHEN 3 THEN 'LI' || u END,
       now() - (k || ' days')::interval, '203.0.113.7', 'Mozilla/5.0'
  FROM generate_series(1, $N) u, generate_series(1, 3) k;
INSERT INTO attribution.customers (provider, customer_id, user_id, email_sha256, email_sha256_google)
SELECT 'stripe', 'c' || u, 'u' || u, encode(sha256(('u' || u || '@example.com')::bytea), 'hex'),
       encode(sha256(('u' || u || '@example.com')::bytea), 'hex')
  FROM generate_series(1, $N) u;
ANALYZE;
CREATE FUNCTION bench_insert(p_round text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    WITH b AS (
        INSERT INTO attribution.billing_events (provider, kind, fact_key, customer_id, object_id,
                                                amount_minor, currency, occurred_at, user_id)
        SELECT 'stripe', 'subscription_started', p_round || ':' || u, 'c' || u, p_round || '_in_' || u,
               2900, 'USD', now() - interval '1 hour', 'u' || u
          FROM generate_series(1, $N) u
        RETURNING id, customer_id, user_id, occurred_at)
    INSERT INTO attribution.conversions (billing_event_id, provider, customer_id, user_id, kind,
                                         occurred_at, value_minor, currency, value, ltv_minor)
    SELECT b.id, 'stripe', b.customer_id, b.user_id, 'subscription_started', b.occurred_at,
           2900, 'USD', 29.00, 2900
      FROM b;
    RETURN extract(epoch FROM clock_timestamp() - t0);
END
\$\$;
SQL

echo "conversions per run: $N; destinations: 5 (google_ads, meta, tiktok, linkedin, webhook)"
for r in $(seq 1 "$ROUNDS"); do
    base=$(psql -X -qAt -d "$DB" -c "ALTER TABLE attribution.conversions DISABLE TRIGGER conversions_route" \
                               -c "SELECT bench_insert('base$r')" \
                               -c "ALTER TABLE attribution.conversions ENABLE TRIGGER conversions_route")
    routed=$(psql -X -qAt -d "$DB" -c "SELECT bench_insert('routed$r')")
    rows=$(psql -X -qAt -d "$DB" -c "SELECT count(*) FROM attribution.outbox WHERE dedup_key LIKE 'routed${r}_%'")
    awk -v b="$base" -v t="$routed" -v n="$N" -v rows="$rows" -v r="$r" 'BEGIN {
        printf "round %d: ledger insert %.3f s (%.0f conv/s); with routing %.3f s (%.0f conv/s, %d outbox rows, %.2f ms per conversion); ratio %.1fx\n",
               r, b, n / b, t, n / t, rows, 1000 * t / n, t / b }'
done
