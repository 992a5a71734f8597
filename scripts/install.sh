#!/usr/bin/env bash
# install.sh — install mkt for systemd: the binaries, the units from
# deploy/systemd, the sysusers.d and tmpfiles.d files and the example
# environment files. `make install` runs it. Nothing is started, no user is
# created: the last lines printed say what to run (docs/OPERATIONS.md).
#
#   scripts/install.sh                          build, install under /usr/local
#   PREFIX=/usr scripts/install.sh              under /usr (a distribution's layout)
#   DESTDIR=/tmp/stage scripts/install.sh       stage into a tree (packaging, tests)
#   BIN_DIR=bin scripts/install.sh              take built binaries instead of building
#
# Variables (defaults in brackets):
#   PREFIX       [/usr/local]  binaries in PREFIX/bin
#   DESTDIR      []            prepended to every path written
#   SYSCONFDIR   [/etc]        environment files in SYSCONFDIR/mkt
#   UNITDIR      [PREFIX/lib/systemd/system]  use /etc/systemd/system for a
#                PREFIX whose lib/systemd/system systemd does not search
#   SYSUSERSDIR  [PREFIX/lib/sysusers.d]
#   TMPFILESDIR  [PREFIX/lib/tmpfiles.d]
#   DOCDIR       [PREFIX/share/doc/mkt]  copies of the examples
#   BIN_DIR      []            directory holding built mktctl, pushd, couponsd
#   GO           [go]
#
# Environment files already in SYSCONFDIR/mkt are never overwritten. Exit
# 0 installed, 1 failed, 2 bad usage.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,/^set -Eeuo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
"") ;;
*) echo "install.sh: no arguments are taken (got '$1'); set variables instead, see --help" >&2; exit 2 ;;
esac

PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
SYSCONFDIR="${SYSCONFDIR:-/etc}"
UNITDIR="${UNITDIR:-$PREFIX/lib/systemd/system}"
SYSUSERSDIR="${SYSUSERSDIR:-$PREFIX/lib/sysusers.d}"
TMPFILESDIR="${TMPFILESDIR:-$PREFIX/lib/tmpfiles.d}"
DOCDIR="${DOCDIR:-$PREFIX/share/doc/mkt}"
GO="${GO:-go}"
for v in PREFIX SYSCONFDIR UNITDIR SYSUSERSDIR TMPFILESDIR DOCDIR; do
	if [[ "${!v}" != /* ]]; then
		echo "install.sh: $v must be an absolute path (got '${!v}')" >&2
		exit 2
	fi
done
if [[ -n "$DESTDIR" && "$DESTDIR" != /* ]]; then
	DESTDIR="$PWD/$DESTDIR"
fi

bins=(mktctl pushd couponsd)
if [[ -n "${BIN_DIR:-}" ]]; then
	for b in "${bins[@]}"; do
		if [[ ! -x "$BIN_DIR/$b" ]]; then
			echo "install.sh: $BIN_DIR/$b is missing or not executable (unset BIN_DIR to build)" >&2
			exit 2
		fi
	done
	src="$BIN_DIR"
else
	src="$(mktemp -d)"
	trap 'rm -rf "$src"' EXIT
	echo "building ${bins[*]}"
	CGO_ENABLED=0 "$GO" build -trimpath -o "$src/" ./cmd/...
fi

say() { printf '  %s\n' "$1"; }

install -d -m 0755 "$DESTDIR$PREFIX/bin"
for b in "${bins[@]}"; do
	install -m 0755 "$src/$b" "$DESTDIR$PREFIX/bin/$b"
	say "$PREFIX/bin/$b"
done

# The units name /usr/local/bin and /etc/mkt; point them at PREFIX/bin and
# SYSCONFDIR/mkt.
install -d -m 0755 "$DESTDIR$UNITDIR"
for u in pushd.service couponsd.service mkt-hotgoods.service mkt-hotgoods.timer; do
	sed -e "s|/usr/local/bin/|$PREFIX/bin/|g" -e "s|/etc/mkt/|$SYSCONFDIR/mkt/|g" \
		"deploy/systemd/$u" >"$DESTDIR$UNITDIR/$u.tmp"
	chmod 0644 "$DESTDIR$UNITDIR/$u.tmp"
	mv -f "$DESTDIR$UNITDIR/$u.tmp" "$DESTDIR$UNITDIR/$u"
	say "$UNITDIR/$u"
done

install -D -m 0644 deploy/systemd/mkt.sysusers "$DESTDIR$SYSUSERSDIR/mkt.conf"
say "$SYSUSERSDIR/mkt.conf"
install -D -m 0644 deploy/systemd/mkt.tmpfiles "$DESTDIR$TMPFILESDIR/mkt.conf"
say "$TMPFILESDIR/mkt.conf"

# Examples: always refreshed under DOCDIR, copied to SYSCONFDIR/mkt only
# where absent. The group becomes mkt when installing for real as root and
# the group exists (systemd-tmpfiles sets it otherwise).
install -d -m 0755 "$DESTDIR$DOCDIR/examples"
install -d -m 0750 "$DESTDIR$SYSCONFDIR/mkt"
group=
if [[ -z "$DESTDIR" && "$(id -u)" == 0 ]] && getent group mkt >/dev/null; then
	group=mkt
	chgrp mkt "$SYSCONFDIR/mkt"
fi
for e in mkt pushd couponsd; do
	install -m 0644 "deploy/systemd/$e.env.example" "$DESTDIR$DOCDIR/examples/$e.env.example"
	dst="$DESTDIR$SYSCONFDIR/mkt/$e.env"
	if [[ -e "$dst" ]]; then
		say "$SYSCONFDIR/mkt/$e.env kept (the shipped example: $DOCDIR/examples/$e.env.example)"
		continue
	fi
	install -m 0640 "deploy/systemd/$e.env.example" "$dst"
	if [[ -n "$group" ]]; then chgrp "$group" "$dst"; fi
	say "$SYSCONFDIR/mkt/$e.env"
done

cat <<EOF
installed into ${DESTDIR:-/}. Next, as root on the target host:
  systemd-sysusers $SYSUSERSDIR/mkt.conf && systemd-tmpfiles --create $TMPFILESDIR/mkt.conf
  install -m 0600 /dev/null $SYSCONFDIR/mkt/mysql.dsn   # then write the DSN into it
  systemctl daemon-reload && systemctl enable --now pushd couponsd
  systemctl enable --now mkt-hotgoods.timer              # only without pushd schedules
EOF
