#!/usr/bin/env bash
# install.sh install|uninstall - `make install` / `make uninstall`.
#
# Variables (from the Makefile): DESTDIR, PREFIX, SYSCONFDIR, UNITDIR,
# BIN (the built binary), GEN (the output of gen-dist.sh).
#   PREFIX/bin/pictor
#   PREFIX/share/pictor/models/...           the classifier
#   PREFIX/share/man/man1/pictor*.1          generated from --help
#   PREFIX/share/doc/pictor/                 README and docs/
#   PREFIX/share/doc/pictor/examples/pictor.env
#   PREFIX/share/bash-completion/completions/pictor
#   UNITDIR/pictor.service
#   SYSCONFDIR/pictor/pictor.env             only if absent; uninstall
#                                            keeps it when it was changed
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PREFIX:=/usr/local}" "${DESTDIR:=}" "${BIN:=pictor}" "${GEN:=build/dist}"
: "${SYSCONFDIR:=$( [ "$PREFIX" = /usr ] && echo /etc || echo "$PREFIX/etc")}"
: "${UNITDIR:=$PREFIX/lib/systemd/system}"
D=$DESTDIR
share=$PREFIX/share

case ${1:-} in
install)
	[ -d models ] && [ -n "$(ls -A models)" ] || { echo "install: no models (make models)" >&2; exit 1; }
	install -D -m 0755 "$BIN" "$D$PREFIX/bin/pictor"
	(cd models && find . -type f) | while read -r f; do
		install -D -m 0644 "models/$f" "$D$share/pictor/models/${f#./}"
	done
	for m in "$GEN"/man/*.1; do
		install -D -m 0644 "$m" "$D$share/man/man1/$(basename "$m")"
	done
	install -D -m 0644 README.md "$D$share/doc/pictor/README.md"
	for f in docs/*.md; do install -D -m 0644 "$f" "$D$share/doc/pictor/$(basename "$f")"; done
	install -D -m 0644 "$GEN/pictor.env" "$D$share/doc/pictor/examples/pictor.env"
	install -D -m 0644 dist/pictor.bash-completion "$D$share/bash-completion/completions/pictor"
	mkdir -p "$D$UNITDIR"
	sed -e "s|@BINDIR@|$PREFIX/bin|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" \
		dist/pictor.service.in > "$D$UNITDIR/pictor.service"
	chmod 0644 "$D$UNITDIR/pictor.service"
	if [ ! -e "$D$SYSCONFDIR/pictor/pictor.env" ]; then
		install -D -m 0644 "$GEN/pictor.env" "$D$SYSCONFDIR/pictor/pictor.env"
	fi
	;;
uninstall)
	rm -f "$D$PREFIX/bin/pictor" "$D$share/man/man1/"pictor.1 "$D$share/man/man1/"pictor-*.1 \
		"$D$share/bash-completion/completions/pictor" "$D$UNITDIR/pictor.service"
	rm -rf "$D$share/pictor" "$D$share/doc/pictor"
	if [ -e "$D$SYSCONFDIR/pictor/pictor.env" ] && cmp -s "$GEN/pictor.env" "$D$SYSCONFDIR/pictor/pictor.env"; then
		rm -f "$D$SYSCONFDIR/pictor/pictor.env"
		rmdir "$D$SYSCONFDIR/pictor" 2>/dev/null || true
	fi
	;;
*)
	echo "usage: install.sh install|uninstall" >&2
	exit 2
	;;
esac
