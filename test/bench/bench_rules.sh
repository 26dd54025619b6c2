#!/usr/bin/env bash
# Rule-based credits: the seven models in C (path_weights over paths built
# with array_agg) against a plain SELECT count(*) scan of the same touches
# table and against the same models in pure SQL (window functions), measured
# in the same run on a throwaway cluster; then recompute_credits() on the
# extension's own tables.
#
#   flock /tmp/pg_attribution.lock test/bench/bench_rules.sh [conversions] [touches_per_conversion] [recompute_conversions]
#
# Defaults: 100000 conversions over about 1M touches, recompute on 20000.
# The issue's size is: test/bench/bench_rules.sh 1000000 10 100000
set -euo pipefail
cd "$(dirname "$0")/../.."

CONV=${1:-100000}
PER=${2:-10}
REC=${3:-20000}

make -s
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO make -s install

sql="$(pwd)/test/bench/bench_rules.sql"
inner=$(mktemp /tmp/pg_attribution_bench.XXXXXX)
cat > "$inner" <<INNER
#!/usr/bin/env bash
set -euo pipefail
psql -X -q -v conv=$CONV -v per=$PER -v rec=$REC -f "$sql"
INNER
chmod 755 "$inner"
trap 'rm -f "$inner"' EXIT
$SUDO pg_virtualenv -v 15 \
    -o shared_preload_libraries=pg_attribution \
    -o shared_buffers=512MB \
    -o max_wal_size=4GB \
    -o synchronous_commit=off \
    "$inner"
