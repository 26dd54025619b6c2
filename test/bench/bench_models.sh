#!/usr/bin/env bash
# Markov (orders 1-3, one call and two-step) and every Shapley variant, as
# ratios to a plain SELECT count(*) of the same path table: each query runs
# REPEAT times interleaved with the others, each run in a fresh session;
# prints the median time, the median and range of the per-round ratio to
# the scan, and the median peak memory of the backend.
#
# On a private throwaway cluster, after the extension is installed:
#     test/bench/bench_models.sh [rows]      # default 1000000 path rows
#     REPEAT=5 test/bench/bench_models.sh 200000
# MD=1 prints a markdown table (run_all.sh).
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
bench_cluster "$0" "$@"
ROWS=${1:-1000000}
REPEAT=${REPEAT:-5}

psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_attribution;
SELECT setseed(0.5);
-- about 5 touches over 12 channels, 1 in 4 journeys converts, value 10-500
CREATE TABLE bench_paths AS
SELECT i AS id,
       (SELECT array_agg('channel_' || (1 + floor(random() * 12))::int)
          FROM generate_series(1, 1 + floor(random() * 9)::int + 0 * i)) AS path,
       c AS conversions, 1 - c AS nulls, c * (10 + floor(random() * 490)) AS value
  FROM generate_series(1, :rows) i,
       LATERAL (SELECT (random() < 0.25)::int::float8 + 0 * i AS c) x;
VACUUM ANALYZE bench_paths;
SQL

two_step() {
    echo "SELECT count(*) FROM (
        SELECT array_agg(from_state) AS f, array_agg(to_state) AS t, array_agg(w) AS w,
               array_agg(v) AS v, array_agg(cw) AS cw
          FROM (SELECT t.from_state, t.to_state, sum(t.weight) AS w, sum(t.value) AS v,
                       sum(t.conversion_weight) AS cw
                  FROM bench_paths p,
                       attribution.markov_transitions(p.path, p.conversions, p.nulls, p.value, $1) t
                 GROUP BY 1, 2) g) a,
        attribution.markov_solve(a.f, a.t, a.w, a.v, '{}', a.cw)"
}
SHAP="SELECT attribution.shapley(path, conversions, nulls, value) AS r FROM bench_paths"
bench_time scan "SELECT count(*) FROM bench_paths"
# context: the cheapest aggregate that reads every path array
bench_time sum_cardinality "SELECT sum(cardinality(path)) FROM bench_paths"
bench_time markov_1 "SELECT attribution.markov(path, conversions, nulls, value, 1) FROM bench_paths"
bench_time markov_1_2workers "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SELECT attribution.markov(path, conversions, nulls, value, 1) FROM bench_paths"
bench_time markov_2 "SELECT attribution.markov(path, conversions, nulls, value, 2) FROM bench_paths"
bench_time markov_3 "SELECT attribution.markov(path, conversions, nulls, value, 3) FROM bench_paths"
bench_time markov_1_solve "SELECT count(*) FROM attribution.markov_credits((SELECT attribution.markov(path, conversions, nulls, value, 1) FROM bench_paths))"
bench_time markov_1_two_step "$(two_step 1)"
bench_time markov_3_two_step "$(two_step 3)"
bench_time zhao_simplified "SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'zhao_simplified')"
bench_time zhao_ordered "SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'zhao_ordered')"
bench_time exact_subset_sum "SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'exact')"
bench_time exact_conversion_rate "SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'exact', '{\"characteristic\": \"conversion_rate\"}')"
bench_time fractribution "SELECT count(*) FROM ($SHAP) s, attribution.shapley_credits(s.r, 'fractribution')"

bench_run "$REPEAT"
echo "bench_models: $ROWS path rows, $REPEAT interleaved rounds"
if [ -n "${MD:-}" ]; then bench_md scan; else bench_report scan; fi
