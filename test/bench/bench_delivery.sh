#!/usr/bin/env bash
# Delivery throughput and latency, against test/bench/platform_sink.py:
#   1. N events (default 100000) queued for a Meta destination, batches of
#      1000: events delivered per second;
#   2. the same worker with batch_size = 1 (one request per event, the
#      pattern of one-request-per-row HTTP extensions) on BASE events
#      (default 5000): events per second; the ratio of the two;
#   3. commit-to-delivered latency at low load: LAT single-event commits
#      (default 200), 20 ms apart: p50 and p99.
# SINK_DELAY_MS (default 0) makes the sink answer each request that much
# later, as a platform across the internet does (tens of ms).
# Runs on a throwaway cluster; as root (or a sudoer) after `make install`:
#     ./test/bench/bench_delivery.sh [N] [BASE] [LAT]
# Measured on the 2-core development VM (shared, load ~1.2-1.6), PG 15:
#     ./test/bench/bench_delivery.sh 100000 5000 200
#       batched 17,376 events/s; one request per event 556 events/s (31x);
#       commit-to-delivered p50 21.3 ms, p99 35.0 ms
#     SINK_DELAY_MS=50 ./test/bench/bench_delivery.sh 100000 2000 200
#       batched 18,167 events/s; one request per event 141 events/s (129x);
#       p50 69.0 ms, p99 81.2 ms (50 ms of it the emulated platform)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
BASE=${2:-5000}
LAT=${3:-200}
top=$(pwd)

keyfile=$(mktemp /tmp/pg_attribution_bench_key.XXXXXX)
printf '%064d\n' 7 > "$keyfile"
[ "$(id -u)" -eq 0 ] && chown postgres "$keyfile"
chmod 600 "$keyfile"
inner=$(mktemp /tmp/pg_attribution_bench.XXXXXX)
cat > "$inner" <<'INNER'
#!/usr/bin/env bash
set -euo pipefail
port=$(( 20000 + RANDOM % 20000 ))
python3 "$TOP/test/bench/platform_sink.py" "$port" > /tmp/pg_attribution_sink.$$ 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q ready /tmp/pg_attribution_sink.$$ && break; sleep 0.1; done
url="http://127.0.0.1:$port"
if [ "${SINK_DELAY_MS:-0}" != 0 ]; then
  curl -s -X POST -d "{\"delay_s\": $(printf "%.3f" "$(echo "$SINK_DELAY_MS / 1000" | bc -l)")}" "$url/_config" >/dev/null
fi
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }

q "CREATE EXTENSION pg_attribution"
q "INSERT INTO attribution.destinations (name, platform, endpoint, account, batch_size,
       rate_limit_per_sec, max_in_flight, enabled)
   VALUES ('bench_batched', 'meta', '$url', '{\"pixel_id\":\"1\",\"api_version\":\"v25.0\"}', 1000, 1000, 8, false),
          ('bench_single', 'meta', '$url', '{\"pixel_id\":\"2\",\"api_version\":\"v25.0\"}', 1, 100000, 8, false),
          ('bench_latency', 'meta', '$url', '{\"pixel_id\":\"3\",\"api_version\":\"v25.0\"}', 1000, 1000, 8, true)"
q "SELECT attribution.set_credential(name, 'tok') FROM attribution.destinations"

enqueue() {  # destination, count, key prefix
  q "INSERT INTO attribution.outbox (destination_id, kind, dedup_key, payload, event_time)
     SELECT d.id, 'conversion', '$3' || g,
            jsonb_build_object('event_name', 'Purchase', 'event_time', extract(epoch FROM now())::bigint,
                               'event_id', '$3' || g, 'action_source', 'system_generated',
                               'user_data', jsonb_build_object('em', jsonb_build_array(md5(g::text) || md5(g::text))),
                               'custom_data', jsonb_build_object('value', 29.0, 'currency', 'USD')),
            now()
     FROM attribution.destinations d, generate_series(1, $2) g WHERE d.name = '$1'"
}

