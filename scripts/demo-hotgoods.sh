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
segments="${MKT_DEMO_SEGMENTS:-20}"
# shellcheck source=scripts/lib/demo-stack.sh
source scripts/lib/demo-stack.sh

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
