# Shared by the benchmarks under test/bench/ (sourced, not run).
#
# bench_cluster "$0" "$@"   re-runs the calling script inside a private
#                           throwaway cluster (pg_virtualenv -t) with the
#                           installed extension preloaded; it never installs.
# bench_time NAME SQL       queues one query to be timed (BENCH_ONLY filters).
# bench_run REPEAT          runs every queued query REPEAT times, interleaved
#                           (round r runs each query once, in turn), each in a
#                           fresh session, and records wall time and the
#                           backend's peak resident memory.
# bench_report BASE         prints, per query, the median ms, the median and
#                           range (min-max) of its per-round ratio to BASE's
#                           time in the same round, and the median peak memory.
# bench_md BASE             the same as a markdown table (for run_all.sh).

bench_cluster() {
    local script=$1
    shift
    if [ -z "${PG_ATTRIBUTION_BENCH_INNER:-}" ]; then
        export PG_ATTRIBUTION_BENCH_INNER=1
        exec pg_virtualenv -t -v 15 \
            -o shared_preload_libraries=pg_attribution \
            -o pg_attribution.database=postgres \
            -o max_worker_processes=16 \
            -o synchronous_commit=off \
            -o max_wal_size=4GB \
            ${BENCH_PG_OPTS:-} \
            bash "$(readlink -f "$script")" "$@"
    fi
}

BENCH_NAMES=()
declare -A BENCH_SQL
BENCH_SETUP=${BENCH_SETUP:-"SET jit = off; SET max_parallel_workers_per_gather = 0;"}
BENCH_OUT=$(mktemp /tmp/pg_attribution_bench_times.XXXXXX)
trap 'rm -f "$BENCH_OUT"' EXIT

# BENCH_ONLY="scan q1 q2" keeps only the named queries (keep the baseline).
bench_time() {
    if [ -n "${BENCH_ONLY:-}" ] && [[ " $BENCH_ONLY " != *" $1 "* ]]; then
        return 0
    fi
    BENCH_NAMES+=("$1")
    BENCH_SQL[$1]=$2
}

# One timed run in a fresh session: "ms peak_kB". Peak resident memory is
# the backend's VmHWM; big tables are scanned through a small ring of shared
# buffers, so it is mostly the query's own memory.
bench_once() {
    psql -X -q -At -v ON_ERROR_STOP=1 <<SQL
$BENCH_SETUP
SELECT extract(epoch FROM clock_timestamp()) AS bench_t0 \gset
\o /dev/null
$1;
\o
SELECT round((extract(epoch FROM clock_timestamp()) - :bench_t0) * 1000, 1) || ' ' ||
       coalesce((regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1], '0');
SQL
}

bench_run() {
    local repeat=${1:-5} r n
    for r in $(seq "$repeat"); do
        for n in "${BENCH_NAMES[@]}"; do
            echo "$r $n $(bench_once "${BENCH_SQL[$n]}")" >> "$BENCH_OUT"
        done
    done
}

# awk over "round name ms kB" lines: per name, median ms, median/min/max
# of ms / base ms of the same round, median peak MB.
bench_summary() {
    local base=$1 order
    order=$(printf '%s ' "${BENCH_NAMES[@]}")
    awk -v base="$base" -v order="$order" '
    function median(arr, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
        return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
    }
    { ms[$1, $2] = $3; kb[$1, $2] = $4; if ($1 > rounds) rounds = $1 }
    END {
        nn = split(order, names, " ")
        for (k = 1; k <= nn; k++) {
            n = names[k]; lo = 1e300; hi = 0
            for (r = 1; r <= rounds; r++) {
                a[r] = ms[r, n]; m[r] = kb[r, n] / 1024
                q[r] = ms[r, n] / ms[r, base]
                if (q[r] < lo) lo = q[r]; if (q[r] > hi) hi = q[r]
            }
            printf "%s %.1f %.2f %.2f %.2f %.0f\n", n, median(a, rounds), median(q, rounds), lo, hi, median(m, rounds)
        }
    }' "$BENCH_OUT"
}

bench_report() {
    local base=$1
    printf '%-28s %10s %9s %15s %8s\n' query "median ms" "ratio" "range" "peak MB"
    bench_summary "$base" | while read -r n t q lo hi mb; do
        printf '%-28s %10s %8sx %15s %8s\n' "$n" "$t" "$q" "$lo-$hi" "$mb"
    done
}

bench_md() {
    local base=$1
    echo "| query | median ms | vs \`$base\` (median, range) | peak MB |"
    echo "|---|---:|---:|---:|"
    bench_summary "$base" | while read -r n t q lo hi mb; do
        echo "| $n | $t | ${q}× ($lo–$hi) | $mb |"
    done
}
