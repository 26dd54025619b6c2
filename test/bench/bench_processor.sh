#!/usr/bin/env bash
# Normalisation throughput and lag of the processor worker on a backlog of
# N Stripe invoice.paid events (default 100000), against a baseline measured
# in the same run: a plain INSERT ... SELECT of the same bodies into a jsonb
# table (parsing the JSON once and writing one row per event, the least any
# normaliser must do).
#
# Runs on a throwaway cluster; needs the extension installed:
#     flock /tmp/pg_attribution.lock ./test/bench/bench_processor.sh [N]
set -euo pipefail
N=${1:-100000}
CUSTOMERS=${CUSTOMERS:-1000}

if [ -z "${PG_BENCH_INNER:-}" ]; then
    export PG_BENCH_INNER=1
    exec pg_virtualenv -v 15 \
        -o shared_preload_libraries=pg_attribution \
        -o pg_attribution.database=postgres \
        -o pg_attribution.processor_batch_size=500 \
        -o max_worker_processes=16 \
        bash "$0" "$@"
fi

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_attribution;
SQL

# The same N bodies for both runs.
psql -X -q -v ON_ERROR_STOP=1 -v n="$N" -v customers="$CUSTOMERS" <<'SQL'
CREATE TABLE bench_bodies AS
SELECT g, format('{"id":"evt_bench_%s","object":"event","api_version":"2026-06-24.dahlia","type":"invoice.paid","created":%s,"livemode":false,"data":{"object":{"id":"in_bench_%s","object":"invoice","billing_reason":"%s","status":"paid","amount_paid":%s,"amount_due":%s,"total":%s,"currency":"usd","customer":"cus_bench_%s","customer_email":"user%s@example.com","status_transitions":{"paid_at":%s},"parent":{"type":"subscription_details","subscription_details":{"subscription":"sub_bench_%s","metadata":{"user_id":"u_bench_%s"}}}}}}',
              g, 1767225600 + g, g, CASE WHEN g <= :customers THEN 'subscription_create' ELSE 'subscription_cycle' END,
              2900, 2900, 2900, g % :customers, g % :customers, 1767225600 + g, g % :customers, g % :customers) AS body
  FROM generate_series(1, :n) g;
CREATE TABLE bench_raw (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body jsonb NOT NULL);
SQL

echo "backlog: $N events, $CUSTOMERS customers"

# Baseline: parse and store each body once.
base_ms=$(psql -X -q -t -A -v ON_ERROR_STOP=1 <<'SQL'
SELECT extract(epoch FROM clock_timestamp()) * 1000 AS t0 \gset
INSERT INTO bench_raw (body) SELECT body::jsonb FROM bench_bodies ORDER BY g;
SELECT round(extract(epoch FROM clock_timestamp()) * 1000 - :t0);
SQL
)

# Processor: queue the backlog in one transaction (its commit wakes the
# worker) and wait until the inbox is drained.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO attribution.webhook_inbox (source, event_id, event_type, body, body_sha256, received_at, next_attempt_at)
SELECT 'stripe', 'evt_bench_' || g, 'invoice.paid', body, md5(body), clock_timestamp(), clock_timestamp()
  FROM bench_bodies ORDER BY g;
SQL
start=$(date +%s.%N)
while :; do
    left=$(psql -X -q -t -A -c "SELECT backlog FROM attribution.worker_status")
    [ "$left" = "0" ] && break
    sleep 0.5
done
end=$(date +%s.%N)

psql -X -q -t -A -v ON_ERROR_STOP=1 -v base_ms="$base_ms" -v n="$N" <<'SQL'
SELECT format('baseline  INSERT ... SELECT body::jsonb: %s ms, %s events/s',
              :base_ms, round(:n / (:base_ms / 1000.0)));
SELECT format('processor normalisation: %s ms (first row received to last processed), %s events/s',
              round(extract(epoch FROM max(processed_at) - min(received_at)) * 1000),
              round(:n / extract(epoch FROM max(processed_at) - min(received_at))))
  FROM attribution.webhook_inbox WHERE event_id LIKE 'evt_bench_%';
SELECT format('ratio processor/baseline throughput: %s',
              round((:n / extract(epoch FROM max(processed_at) - min(received_at)))
                    / (:n / (:base_ms / 1000.0)), 3))
  FROM attribution.webhook_inbox WHERE event_id LIKE 'evt_bench_%';
SELECT format('lag (processed_at - received_at): p50 %s s, p99 %s s, max %s s',
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at))::numeric, 2),
              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at))::numeric, 2),
              round(max(extract(epoch FROM processed_at - received_at))::numeric, 2))
  FROM attribution.webhook_inbox WHERE event_id LIKE 'evt_bench_%';
SELECT format('ledger: %s billing events, %s conversions, inbox rows not done: %s',
              (SELECT count(*) FROM attribution.billing_events WHERE fact_key LIKE 'invoice:in_bench_%'),
              (SELECT count(*) FROM attribution.conversions WHERE customer_id LIKE 'cus_bench_%'),
              (SELECT count(*) FROM attribution.webhook_inbox WHERE event_id LIKE 'evt_bench_%' AND status <> 'done'));
SQL
echo "wall clock until worker_status showed an empty backlog: $(echo "$end - $start" | bc) s"
