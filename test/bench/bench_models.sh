#!/usr/bin/env bash
# Benchmark of the data-driven models: Markov orders 1-3 and each Shapley
# variant, as ratios to a plain SELECT count(*) of the same path table,
# measured in the same run; and the speed-up of 2 parallel workers over 0.
#
# Usage (against a database where pg_attribution is installed):
#     test/bench/bench_models.sh [rows]            # default 200000, up to 1000000+
# or on a throwaway cluster:
#     pg_virtualenv -v 15 test/bench/bench_models.sh 1000000
# PSQL (default "psql -X -q") and PGDATABASE select the server.
set -euo pipefail
ROWS=${1:-200000}
PSQL=${PSQL:-psql -X -q}
REPEAT=${REPEAT:-3}

$PSQL -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS pg_attribution;
DROP TABLE IF EXISTS bench_paths;
SELECT setseed(0.5);
-- about 5 touches over 12 channels, 1 in 4 journeys converts, value 10-500
CREATE TABLE bench_paths AS
SELECT i AS id,
       (SELECT array_agg('channel_' || (1 + floor(random() * 12))::int)
          FROM generate_series(1, 1 + floor(random() * 9)::int + 0 * i)) AS path,
       c AS conversions, 1 - c AS nulls, c * (10 + floor(random() * 490)) AS value
  FROM generate_series(1, $ROWS) i,
       LATERAL (SELECT (random() < 0.25)::int::float8 + 0 * i AS c) x;
VACUUM ANALYZE bench_paths;
SQL

# Best of REPEAT runs of one statement, in milliseconds, with the given
# number of parallel workers.
time_ms() {
    local workers=$1 sql=$2
    $PSQL -At <<SQL | sort -n | head -1
SET max_parallel_workers_per_gather = $workers;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET jit = off;
\o /dev/null
$sql;
\o
$(for _ in $(seq "$REPEAT"); do
    echo "SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset"
    echo "\\o /dev/null"
    echo "$sql;"
    echo "\\o"
    echo "SELECT round((extract(epoch FROM clock_timestamp()) - :t0) * 1000, 1);"
  done)
SQL
}

declare -A Q
NAMES=(scan sum_cardinality markov_1 markov_2 markov_3 zhao_simplified zhao_ordered exact_subset_sum exact_conversion_rate fractribution)
Q[scan]="SELECT count(*) FROM bench_paths"
# context: the cheapest aggregate that reads every path array
Q[sum_cardinality]="SELECT sum(cardinality(path)) FROM bench_paths"
Q[markov_1]="SELECT attribution.markov(path, conversions, nulls, value, 1) FROM bench_paths"
Q[markov_2]="SELECT attribution.markov(path, conversions, nulls, value, 2) FROM bench_paths"
Q[markov_3]="SELECT attribution.markov(path, conversions, nulls, value, 3) FROM bench_paths"
SHAP="SELECT attribution.shapley(path, conversions, nulls, value) AS r FROM bench_paths"
Q[zhao_simplified]="SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'zhao_simplified')"
Q[zhao_ordered]="SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'zhao_ordered')"
Q[exact_subset_sum]="SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'exact')"
Q[exact_conversion_rate]="SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'exact', '{\"characteristic\": \"conversion_rate\"}')"
Q[fractribution]="SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'fractribution')"
# Markov end to end: aggregate and exact solve
Q[markov_1_solve]="SELECT count(*) FROM attribution.markov_credits((${Q[markov_1]}))"
Q[markov_3_solve]="SELECT count(*) FROM attribution.markov_credits((${Q[markov_3]}))"
NAMES+=(markov_1_solve markov_3_solve)

echo "rows: $ROWS (best of $REPEAT runs)"
printf '%-24s %12s %8s %12s %8s %9s\n' query "0 workers ms" ratio "2 workers ms" ratio speedup
for n in "${NAMES[@]}"; do
    t0=$(time_ms 0 "${Q[$n]}")
    t2=$(time_ms 2 "${Q[$n]}")
    # the scan is the first query: every ratio is against it, same run
    [ "$n" = scan ] && { base0=$t0; base2=$t2; }
    awk -v n="$n" -v t0="$t0" -v t2="$t2" -v b0="$base0" -v b2="$base2" \
        'BEGIN { printf "%-24s %12.1f %8.2f %12.1f %8.2f %9.2f\n", n, t0, t0 / b0, t2, t2 / b2, t0 / t2 }'
done
$PSQL -c "DROP TABLE bench_paths"
