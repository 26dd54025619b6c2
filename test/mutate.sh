#!/usr/bin/env bash
# Mutation check: does the suite catch plausible one-line bugs?  Applies
# each mutation of test/mutations.txt (file, text, replacement; first
# occurrence) to a copy of the tree, one at a time, runs the pg_regress tier
# there, and reports the mutations the suite missed.  Not part of CI: each
# mutation is a full build and pg_regress run (about two minutes).
#     test/mutate.sh                 every mutation
#     test/mutate.sh 1 4             only mutations 1 and 4 (by line order)
# Runs test.sh, which installs system-wide: hold the project's install lock
# (the script takes /tmp/pg_attribution.lock for each run).
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
list="$top/test/mutations.txt"
work=$(mktemp -d /tmp/pg_attribution_mutate.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -a "$top/." "$work/tree"
rm -rf "$work/tree/results" "$work/tree/output_iso"

want=" ${*:-} "
n=0; caught=0; missed=0; broken=0; missed_list=()
while IFS=$'\t' read -r file old new; do
    [[ -z "$file" || "$file" == \#* ]] && continue
    n=$((n + 1))
    [[ "$want" == "  " || "$want" == *" $n "* ]] || continue
    cp "$top/$file" "$work/tree/$file"
    if ! python3 - "$work/tree/$file" "$old" "$new" <<'PY'
import sys
path, old, new = sys.argv[1:]
s = open(path).read()
if old not in s:
    sys.exit(1)
open(path, 'w').write(s.replace(old, new, 1))
PY
    then
        echo "mutation $n: text not found in $file (stale list?)"
        broken=$((broken + 1))
        continue
    fi
    if (cd "$work/tree" && flock /tmp/pg_attribution.lock env TIERS=regress ./scripts/test.sh \
            > "$work/run_$n.log" 2>&1); then
        echo "mutation $n MISSED: $file: $new"
        missed=$((missed + 1)); missed_list+=("$n")
    elif grep -q '^test .*FAILED\|^not ok' "$work/run_$n.log"; then
        echo "mutation $n caught: $file"
        caught=$((caught + 1))
    else
        echo "mutation $n: the build failed (counted as caught): $file"
        caught=$((caught + 1))
    fi
    cp "$top/$file" "$work/tree/$file"
done < "$list"

echo "mutations: $((caught + missed)) run, $caught caught, $missed missed${missed_list[*]:+ (${missed_list[*]})}, $broken not applicable"
[ "$missed" -eq 0 ] && [ "$broken" -eq 0 ]
