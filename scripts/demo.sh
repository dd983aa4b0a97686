#!/usr/bin/env bash
# The main job, on one machine: sets up and builds kabar, starts the three
# services on loopback with the embedded SQLite store, streams the bundled
# sample articles through them and prints the labeled results.
#
#   ./scripts/demo.sh [ARTICLES...]    (default: samples/articles.jsonl)
#
# The database and service logs stay in $KABAR_DEMO_DIR (default: a new
# temporary directory) so you can query them again afterwards.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

kabar_install_packages
kabar_build
kabar_fetch_models

bin="$KABAR_BUILD/bin"
demo_dir="${KABAR_DEMO_DIR:-$(mktemp -d -t kabar-demo.XXXXXX)}"
mkdir -p "$demo_dir"
articles=("$@")
[ ${#articles[@]} -gt 0 ] || articles=("$KABAR_ROOT/samples/articles.jsonl")

pids=()
stop_services() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_services EXIT

# Each service picks a free port and writes it to a file, so the demo never
# collides with something already listening on 7701-7703.
start() {
  local name=$1; shift
  rm -f "$demo_dir/$name.port"
  "$bin/$name" --listen=127.0.0.1:0 --port_file="$demo_dir/$name.port" "$@" \
    2>"$demo_dir/$name.log" &
  pids+=($!)
  for _ in $(seq 1 600); do
    [ -s "$demo_dir/$name.port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$demo_dir/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "kabar: $name did not start; see $demo_dir/$name.log" >&2
  exit 1
}
address() { echo "127.0.0.1:$(cat "$demo_dir/$1.port")"; }

start kabar-classify
start kabar-store --db="$demo_dir/kabar.db"
start kabar-ingest --classifier="$(address kabar-classify)" --store="$(address kabar-store)" \
  --spool_dir="$demo_dir/spool"
for service in kabar-classify kabar-store kabar-ingest; do
  "$bin/kabar" health "$(address $service)" --timeout=30s >/dev/null
done

export KABAR_INGEST="$(address kabar-ingest)" KABAR_STORE="$(address kabar-store)" \
       KABAR_CLASSIFIER="$(address kabar-classify)"
echo "== kabar ingest ${articles[*]}"
status=0
"$bin/kabar" ingest "${articles[@]}" || status=$?
echo
echo "== kabar query --limit 100"
"$bin/kabar" query --limit 100
echo
echo "== kabar stats"
"$bin/kabar" stats
echo
echo "Database and logs: $demo_dir"
exit $status
