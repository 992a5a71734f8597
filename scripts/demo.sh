#!/usr/bin/env bash
# demo.sh — the main job on a fresh machine: bring the local stack up
# (MariaDB, Redis, RocketMQ), build mkt, migrate, seed a member base, then run
# a promotion campaign end to end: a provider simulator stands in for the
# SMS / app push gateways, pushd plans and fans the campaign out — shown live
# by `mktctl watch` when the demo runs in a terminal — and the result is shown
# from both sides (the campaign's shards and the simulator's delivery counts).
#
#   scripts/demo.sh                          20,000 demo members
#   MKT_DEMO_MEMBERS=200000 scripts/demo.sh
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
members="${MKT_DEMO_MEMBERS:-20000}"
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

echo "== create a campaign: everyone, sms + app push + inbox"
id="$(bin/mktctl campaign create --name "Demo spring sale" --kind full_reduction \
	--threshold 100 --discount 15 --template "Spend {threshold}, save {discount} at our spring sale!" \
	--channels sms,app,inbox)"
echo "campaign $id created"

if [[ -t 0 && -t 1 && -z "${CI:-}" ]]; then
	# A terminal: the live view, closed when the campaign finishes (q leaves
	# it earlier; the demo then waits below).
	bin/mktctl watch "$id" --until-done --refresh 500ms
fi
echo "== waiting for campaign $id to complete"
for _ in $(seq 1 600); do
	status="$(bin/mktctl campaign show "$id" --json | sed -n 's/^ *"status": "\([a-z]*\)",*$/\1/p' | head -n1)"
	case "$status" in completed | cancelled | failed | paused) break ;; esac
	sleep 1
done

echo "== campaign $id"
bin/mktctl campaign show "$id"
echo
echo "== provider simulator: $(curl -fsS "http://$sim_addr/stats")"
echo
bin/mktctl status
[[ "$status" == completed ]] || { echo "campaign $id ended $status; see $run_dir/pushd.log" >&2; exit 1; }
