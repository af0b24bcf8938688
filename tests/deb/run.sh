#!/usr/bin/env bash
# run.sh DEB - install the package, run the packaged binary as user pictor
# against /etc/pictor, upload and fetch an image, remove and purge.
# Called by tests/e2e/deb.test.mjs under `flock`, as root. Prints "ok: ..."
# lines; any failure exits non-zero with the reason on stderr.
set -euo pipefail
# Under the caller's flock, so another run of this test has finished and
# purged its package; one installed now was installed by someone else.
if dpkg -s pictor >/dev/null 2>&1; then
	echo "skip: a pictor package is installed on this machine; not touching it"
	exit 77
fi
deb=$(realpath "$1")
image=$(realpath "$2")
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o DPkg::Lock::Timeout=300 --no-install-recommends)
work=$(mktemp -d /tmp/pictor-deb-XXXXXX)
pid=
had_data=0
[ -e /var/lib/pictor ] && had_data=1
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	apt-get purge "${apt_opts[@]}" pictor >/dev/null 2>&1 || true
	[ "$had_data" = 0 ] && rm -rf /var/lib/pictor
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "deb: $*" >&2; exit 1; }

apt-get install "${apt_opts[@]}" "$deb" >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "apt-get install failed"; }
echo "ok: installed"
# where systemd runs, postinst started the unit; this test runs the
# binary itself, and the data directory takes one daemon at a time
if [ -d /run/systemd/system ]; then systemctl stop pictor.service || true; fi
[ -x /usr/bin/pictor ] || fail "no /usr/bin/pictor"
getent passwd pictor >/dev/null || fail "no pictor user"
[ "$(stat -c %U:%a /var/lib/pictor)" = pictor:750 ] || fail "/var/lib/pictor: $(stat -c %U:%a /var/lib/pictor)"
grep -qx /etc/pictor/pictor.env /var/lib/dpkg/info/pictor.conffiles || fail "pictor.env is not a conffile"
[ -f /lib/systemd/system/pictor.service ] || fail "no unit"
echo "ok: user, data directory, conffile, unit"

# the packaged binary, from /, finds its installed model
(cd / && /usr/bin/pictor classify "$image") >"$work/classify" 2>&1 || { cat "$work/classify" >&2; fail "classify from /"; }
echo "ok: classify from / with the installed model"

# as the unit would run it: user pictor, settings from /etc/pictor
# (a loopback port of our choosing instead of the default)
printf '\nPICTOR_LISTEN=127.0.0.1:0\nPICTOR_SCRUB_RATE=0\n' >> /etc/pictor/pictor.env
setpriv --reuid=pictor --regid=pictor --init-groups -- sh -c 'set -a; . /etc/pictor/pictor.env; set +a; exec /usr/bin/pictor serve --data /var/lib/pictor' \
	2>"$work/serve.log" &
pid=$!
for _ in $(seq 200); do
	grep -q '"msg":"listening"' "$work/serve.log" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; fail "serve exited"; }
	sleep 0.1
done
addr=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$work/serve.log" | head -1)
[ -n "$addr" ] || { cat "$work/serve.log" >&2; fail "serve did not listen"; }
[ "$(ps -o user= -p "$pid" | tr -d ' ')" = pictor ] || fail "not running as pictor"
token=$(sed -n 's/.*"admin_token" *: *"\([^"]*\)".*/\1/p' /var/lib/pictor/secrets.json)
id=$(curl -sf -H "Authorization: Bearer $token" -F "file=@$image" "http://$addr/v1/images" |
	sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
[ -n "$id" ] || fail "upload failed"
curl -sf -o "$work/back" -H "Authorization: Bearer $token" "http://$addr/v1/images/$id/blob" || fail "blob fetch"
cmp -s "$work/back" "$image" || fail "original differs"
[ "$(stat -c %U "$(find /var/lib/pictor/blobs -type f | head -1)")" = pictor ] || fail "blob not owned by pictor"
echo "ok: served as pictor from /var/lib/pictor"
kill "$pid"
wait "$pid" || fail "serve did not exit cleanly on SIGTERM"
pid=

apt-get remove "${apt_opts[@]}" pictor >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "apt-get remove failed"; }
[ ! -e /usr/bin/pictor ] || fail "binary left after remove"
[ -f /etc/pictor/pictor.env ] || fail "conffile removed by remove"
apt-get purge "${apt_opts[@]}" pictor >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "apt-get purge failed"; }
[ ! -e /etc/pictor/pictor.env ] || fail "conffile left after purge"
! getent passwd pictor >/dev/null || fail "user left after purge"
echo "ok: removed and purged"
