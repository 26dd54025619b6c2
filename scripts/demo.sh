#!/usr/bin/env bash
# The main job: the end-to-end demo on a throwaway cluster.  Installs what is
# missing, builds and installs the extension, starts a throwaway cluster with
# pg_cron and pg_attribution preloaded, runs demo/*.sql in order, and leaves
# the report (demo-output/report.html) and a screenshot of it
# (demo-output/report.png) next to the repository.
#     ./scripts/demo.sh        (as root, or a sudoer, on Debian 12)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

./scripts/deps.sh
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
make -s -j2
$SUDO make -s install

work=$(mktemp -d /tmp/pg_attribution_demo.XXXXXX)
chmod 755 "$work"
cp -r "$top/demo" "$work/demo"
[ -d "$top/test/mock" ] && cp -r "$top/test/mock" "$work/mock"
mkdir -p "$work/demo-output"
chmod -R a+rX "$work"
chmod 777 "$work/demo-output"
# The vault's key: secrets and tokens are stored encrypted under it.
( umask 077; openssl rand -hex 32 > "$work/vault.key" )
[ "$(id -u)" -eq 0 ] && chown postgres "$work/vault.key"
cat > "$work/run.sh" <<INNER
#!/usr/bin/env bash
set -euo pipefail
cd "$work"
# Stop the local mock of the ad platforms, if a demo part started it.
trap '[ -s mock.ready ] && kill \$(python3 -c "import json; print(json.load(open(\\"mock.ready\\"))[\\"pid\\"])") 2>/dev/null; true' EXIT
psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE demo" >/dev/null
for f in demo/*.sql; do
    [ -x "\${f%.sql}.pre" ] && "\${f%.sql}.pre"
    PGDATABASE=demo psql -qX -v ON_ERROR_STOP=1 -P pager=off -f "\$f"
done
INNER
chmod 755 "$work/run.sh"
$SUDO pg_virtualenv -v 15 \
    -o shared_preload_libraries=pg_cron,pg_attribution \
    -o cron.database_name=postgres \
    -o pg_attribution.database=demo \
    -o pg_attribution.vault_key_file="$work/vault.key" \
    "$work/run.sh"

# The report as a person sees it: a screenshot from headless Chromium.
out="$top/demo-output"
rm -rf "$out"
mkdir -p "$out"
cp "$work/demo-output/report.html" "$out/report.html"
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile" --window-size=1000,3600 \
    --screenshot="$out/report.png" "file://$out/report.html" >/dev/null 2>&1 || true
rm -rf "$profile" "$work"
[ -s "$out/report.png" ] || { echo "the report's screenshot could not be taken" >&2; exit 1; }
echo "report: $out/report.html (screenshot: $out/report.png)"
