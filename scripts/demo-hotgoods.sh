#!/usr/bin/env bash
# demo-hotgoods.sh — a hot-goods day end to end on a fresh machine: bring the
# local stack up, build, migrate, seed members, generate the recommender's
# rows for a day (20 overlapping portrait segments), launch them with
# `mktctl hotgoods run`, let pushd fan the run out to a provider simulator,
# and show the day's rows, the run, and the simulator's delivery counts.
# Each member in any segment gets one push: its highest-priority segment's.
#
#   scripts/demo-hotgoods.sh
#   MKT_DEMO_MEMBERS=200000 MKT_DEMO_SEGMENTS=50 scripts/demo-hotgoods.sh
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
members="${MKT_DEMO_MEMBERS:-20000}"
segments="${MKT_DEMO_SEGMENTS:-20}"
sim_addr="${MKT_DEMO_SIM_ADDR:-127.0.0.1:9400}"
ops_addr="${MKT_DEMO_OPS_ADDR:-127.0.0.1:9301}"
run_dir="$(mktemp -d)"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

bash scripts/services.sh up

echo "== build"
go build -o bin/ ./cmd/...

echo "== migrate"
bin/mktctl migrate

echo "== seed $members members"
bin/mktctl users seed --count "$members"

echo "== provider simulator on $sim_addr (50 ms per call)"
bin/mktctl dev provider --addr "$sim_addr" --latency 50ms >"$run_dir/sim.log" 2>&1 &
pids+=($!)

echo "== pushd (logs: $run_dir/pushd.log)"
MKT_PROVIDER_SMS_URL="http://$sim_addr/sms" MKT_PROVIDER_APP_URL="http://$sim_addr/app" \
	MKT_PROVIDER_APP_BATCH=100 bin/pushd --ops-addr "$ops_addr" --log-level warn >"$run_dir/pushd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
	curl -fsS "http://$ops_addr/readyz" >/dev/null 2>&1 && break
	sleep 0.5
done
curl -fsS "http://$ops_addr/readyz" >/dev/null || { echo "pushd did not become ready; see $run_dir/pushd.log" >&2; exit 1; }

# The first day from today without rows, so the demo can run again.
day="$(date -u +%F)"
for i in $(seq 0 365); do
	day="$(date -u -d "+$i day" +%F)"
	bin/mktctl hotgoods list --date "$day" --json | grep -q '"rows": \[\]' && break
done

echo "== the recommender's rows for $day: $segments segments"
bin/mktctl dev hotgoods --date "$day" --segments "$segments"
bin/mktctl hotgoods list --date "$day"

echo "== launch the day"
bin/mktctl hotgoods run --date "$day"
run="$(bin/mktctl hotgoods list --date "$day" --json | sed -n 's/^ *"run_id": \([0-9]*\),*$/\1/p' | head -n1)"
[[ -n "$run" ]] || { echo "nothing was launched" >&2; exit 1; }

echo "== waiting for run $run to complete"
if [[ -t 0 && -t 1 && -z "${CI:-}" ]]; then
	bin/mktctl watch "hot_goods:$run" --until-done --refresh 500ms
else
	bin/mktctl watch "hot_goods:$run" --json --refresh 2s | tail -n 1 | cut -c1-300
	echo
fi

echo "== the day"
bin/mktctl hotgoods list --date "$day"
echo
echo "== provider simulator: $(curl -fsS "http://$sim_addr/stats")"
status="$(bin/mktctl watch "hot_goods:$run" --once | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' | head -n1)"
[[ "$status" == completed ]] || { echo "run $run ended $status; see $run_dir/pushd.log" >&2; exit 1; }
