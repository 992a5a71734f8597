#!/usr/bin/env bash
# services.sh — the local stack mkt runs on: MariaDB, Redis and Apache RocketMQ
# (name server + broker), all on 127.0.0.1, all state under one git-ignored
# directory (default: <repo>/.mkt, override with MKT_STATE_DIR).
#
#   scripts/services.sh up           install what is missing, start what is stopped, wait until ready
#   scripts/services.sh down         stop what this script started (by PID), keep the data
#   scripts/services.sh status       what runs where
#   scripts/services.sh reset        down, then delete all state (data, logs, configs; keeps the jar cache)
#   scripts/services.sh stop NAME    stop one service (mariadb, redis, namesrv or broker), keep its data
#   scripts/services.sh start NAME   start one service again and wait until it is ready
#
# Idempotent: `up` on a running stack checks readiness and returns in seconds.
# Ports: MariaDB 3306, Redis 6379, RocketMQ name server 9876, broker 10911 (the
# broker also listens on its port - 2 and port + 1: 10909, 10912), every one on
# 127.0.0.1 only. A port held by a process this script did not start (a
# distribution's MariaDB or Redis, another program) is never stopped: `up`
# refuses, says who holds it and exits non-zero. A second stack runs next to
# the first with its own state directory and ports (the fault suite does:
# MKT_STATE_DIR=.mkt-faults, ports 13306 16379 19876 20911):
#   MKT_STATE_DIR     state directory (default <repo>/.mkt)
#   MKT_MYSQL_PORT    MariaDB port (default 3306)
#   MKT_REDIS_PORT    Redis port (default 6379)
#   MKT_NAMESRV_PORT  RocketMQ name server port (default 9876)
#   MKT_BROKER_PORT   RocketMQ broker port (default 10911; also uses port - 2 and port + 1)
# The MariaDB account the project uses is mkt/mkt (local development only); it may
# create and drop any database whose name starts with "mkt". Redis requires a
# password, generated on the first `up` into <state>/redis/password (mode 0600):
# point mkt's binaries at it with MKT_REDIS_PASSWORD_FILE=<state>/redis/password.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${MKT_STATE_DIR:-$ROOT/.mkt}"
ROCKETMQ_VERSION="${MKT_ROCKETMQ_VERSION:-5.3.3}"
CACHE="$STATE/cache"
RMQ_LIB="$CACHE/rocketmq-$ROCKETMQ_VERSION/lib"

MYSQL_PORT="${MKT_MYSQL_PORT:-3306}"
REDIS_PORT="${MKT_REDIS_PORT:-6379}"
NAMESRV_PORT="${MKT_NAMESRV_PORT:-9876}"
BROKER_PORT="${MKT_BROKER_PORT:-10911}"

MYSQL_DIR="$STATE/mariadb"
REDIS_DIR="$STATE/redis"
REDIS_PASSWORD_FILE="$REDIS_DIR/password"
NAMESRV_DIR="$STATE/rocketmq/namesrv"
BROKER_DIR="$STATE/rocketmq/broker"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

for _port_var in MYSQL_PORT REDIS_PORT NAMESRV_PORT BROKER_PORT; do
	[[ "${!_port_var}" =~ ^[1-9][0-9]{0,4}$ ]] && ((${!_port_var} >= 1024 && ${!_port_var} <= 65534)) ||
		die "MKT_$_port_var=${!_port_var}: want a port number within 1024..65534"
done
unset _port_var
# The broker's other listeners: its fast (VIP) channel on port - 2 and the HA
# service on port + 1, both derived by RocketMQ from listenPort. RocketMQ binds
# the HA port on every interface whatever bindAddress says; a small class of
# ours (scripts/lib/rocketmq/LoopbackHAService.java, compiled on first use)
# binds it to 127.0.0.1 instead.
BROKER_FAST_PORT=$((BROKER_PORT - 2))
BROKER_HA_PORT=$((BROKER_PORT + 1))
RMQ_EXT="$CACHE/rocketmq-$ROCKETMQ_VERSION/mkt-ha"
HA_SHIM_SRC="$ROOT/scripts/lib/rocketmq/LoopbackHAService.java"

