#!/usr/bin/env bash
# Benchmark: ingest_webhook() with a Stripe-signed ~2 KB body against a raw
# INSERT of the same body into a plain jsonb table; pgbench, 2 clients, both
# in the same run on the same throwaway cluster, alternated ROUNDS times.
#
#     make -s install && test/bench/bench_ingest.sh      (as root or the cluster's user)
#     TX=5000 ROUNDS=2 test/bench/bench_ingest.sh        (transactions per client per run)
#
# Signing: a sender signs its events before it sends them, so the signed
# events are made before the timed runs (HMAC-SHA256 through pgcrypto's
# hmac(), one per distinct event id, with the current time as t and the
# source's tolerance raised above the run's length).  Each transaction of
# either side takes the next event by primary key from the same table, so
# the two sides differ only in what they do with the body: ingest_webhook
# (decrypt the secrets, verify, parse, de-duplicate, store in the inbox)
# against an INSERT ... body::jsonb.
set -euo pipefail

if [ -z "${PG_ATTRIBUTION_BENCH_INNER:-}" ]; then
    # Outer call: a throwaway cluster with a vault key, then this script inside it.
    key=$(mktemp /tmp/pg_attribution_bench_key.XXXXXX)
    openssl rand -hex 32 > "$key"
    chmod 600 "$key"
    [ "$(id -u)" -eq 0 ] && chown postgres "$key"
    status=0
    PG_ATTRIBUTION_BENCH_INNER=1 pg_virtualenv -v 15 \
        -o shared_preload_libraries=pg_attribution \
        -o pg_attribution.vault_key_file="$key" \
        -o max_wal_size=4GB \
        "$(readlink -f "$0")" || status=$?
    rm -f "$key"
    exit $status
fi

TX=${TX:-5000}
ROUNDS=${ROUNDS:-2}
CLIENTS=2
DB=bench_ingest
N=$(( TX * CLIENTS * ROUNDS + 100 ))
work=$(mktemp -d /tmp/pg_attribution_bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<SQL
CREATE EXTENSION pg_attribution;
CREATE EXTENSION pgcrypto;
UPDATE attribution.webhook_sources SET tolerance_seconds = 86400 WHERE source = 'stripe';
SELECT attribution.set_webhook_secret('stripe', 'whsec_bench_secret_0123456789abcdef') \gset
CREATE TABLE bench_raw (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bench_events (n int PRIMARY KEY, body text NOT NULL, signature text NOT NULL);
INSERT INTO bench_events
SELECT n, body, 't=' || t || ',v1=' || encode(hmac(t || '.' || body, 'whsec_bench_secret_0123456789abcdef', 'sha256'), 'hex')
  FROM (SELECT n, t,
               '{"id":"evt_bench_' || n || '","object":"event","api_version":"2026-06-24.dahlia","created":' || t
               || ',"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},'
               || '"type":"invoice.paid","data":{"object":{"id":"in_bench_' || n || '","object":"invoice",'
               || '"billing_reason":"subscription_cycle","amount_paid":2900,"amount_due":2900,"currency":"usd",'
               || '"customer":"cus_bench_' || (n % 1000) || '","customer_email":"user' || (n % 1000) || '@example.com",'
               || '"status":"paid","parent":{"type":"subscription_details","subscription_details":{"subscription":"sub_bench_'
               || (n % 1000) || '","metadata":{"app_user_id":"u_' || (n % 1000) || '"}}},"lines":{"object":"list","data":['
               || rtrim(repeat('{"id":"il_bench","object":"line_item","amount":2900,"currency":"usd",'
                               || '"description":"1 x Pro plan (at USD 29.00 / month)","period":{"start":1767225600,'
                               || '"end":1769904000},"pricing":{"price_details":{"price":"price_pro","product":"prod_pro"}}},', 6), ',')
               || ']}}}}' AS body
          FROM generate_series(1, $N) n,
               (SELECT extract(epoch FROM now())::bigint AS t) clock) s;
CREATE SEQUENCE ingest_seq;
CREATE SEQUENCE raw_seq;
VACUUM ANALYZE;
SQL
echo "body size: $(psql -X -At -d "$DB" -c 'SELECT round(avg(octet_length(body))) FROM bench_events') bytes, $N signed events"

cat > "$work/raw.sql" <<'SQL'
INSERT INTO bench_raw (body)
SELECT e.body::jsonb FROM bench_events e WHERE e.n = (SELECT nextval('raw_seq'));
SQL
cat > "$work/ingest.sql" <<'SQL'
SELECT (attribution.ingest_webhook('stripe', jsonb_build_object('Stripe-Signature', e.signature), e.body)).status
  FROM bench_events e WHERE e.n = (SELECT nextval('ingest_seq'));
SQL

run() {
    psql -X -q -d "$DB" -c 'CHECKPOINT'
    pgbench -n -c $CLIENTS -j $CLIENTS -t "$TX" -f "$work/$1.sql" "$DB" 2>&1 \
        | awk '/^tps = / { print $3 }'
}

results=""
for r in $(seq 1 "$ROUNDS"); do
    raw=$(run raw)
    ingest=$(run ingest)
    echo "round $r: raw INSERT jsonb ${raw} tps, ingest_webhook ${ingest} tps"
    results="$results $raw $ingest"
done

psql -X -At -d "$DB" <<'SQL'
SELECT 'stored: ' || count(*) || ' inbox rows, ' || (SELECT count(*) FROM bench_raw) || ' raw rows, '
       || (SELECT count(*) FROM attribution.webhook_rejections) || ' rejections'
  FROM attribution.webhook_inbox;
SQL
echo "$results" | awk '{ for (i = 1; i <= NF; i += 2) { raw += $i; ing += $(i + 1); n++ }
    printf "mean: raw %.0f tps, ingest_webhook %.0f tps, ratio %.2fx (goal >= 0.6x)\n", raw / n, ing / n, ing / raw }'