run() {  # destination, count: seconds from enabling to all delivered
  local start end
  start=$(date +%s.%N)
  q "UPDATE attribution.destinations SET enabled = true WHERE name = '$1'; SELECT attribution._wake_delivery();" >/dev/null
  # cheap (index-only) check, so that polling does not compete with the worker
  local id
  id=$(q "SELECT id FROM attribution.destinations WHERE name = '$1'")
  while [ "$(q "SELECT EXISTS (SELECT 1 FROM attribution.outbox WHERE destination_id = $id AND status IN ('pending', 'retry'))
                    OR EXISTS (SELECT 1 FROM attribution.outbox WHERE status = 'in_flight' AND destination_id = $id)")" = t ]; do
    sleep 0.1
  done
  # the last completions are recorded at delivered_at: measure to there
  end=$(q "SELECT extract(epoch FROM max(o.delivered_at)) FROM attribution.outbox o
           JOIN attribution.destinations d ON d.id = o.destination_id WHERE d.name = '$1'")
  echo "$end - $start" | bc -l
}

# wait for the worker
for _ in $(seq 100); do
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_attribution delivery'")" = 1 ] && break
  sleep 0.1
done

enqueue bench_batched "$N" b_
enqueue bench_single "$BASE" s_
q "VACUUM (ANALYZE) attribution.outbox" >/dev/null
t_batched=$(run bench_batched "$N")
q "VACUUM (ANALYZE) attribution.outbox" >/dev/null
t_single=$(run bench_single "$BASE")
# what autovacuum does between bursts in a real database (the runs above are
# faster than its nap time): clear the dead row versions of the drained queue
q "VACUUM (ANALYZE) attribution.outbox" >/dev/null
r_batched=$(echo "$N / $t_batched" | bc -l)
r_single=$(echo "$BASE / $t_single" | bc -l)

for i in $(seq "$LAT"); do
  q "INSERT INTO attribution.outbox (destination_id, kind, dedup_key, payload, event_time)
     SELECT id, 'conversion', 'lat_$i', jsonb_build_object('event_name', 'Purchase',
            'event_time', extract(epoch FROM now())::bigint, 'event_id', 'lat_$i',
            'action_source', 'system_generated'), now()
     FROM attribution.destinations WHERE name = 'bench_latency'"
  sleep 0.02
done
while [ "$(q "SELECT count(*) FROM attribution.outbox WHERE dedup_key LIKE 'lat\_%' AND status = 'delivered'")" -lt "$LAT" ]; do sleep 0.05; done
lat=$(q "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1) || ' ' ||
                round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 1)
         FROM (SELECT extract(epoch FROM delivered_at - created_at) * 1000 AS ms
               FROM attribution.outbox WHERE dedup_key LIKE 'lat\_%') s")
requests=$(curl -s "$url/_stats")

printf 'batched (batch_size 1000): %d events in %.2f s = %.0f events/s\n' "$N" "$t_batched" "$r_batched"
printf 'one request per event    : %d events in %.2f s = %.0f events/s\n' "$BASE" "$t_single" "$r_single"
printf 'ratio batched / per-event: %.1fx\n' "$(echo "$r_batched / $r_single" | bc -l)"
printf 'commit-to-delivered latency (%d single commits): p50 %s ms, p99 %s ms\n' "$LAT" ${lat% *} ${lat#* }
echo "sink (answer delay ${SINK_DELAY_MS:-0} ms): $requests"
INNER
chmod 755 "$inner"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO env TOP="$top" N="$N" BASE="$BASE" LAT="$LAT" SINK_DELAY_MS="${SINK_DELAY_MS:-0}" pg_virtualenv -v 15 \
    -o shared_preload_libraries=pg_attribution \
    -o pg_attribution.database=postgres \
    -o pg_attribution.allow_http_loopback=on \
    -o pg_attribution.vault_key_file="$keyfile" \
    "$inner"
rm -f "$inner"