# ---------------------------------------------------------------- helpers

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive FILE: the PID in FILE names a running process.
pid_alive() {
	local f="$1" pid
	[[ -s "$f" ]] || return 1
	pid="$(cat "$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# port_owner PORT: who listens on PORT (best effort, for error messages).
port_owner() {
	if command -v ss >/dev/null 2>&1; then
		ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1
	fi
}

# wait_for DESC SECONDS CMD...: poll CMD every 0.5 s until it succeeds.
wait_for() {
	local desc="$1" secs="$2"
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 0.5
	done
	log "$desc ready"
}

# check_port_free NAME PORT PIDFILE PORTVAR [SERVICE]: fail clearly when PORT
# is held by a process this script did not start. That process is never
# stopped here (it may be a distribution's MariaDB or Redis with data of its
# own): the message says who holds the port and how to go on — stop it
# yourself (SERVICE: the distribution's service name), or run this stack on
# other ports (PORTVAR: the variable that moves it).
check_port_free() {
	local name="$1" port="$2" pidfile="$3" portvar="$4" svc="${5:-}"
	if port_open "$port" && ! pid_alive "$pidfile"; then
		local owner
		owner="$(port_owner "$port")"
		die "port 127.0.0.1:$port (for $name) is held by a process this script did not start (${owner:-owner unknown; ss -ltnp as root names it}); it is left alone. To go on, stop it yourself (${svc:+if it is the distribution service: sudo service $svc stop; }if it is another mkt stack: its own scripts/services.sh down), or run this stack beside it on another port: $portvar=<free port> scripts/services.sh up, with the same variables for every later command"
	fi
}

ensure_apt() {
	local missing=()
	for pkg in "$@"; do
		# "install ok installed" only: a removed package keeps a status entry.
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0
	[[ $(id -u) -eq 0 ]] || die "packages missing (${missing[*]}); install them as root: apt-get install ${missing[*]}"
	log "installing ${missing[*]} (apt)"
	export DEBIAN_FRONTEND=noninteractive
	# Debian's maintainer scripts try to start the services; we run our own instances.
	local prc=/usr/sbin/policy-rc.d created_prc=0
	if [[ ! -e $prc ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod +x "$prc" && created_prc=1
	fi
	apt-get update -qq >/dev/null || log "apt-get update failed; trying the install with the current lists"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1 ||
		{ ((created_prc)) && rm -f "$prc"; die "apt-get install ${missing[*]} failed; see $STATE/apt.log"; }
	((created_prc)) && rm -f "$prc"
	return 0
}

check_disk() {
	mkdir -p "$STATE"
	local used avail
	used="$(df -P "$STATE" | awk 'NR==2 {gsub("%","",$5); print $5}')"
	avail="$(df -Pk "$STATE" | awk 'NR==2 {print $4}')"
	if ((used >= 88)); then
		die "the disk holding $STATE is ${used}% full; the RocketMQ broker refuses writes above 90% — free space first (df -h $STATE)"
	fi
	if ((avail < 3 * 1024 * 1024)); then
		die "only $((avail / 1024)) MiB free under $STATE; the stack needs at least 3 GiB (MariaDB data, RocketMQ commit log)"
	fi
}

find_java() {
	local j
	for j in "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/java-17-openjdk-amd64/bin/java "$(command -v java || true)"; do
		[[ -n "$j" && -x "$j" ]] || continue
		local major
		major="$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
		if [[ -n "$major" ]] && ((major >= 11)); then
			echo "$j"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- MariaDB

mysql_sock() { echo "$MYSQL_DIR/mysqld.sock"; }
mysql_root() { mariadb --no-defaults --protocol=socket --socket="$(mysql_sock)" -uroot "$@"; }

mariadb_up() {
	local pidfile="$MYSQL_DIR/mysqld.pid"
	if pid_alive "$pidfile" && mariadb-admin --no-defaults --socket="$(mysql_sock)" -uroot ping >/dev/null 2>&1; then
		log "mariadb already running (pid $(cat "$pidfile"))"
		return 0
	fi
	ensure_apt mariadb-server mariadb-client
	check_port_free mariadb "$MYSQL_PORT" "$pidfile" MKT_MYSQL_PORT mariadb
	mkdir -p "$MYSQL_DIR/data" "$MYSQL_DIR/tmp"
	cat >"$MYSQL_DIR/my.cnf" <<EOF
[mariadbd]
user=root
datadir=$MYSQL_DIR/data
tmpdir=$MYSQL_DIR/tmp
socket=$(mysql_sock)
pid-file=$pidfile
log-error=$MYSQL_DIR/mysqld.err
port=$MYSQL_PORT
bind-address=127.0.0.1
skip-name-resolve
skip-log-bin
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
default-time-zone=+00:00
max_connections=1000
max_allowed_packet=64M
local_infile=1
innodb_buffer_pool_size=2G
innodb_log_file_size=512M
innodb_log_buffer_size=64M
innodb_flush_log_at_trx_commit=2
innodb_flush_method=O_DIRECT
innodb_autoinc_lock_mode=2
EOF
	if [[ ! -d "$MYSQL_DIR/data/mysql" ]]; then
		log "initialising MariaDB data directory"
		mariadb-install-db --defaults-file="$MYSQL_DIR/my.cnf" --auth-root-authentication-method=socket \
			--skip-test-db >"$MYSQL_DIR/install.log" 2>&1 || die "mariadb-install-db failed; see $MYSQL_DIR/install.log"
	fi
	log "starting mariadb on 127.0.0.1:$MYSQL_PORT"
	setsid nohup mariadbd --defaults-file="$MYSQL_DIR/my.cnf" >>"$MYSQL_DIR/mysqld.out" 2>&1 </dev/null &
	echo $! >"$pidfile"
	wait_for mariadb 60 mariadb-admin --no-defaults --socket="$(mysql_sock)" -uroot ping ||
		die "mariadb did not come up in 60 s; see $MYSQL_DIR/mysqld.err"
	mysql_root <<'SQL' || die "could not create the mkt account in MariaDB"
CREATE USER IF NOT EXISTS 'mkt'@'127.0.0.1' IDENTIFIED BY 'mkt';
CREATE USER IF NOT EXISTS 'mkt'@'localhost' IDENTIFIED BY 'mkt';
GRANT ALL PRIVILEGES ON `mkt%`.* TO 'mkt'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `mkt%`.* TO 'mkt'@'localhost';
CREATE DATABASE IF NOT EXISTS mkt CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
FLUSH PRIVILEGES;
SQL
	wait_for "mariadb tcp" 20 mariadb --no-defaults -h127.0.0.1 -P"$MYSQL_PORT" -umkt -pmkt -e 'SELECT 1' ||
		die "mariadb does not answer on 127.0.0.1:$MYSQL_PORT"
}

# ---------------------------------------------------------------- Redis

# redis_password_ensure: create the Redis password (random, 48 hex digits) in
# REDIS_PASSWORD_FILE, mode 0600, unless it exists. `up` calls it; `start
# redis` does not, so it restores Redis as the last `up` configured it.
redis_password_ensure() {
	[[ -s "$REDIS_PASSWORD_FILE" ]] && return 0
	mkdir -p "$REDIS_DIR"
	local pw tmp="$REDIS_PASSWORD_FILE.tmp"
	pw="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	[[ "$pw" =~ ^[0-9a-f]{48}$ ]] || die "could not generate a Redis password"
	(umask 077 && printf '%s\n' "$pw" >"$tmp") && mv -f "$tmp" "$REDIS_PASSWORD_FILE" ||
		die "could not write $REDIS_PASSWORD_FILE"
	log "generated the Redis password in $REDIS_PASSWORD_FILE (mode 0600)"
}

# redis_password: the password, empty when there is no password file.
redis_password() {
	if [[ -s "$REDIS_PASSWORD_FILE" ]]; then
		local pw
		pw="$(<"$REDIS_PASSWORD_FILE")"
		printf '%s' "${pw%%$'\r'}"
	fi
}

# rcli ARGS...: redis-cli on our Redis, authenticated when there is a
# password. The password travels in REDISCLI_AUTH, never on a command line.
rcli() {
	local pw
	pw="$(redis_password)"
	if [[ -n "$pw" ]]; then
		REDISCLI_AUTH="$pw" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
	else
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
	fi
}

redis_pong() { [[ "$(rcli ping 2>/dev/null)" == PONG ]]; }

# redis_check_running: the running Redis answers with the password file's
# password. A Redis started before there was one (no requirepass) gets it
# live — CONFIG SET, no restart: connected clients stay connected, new ones
# must AUTH — so `up` hardens a running stack and stays idempotent. Fails
# when Redis does not answer or wants another password.
redis_check_running() {
	local pw
	pw="$(redis_password)"
	if [[ -n "$pw" && "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1)" == PONG ]]; then
		log "redis runs without a password: setting the one in $REDIS_PASSWORD_FILE (CONFIG SET requirepass)"
		# The command goes through stdin, so the password is on no command line.
		[[ "$(printf 'CONFIG SET requirepass %s\n' "$pw" | redis-cli -h 127.0.0.1 -p "$REDIS_PORT" 2>&1)" == OK ]] ||
			die "could not set the Redis password on 127.0.0.1:$REDIS_PORT"
	fi
	redis_pong && return 0
	if [[ "$(rcli ping 2>&1)" == *NOAUTH* || "$(rcli ping 2>&1)" == *WRONGPASS* ]]; then
		local which="the one in $REDIS_PASSWORD_FILE"
		[[ -n "$pw" ]] || which="none ($REDIS_PASSWORD_FILE is missing; scripts/services.sh up creates it)"
		die "redis on 127.0.0.1:$REDIS_PORT wants another password than $which (set by hand, or the file was replaced?); restart it with the file's: scripts/services.sh stop redis && scripts/services.sh start redis"
	fi
	die "redis (pid $(cat "$REDIS_DIR/redis.pid")) does not answer PING on 127.0.0.1:$REDIS_PORT; see $REDIS_DIR/redis.log"
}

redis_up() {
	local pidfile="$REDIS_DIR/redis.pid"
	if pid_alive "$pidfile" && port_open "$REDIS_PORT"; then
		redis_check_running
		log "redis already running (pid $(cat "$pidfile"))"
		return 0
	fi
	ensure_apt redis-server
	check_port_free redis "$REDIS_PORT" "$pidfile" MKT_REDIS_PORT redis-server
	mkdir -p "$REDIS_DIR"
	chmod 700 "$REDIS_DIR"
	local pw conf="$REDIS_DIR/redis.conf"
	pw="$(redis_password)"
	# The configuration holds the password: readable by its owner only,
	# before the password is in it.
	: >"$conf"
	chmod 600 "$conf"
	cat >"$conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize no
dir $REDIS_DIR
logfile $REDIS_DIR/redis.log
save ""
appendonly no
maxclients 10000
${pw:+requirepass $pw}
EOF
	log "starting redis on 127.0.0.1:$REDIS_PORT${pw:+ (password in $REDIS_PASSWORD_FILE)}"
	setsid nohup redis-server "$conf" >>"$REDIS_DIR/redis.out" 2>&1 </dev/null &
	echo $! >"$pidfile"
	wait_for redis 30 redis_pong ||
		die "redis did not come up in 30 s; see $REDIS_DIR/redis.log"
}

# ---------------------------------------------------------------- RocketMQ

rocketmq_jars() {
	if [[ -f "$RMQ_LIB/.complete" ]]; then
		return 0
	fi
	command -v mvn >/dev/null 2>&1 || ensure_apt maven
	log "resolving RocketMQ $ROCKETMQ_VERSION jars with Maven into $RMQ_LIB"
	mkdir -p "$RMQ_LIB"
	cat >"$CACHE/rocketmq-$ROCKETMQ_VERSION/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mkt.local</groupId>
  <artifactId>rocketmq-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-namesrv</artifactId><version>$ROCKETMQ_VERSION</version></dependency>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-broker</artifactId><version>$ROCKETMQ_VERSION</version></dependency>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-tools</artifactId><version>$ROCKETMQ_VERSION</version></dependency>
  </dependencies>
</project>
EOF
	mvn -B -q -f "$CACHE/rocketmq-$ROCKETMQ_VERSION/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$RMQ_LIB" >"$CACHE/maven.log" 2>&1 ||
		die "Maven could not resolve the RocketMQ jars; see $CACHE/maven.log"
	touch "$RMQ_LIB/.complete"
}

# rocketmq_ha_shim JAVA: compile LoopbackHAService (the broker's HA service
# bound to 127.0.0.1, see its source) into RMQ_EXT next to the resource that
# makes the broker load it (RocketMQ's ServiceProvider reads
# META-INF/service/org.apache.rocketmq.store.ha.HAService), once per change of
# the source. Needs javac, from the JDK that JAVA belongs to.
rocketmq_ha_shim() {
	local java="$1" javac service="META-INF/service/org.apache.rocketmq.store.ha.HAService"
	local cls="$RMQ_EXT/mkt/rocketmq/LoopbackHAService.class"
	if [[ -f "$cls" && "$cls" -nt "$HA_SHIM_SRC" && -f "$RMQ_EXT/$service" ]]; then
		return 0
	fi
	javac="$(dirname "$(readlink -f "$java")")/javac"
	[[ -x "$javac" ]] || die "no javac next to $java: the broker's HA port is bound to 127.0.0.1 by a class compiled here ($HA_SHIM_SRC); install a JDK (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME to one"
	log "compiling the broker's loopback HA service ($HA_SHIM_SRC)"
	rm -rf "$RMQ_EXT.tmp"
	mkdir -p "$RMQ_EXT.tmp/META-INF/service"
	"$javac" -nowarn -d "$RMQ_EXT.tmp" -cp "$RMQ_LIB/*" "$HA_SHIM_SRC" >"$CACHE/javac.log" 2>&1 ||
		die "javac failed on $HA_SHIM_SRC; see $CACHE/javac.log"
	echo mkt.rocketmq.LoopbackHAService >"$RMQ_EXT.tmp/$service"
	rm -rf "$RMQ_EXT"
	mv "$RMQ_EXT.tmp" "$RMQ_EXT"
}

# ha_port_exposed: the broker's HA port listens on an address other than
# 127.0.0.1 (a broker started before the loopback HA service).
ha_port_exposed() {
	command -v ss >/dev/null 2>&1 || return 1
	ss -Hltn "sport = :$BROKER_HA_PORT" 2>/dev/null | awk '{print $4}' |
		grep -qv '^127\.0\.0\.1:\|^\[::ffff:127\.0\.0\.1\]:'
}

# jvm_common HOME [CLASSPATH]: sets JVM_ARGS to the flags both RocketMQ
# processes share (JDK 17 module openings, G1, state under HOME, the cached
# jars, after CLASSPATH when given).
jvm_common() {
	JVM_ARGS=(-server -XX:+UseG1GC -XX:MaxGCPauseMillis=100
		--add-exports=java.base/sun.nio.ch=ALL-UNNAMED
		--add-opens=java.base/java.nio=ALL-UNNAMED
		--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
		--add-opens=java.base/java.lang=ALL-UNNAMED
		"-Drocketmq.home.dir=$1" "-Duser.home=$1" "-Djava.io.tmpdir=$1/tmp"
		-cp "${2:+$2:}$RMQ_LIB/*")
}

# mqadmin ARGS...: the RocketMQ admin tool, against our name server.
mqadmin() {
	local java
	java="$(find_java)" || return 1
	ROCKETMQ_HOME="$BROKER_DIR" "$java" -Xms64m -Xmx256m -XX:+UseSerialGC -Duser.home="$BROKER_DIR" \
		-Drmq.logback.configurationFile=rmq.tools.logback.xml -Drocketmq.home.dir="$BROKER_DIR" \
		-cp "$RMQ_LIB/*" org.apache.rocketmq.tools.command.MQAdminStartup "$@" -n "127.0.0.1:$NAMESRV_PORT"
}

broker_routable() {
	mqadmin updateTopic -b "127.0.0.1:$BROKER_PORT" -t mkt_ready_check -r 8 -w 8 >/dev/null 2>&1 || return 1
	mqadmin topicRoute -t mkt_ready_check 2>/dev/null | grep -q '"brokerName":"broker-a"'
}

namesrv_up() {
	local pidfile="$NAMESRV_DIR/namesrv.pid" java="$1"
	if pid_alive "$pidfile" && port_open "$NAMESRV_PORT"; then
		log "rocketmq name server already running (pid $(cat "$pidfile"))"
		return 0
	fi
	check_port_free "rocketmq name server" "$NAMESRV_PORT" "$pidfile" MKT_NAMESRV_PORT
	mkdir -p "$NAMESRV_DIR/tmp"
	cat >"$NAMESRV_DIR/namesrv.conf" <<EOF
listenPort=$NAMESRV_PORT
bindAddress=127.0.0.1
EOF
	log "starting rocketmq name server on 127.0.0.1:$NAMESRV_PORT"
	jvm_common "$NAMESRV_DIR"
	ROCKETMQ_HOME="$NAMESRV_DIR" setsid nohup "$java" -Xms256m -Xmx256m "${JVM_ARGS[@]}" \
		-Drmq.logback.configurationFile=rmq.namesrv.logback.xml \
		org.apache.rocketmq.namesrv.NamesrvStartup -c "$NAMESRV_DIR/namesrv.conf" \
		>>"$NAMESRV_DIR/namesrv.out" 2>&1 </dev/null &
	echo $! >"$pidfile"
	wait_for "rocketmq name server" 60 port_open "$NAMESRV_PORT" ||
		die "the RocketMQ name server did not listen on $NAMESRV_PORT in 60 s; see $NAMESRV_DIR/namesrv.out"
}

broker_up() {
	local pidfile="$BROKER_DIR/broker.pid" java="$1"
	if pid_alive "$pidfile" && port_open "$BROKER_PORT"; then
		log "rocketmq broker already running (pid $(cat "$pidfile"))"
		if ha_port_exposed; then
			log "warning: its HA port $BROKER_HA_PORT listens on every interface (started before the loopback HA service); restart it: scripts/services.sh stop broker && scripts/services.sh start broker"
		fi
		return 0
	fi
	for p in "$BROKER_PORT" "$BROKER_FAST_PORT" "$BROKER_HA_PORT"; do
		check_port_free "rocketmq broker" "$p" "$pidfile" MKT_BROKER_PORT
	done
	rocketmq_ha_shim "$java"
	mkdir -p "$BROKER_DIR/store" "$BROKER_DIR/tmp"
	cat >"$BROKER_DIR/broker.conf" <<EOF
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
namesrvAddr=127.0.0.1:$NAMESRV_PORT
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
listenPort=$BROKER_PORT
storePathRootDir=$BROKER_DIR/store
storePathCommitLog=$BROKER_DIR/store/commitlog
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
defaultTopicQueueNums=8
waitTimeMillsInSendQueue=3000
osPageCacheBusyTimeOutMills=3000
transactionCheckInterval=5000
transactionTimeOut=3000
fileReservedTime=24
diskMaxUsedSpaceRatio=88
EOF
	log "starting rocketmq broker on 127.0.0.1:$BROKER_PORT"
	jvm_common "$BROKER_DIR" "$RMQ_EXT"
	ROCKETMQ_HOME="$BROKER_DIR" setsid nohup "$java" -Xms1g -Xmx1g -XX:MaxDirectMemorySize=1g "${JVM_ARGS[@]}" \
		-Dmkt.ha.bindAddress=127.0.0.1 \
		org.apache.rocketmq.broker.BrokerStartup -c "$BROKER_DIR/broker.conf" \
		>>"$BROKER_DIR/broker.out" 2>&1 </dev/null &
	echo $! >"$pidfile"
	wait_for "rocketmq broker port" 90 port_open "$BROKER_PORT" ||
		die "the RocketMQ broker did not listen on $BROKER_PORT in 90 s; see $BROKER_DIR/broker.out and $BROKER_DIR/logs/rocketmqlogs/broker.log"
}

java_or_die() {
	find_java || die "no Java 11+ runtime found (RocketMQ needs one): install it, e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME"
}

rocketmq_up() {
	local java
	java="$(java_or_die)"
	rocketmq_jars
	namesrv_up "$java"
	broker_up "$java"
	broker_ready
}

# broker_ready: wait until the broker is registered with the name server and
# a topic can be created and routed.
broker_ready() {
	# The routing check costs two JVM starts; skip it when this very broker
	# process already passed it.
	local marker="$BROKER_DIR/ready" pid
	pid="$(cat "$BROKER_DIR/broker.pid")"
	if [[ -f "$marker" && "$(cat "$marker")" == "$pid" ]] && port_open "$NAMESRV_PORT"; then
		return 0
	fi
	if ! wait_for "rocketmq broker (registered, topic created and routed)" 90 broker_routable; then
		if grep -qi "disk full\|disk is full\|DiskFull" "$BROKER_DIR"/logs/rocketmqlogs/*.log 2>/dev/null; then
			die "the RocketMQ broker reports a full disk; free space under $STATE"
		fi
		die "the RocketMQ broker did not register and route a topic in 90 s; see $BROKER_DIR/logs/rocketmqlogs/broker.log"
	fi
	echo "$pid" >"$marker"
}

# ---------------------------------------------------------------- commands

stop_pidfile() {
	local name="$1" pidfile="$2" secs="${3:-30}"
	if ! pid_alive "$pidfile"; then
		rm -f "$pidfile"
		return 0
	fi
	local pid
	pid="$(cat "$pidfile")"
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + secs))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "$name did not stop in ${secs}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.3
	done
	rm -f "$pidfile"
}

cmd_up() {
	check_disk
	local t0=$SECONDS
	mariadb_up
	redis_password_ensure
	redis_up
	rocketmq_up
	log "stack ready in $((SECONDS - t0))s (state in $STATE)"
}

cmd_down() {
	# Senders before receivers: the broker before its name server.
	stop_pidfile "rocketmq broker" "$BROKER_DIR/broker.pid" 60
	stop_pidfile "rocketmq name server" "$NAMESRV_DIR/namesrv.pid" 30
	stop_pidfile redis "$REDIS_DIR/redis.pid" 20
	stop_pidfile mariadb "$MYSQL_DIR/mysqld.pid" 60
}

status_line() {
	local name="$1" port="$2" pidfile="$3" state
	if pid_alive "$pidfile"; then
		if port_open "$port"; then state="running  pid $(cat "$pidfile")"; else state="starting pid $(cat "$pidfile") (port closed)"; fi
	elif port_open "$port"; then
		state="port held by another process $(port_owner "$port")"
	else
		state="stopped"
	fi
	printf '%-22s 127.0.0.1:%-6s %s\n' "$name" "$port" "$state"
}

cmd_status() {
	status_line mariadb "$MYSQL_PORT" "$MYSQL_DIR/mysqld.pid"
	status_line redis "$REDIS_PORT" "$REDIS_DIR/redis.pid"
	status_line "rocketmq name server" "$NAMESRV_PORT" "$NAMESRV_DIR/namesrv.pid"
	status_line "rocketmq broker" "$BROKER_PORT" "$BROKER_DIR/broker.pid"
	printf 'state directory        %s\n' "$STATE"
	if [[ -s "$REDIS_PASSWORD_FILE" ]]; then
		printf 'redis password         %s\n' "$REDIS_PASSWORD_FILE"
	else
		printf 'redis password         none (the next up creates %s)\n' "$REDIS_PASSWORD_FILE"
	fi
	local all=0
	pid_alive "$MYSQL_DIR/mysqld.pid" && pid_alive "$REDIS_DIR/redis.pid" &&
		pid_alive "$NAMESRV_DIR/namesrv.pid" && pid_alive "$BROKER_DIR/broker.pid" || all=1
	return $all
}

# service_name NAME: check NAME is one of the four services.
service_name() {
	case "${1:-}" in
	mariadb | redis | namesrv | broker) ;;
	"") die "which service? (want mariadb | redis | namesrv | broker)" ;;
	*) die "unknown service '$1' (want mariadb | redis | namesrv | broker)" ;;
	esac
}

# cmd_stop NAME: stop one service (SIGTERM, as down does), keeping its data;
# the others keep running. For outages on purpose (the fault suite).
cmd_stop() {
	service_name "${1:-}"
	case "$1" in
	mariadb) stop_pidfile mariadb "$MYSQL_DIR/mysqld.pid" 60 ;;
	redis) stop_pidfile redis "$REDIS_DIR/redis.pid" 20 ;;
	namesrv) stop_pidfile "rocketmq name server" "$NAMESRV_DIR/namesrv.pid" 30 ;;
	broker) stop_pidfile "rocketmq broker" "$BROKER_DIR/broker.pid" 60 ;;
	esac
}

# cmd_start NAME: start one service (a no-op when it runs) and wait until it
# is ready, as up does.
cmd_start() {
	service_name "${1:-}"
	local java
	case "$1" in
	mariadb) check_disk && mariadb_up ;;
	redis) redis_up ;;
	namesrv)
		java="$(java_or_die)"
		rocketmq_jars
		namesrv_up "$java"
		;;
	broker)
		check_disk
		java="$(java_or_die)"
		rocketmq_jars
		port_open "$NAMESRV_PORT" || die "the RocketMQ name server is not running on 127.0.0.1:$NAMESRV_PORT; start namesrv first"
		broker_up "$java"
		broker_ready
		;;
	esac
}

cmd_reset() {
	cmd_down
	log "deleting state under $STATE (keeping the jar cache)"
	rm -rf "$MYSQL_DIR" "$REDIS_DIR" "$STATE/rocketmq"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
reset) cmd_reset ;;
stop) cmd_stop "${2:-}" ;;
start) cmd_start "${2:-}" ;;
-h | --help | help | "")
	sed -n '2,/^set -Eeuo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
	[[ -n "${1:-}" ]] || exit 2
	;;
*) die "unknown command '$1' (want up | down | status | reset | stop NAME | start NAME)" ;;
esac
