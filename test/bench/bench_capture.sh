#!/usr/bin/env bash
# track_touch against a raw INSERT of an equivalent row into an equivalent
# table (same columns, same indexes), both through pgbench with 2 clients,
# measured in the same run on a throwaway cluster.  Prints the ratio.
#   sudo test/bench/bench_capture.sh [seconds per run, default 20]
# Run it after `make install` (scripts/test.sh or scripts/demo.sh do that).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
work=$(mktemp -d /tmp/pg_attribution_bench.XXXXXX)
chmod 755 "$work"

cat > "$work/touch.sql" <<'SQL'
\set n random(1, 1000000)
\set c random(1, 40)
SELECT attribution.track_touch('visitor-' || :n,
    'https://app.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring_' || :c || '&gclid=Cj0KCQiA' || :n,
    'https://www.google.com/', now(), NULL,
    '_fbp=fb.1.1596403881668.1116446470; _ttp=2mockttp', '203.0.113.7', 'Mozilla/5.0 (bench)');
SQL
cat > "$work/raw.sql" <<'SQL'
\set n random(1, 1000000)
\set c random(1, 40)
INSERT INTO bench_raw (visitor_id, user_id, occurred_at, url, referrer, host, path, referrer_host,
    channel, utm_source, utm_medium, utm_campaign, utm_raw, gclid, gclid_at, fbp, ttp, clicked_at,
    ip, user_agent)
VALUES ('visitor-' || :n, NULL, now(),
    'https://app.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring_' || :c || '&gclid=Cj0KCQiA' || :n,
    'https://www.google.com/', 'app.example.com', '/pricing', 'www.google.com', 'Paid Search',
    'google', 'cpc', 'spring_' || :c,
    '{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring"}',
    'Cj0KCQiA' || :n, now(), 'fb.1.1596403881668.1116446470', '2mockttp', now(),
    '203.0.113.7', 'Mozilla/5.0 (bench)');
SQL
cat > "$work/run.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
psql -qX -c "CREATE EXTENSION pg_attribution" \
     -c "CREATE TABLE bench_raw (LIKE attribution.touchpoints INCLUDING ALL)" \
     -c "SELECT attribution.identify('visitor-' || g, 'user-' || g) FROM generate_series(1, 1000, 7) g" >/dev/null
tps() { pgbench -n -c 2 -j 2 -T $secs -f "\$1" 2>/dev/null | awk '/^tps/ {print int(\$3)}'; }
raw1=\$(tps $work/raw.sql); touch1=\$(tps $work/touch.sql)
raw2=\$(tps $work/raw.sql); touch2=\$(tps $work/touch.sql)
raw=\$(( (raw1 + raw2) / 2 )); touch=\$(( (touch1 + touch2) / 2 ))
echo "raw INSERT:  \$raw tps (runs: \$raw1, \$raw2)"
echo "track_touch: \$touch tps (runs: \$touch1, \$touch2)"
awk -v a=\$touch -v b=\$raw 'BEGIN { printf "ratio track_touch / raw insert: %.2fx (goal >= 0.70x)\n", a / b }'
psql -qXAt -c "SELECT 'rows: touchpoints ' || (SELECT count(*) FROM attribution.touchpoints) || ', raw ' || (SELECT count(*) FROM bench_raw)"
SH
chmod 755 "$work/run.sh"
pg_virtualenv -v 15 -o shared_preload_libraries=pg_attribution -o pg_attribution.database=none \
    "$work/run.sh"
rm -rf "$work"
