# demo-stack.sh — sourced by the demos: bring the local stack up, build,
# migrate, seed MKT_DEMO_MEMBERS members, and start a provider simulator and
# one pushd sending to it, stopped when the demo exits. Sets run_dir (the
# logs) and sim_addr.
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
# shellcheck source=scripts/lib/stack-env.sh
source scripts/lib/stack-env.sh

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
