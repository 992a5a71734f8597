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
# shellcheck source=scripts/lib/demo-stack.sh
source scripts/lib/demo-stack.sh

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
