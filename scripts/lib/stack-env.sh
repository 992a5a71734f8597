# stack-env.sh — sourced after `scripts/services.sh up`: points mkt's binaries
# and tests at the local stack's Redis password, the file services.sh keeps in
# <state>/redis/password (state: MKT_STATE_DIR, default <repo>/.mkt), unless
# the caller chose a password already (MKT_REDIS_PASSWORD or
# MKT_REDIS_PASSWORD_FILE). Tests read it through pkg/cache/cachetest, and the
# daemons they start inherit it.
_mkt_pw="${MKT_STATE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.mkt}/redis/password"
if [[ -z "${MKT_REDIS_PASSWORD:-}" && -z "${MKT_REDIS_PASSWORD_FILE:-}" && -s "$_mkt_pw" ]]; then
	export MKT_REDIS_PASSWORD_FILE="$_mkt_pw"
fi
unset _mkt_pw
