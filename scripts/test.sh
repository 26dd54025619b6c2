#!/usr/bin/env bash
# Every test of pg_attribution, on throwaway clusters: pg_regress and the
# isolation tester under pg_virtualenv, then the TAP tests as an
# unprivileged user.  Run as root (or a sudoer) on Debian 12:
#     ./scripts/test.sh
# PG_CFLAGS (CI sets '-Wall -Wextra -Werror') is passed to the build.
# TIERS selects tiers (default "regress tap mock fuzz demo"); PROVE_TESTS selects TAP
# files; REGRESS_TESTS / ISOLATION_TESTS select pg_regress files / isolation specs; FUZZ_TIME is the seconds each libFuzzer harness runs (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

./scripts/deps.sh

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
TIERS=${TIERS:-"regress tap mock fuzz demo"}
# A tier that is asked for but cannot run fails the run: a green result
# must mean the tests ran.
for t in $TIERS; do
    case "$t" in
        regress|tap|mock|fuzz|demo) ;;
        *) echo "unknown tier \"$t\" (use regress, tap, mock, fuzz, demo)"; exit 2 ;;
    esac
done

make -s clean
make -s -j2 PG_CFLAGS="${PG_CFLAGS:-}"
$SUDO make -s install

status=0

if [[ " $TIERS " == *" regress "* ]]; then
    echo "=== pg_regress and isolation tests ==="
    # Runs inside the throwaway cluster's environment; prints what failed.
    inner=$(mktemp /tmp/pg_attribution_installcheck.XXXXXX)
    cat > "$inner" <<'INNER'
#!/usr/bin/env bash
# REGRESS_TESTS and ISOLATION_TESTS (when set) pick pg_regress files and
# isolation specs; "setup" must be first among the former.
if make -s installcheck ${REGRESS_TESTS:+REGRESS="$REGRESS_TESTS"} \
        ${ISOLATION_TESTS+ISOLATION="$ISOLATION_TESTS"}; then
    exit 0
fi
for f in regression.diffs output_iso/regression.diffs; do
    [ -f "$f" ] && { echo "--- $f"; cat "$f"; }
done
for log in $(pg_lsclusters -h | awk '{print $7}'); do
    [ -f "$log" ] && { echo "--- server log $log"; tail -n 200 "$log"; }
done
exit 1
INNER
    chmod 755 "$inner"
    rm -rf results output_iso regression.diffs regression.out
    # The vault key of the test cluster: readable by the server's user only,
    # as the extension requires of a key file.
    vault_key=/tmp/pg_attribution_test_vault.key
    [ -s "$vault_key" ] || ( umask 077; openssl rand -hex 32 > "$vault_key" )
    [ "$(id -u)" -eq 0 ] && chown postgres "$vault_key"
    chmod 600 "$vault_key"
    $SUDO pg_virtualenv -v 15 \
        -o shared_preload_libraries=pg_cron,pg_attribution \
        -o cron.database_name=postgres \
        -o pg_attribution.database=contrib_regression \
        -o pg_attribution.vault_key_file="$vault_key" \
        -o max_worker_processes=16 \
        "$inner" || status=1
    rm -f "$inner"
fi

if [[ " $TIERS " == *" tap "* ]]; then
    echo "=== TAP tests ==="
    # initdb refuses root: run from a copy owned by an unprivileged user.
    tapuser=postgres
    [ "$(id -u)" -eq 0 ] || tapuser=$(id -un)
    tapdir=$(mktemp -d /tmp/pg_attribution_tap.XXXXXX)
    cp -a "$top/." "$tapdir/"
    rm -rf "$tapdir/tmp_check"
    [ "$(id -u)" -eq 0 ] && chown -R "$tapuser" "$tapdir"
    run_as=()
    [ "$(id -u)" -eq 0 ] && run_as=(runuser -u "$tapuser" --)
    tap_log=$(mktemp /tmp/pg_attribution_tap_log.XXXXXX)
    # A server built without TAP support makes the prove target print a
    # notice and succeed: only prove's own verdict counts as a pass.
    if ! "${run_as[@]}" make -s -C "$tapdir" prove_installcheck ${PROVE_TESTS:+PROVE_TESTS="$PROVE_TESTS"} 2>&1 | tee "$tap_log" \
            || ! grep -q '^Result: PASS' "$tap_log"; then
        grep -q '^Result: ' "$tap_log" || echo "the TAP tests did not run (no prove verdict): TAP tier FAILED"
        status=1
        for log in "$tapdir"/tmp_check/log/*; do
            [ -f "$log" ] && { echo "--- $log"; tail -n 200 "$log"; }
        done
    fi
    rm -f "$tap_log"
    [ $status -eq 0 ] && rm -rf "$tapdir"
fi

if [[ " $TIERS " == *" mock "* ]]; then
    echo "=== contract mock self-test ==="
    python3 test/mock/test_mock.py || status=1
fi

if [[ " $TIERS " == *" fuzz "* ]]; then
    echo "=== libFuzzer harnesses ==="
    if command -v clang >/dev/null 2>&1; then
        make -s fuzz-run FUZZ_TIME="${FUZZ_TIME:-10}" || status=1
    else
        echo "clang is not installed (scripts/deps.sh installs it): fuzz tier FAILED"
        status=1
    fi
fi

if [[ " $TIERS " == *" demo "* ]]; then
    echo "=== the main job (scripts/demo.sh) and its summary ==="
    # The demo's data set is deterministic: its summary must match.
    demo_log=$(mktemp /tmp/pg_attribution_demo_log.XXXXXX)
    if ./scripts/demo.sh > "$demo_log" 2>&1; then
        sed -n '/^== Summary ==$/,/^report: /p' "$demo_log" | grep -v '^report: \|^Dropping cluster' > "$demo_log.summary"
        if diff -u test/demo/expected_summary.txt "$demo_log.summary"; then
            echo "demo summary as expected; report and screenshot in demo-output/"
        else
            echo "the demo's summary differs from test/demo/expected_summary.txt"
            status=1
        fi
    else
        tail -n 60 "$demo_log"
        echo "scripts/demo.sh failed"
        status=1
    fi
    rm -f "$demo_log" "$demo_log.summary"
fi

if [ $status -eq 0 ]; then
    echo "=== all tests passed ==="
else
    echo "=== TESTS FAILED ==="
fi
exit $status
