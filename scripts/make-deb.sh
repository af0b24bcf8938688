#!/usr/bin/env bash
# make-deb.sh BIN BUILD - build BUILD/pictor_VERSION_ARCH.deb with dpkg-deb.
#
# The tree is `make install` staged with PREFIX=/usr; runtime dependencies
# come from dpkg-shlibdeps over the binary (the libraries it actually
# links, mapped to the packages that ship them); the maintainer scripts
# create the pictor system user and /var/lib/pictor; /etc/pictor/pictor.env
# is a conffile.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1
build=$2
case $bin in */*) ;; *) bin=./$bin ;; esac
version=$("$bin" version | awk 'NR==1{print $2}')
arch=$(dpkg --print-architecture)
stage=$build/deb/root
out=$build/pictor_${version}_${arch}.deb

rm -rf "$build/deb"
mkdir -p "$stage/DEBIAN"
PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system DESTDIR="$stage" \
	BIN="$bin" GEN="$build/dist" bash scripts/install.sh install
gzip -9n "$stage"/usr/share/man/man1/*.1

# dpkg-shlibdeps wants a debian/control to read; give it a minimal one
mkdir -p "$build/deb/src/debian"
printf 'Source: pictor\n\nPackage: pictor\nArchitecture: any\n' > "$build/deb/src/debian/control"
depends=$(cd "$build/deb/src" && dpkg-shlibdeps -O "../root/usr/bin/pictor" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "make-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: pictor
Version: $version
Architecture: $arch
Maintainer: Pictor maintainers <pictor@localhost>
Installed-Size: $size
Depends: $depends, adduser
Section: httpd
Priority: optional
Description: self-hosted image server
 Pictor accepts uploads, classifies and moderates them with an on-board
 neural network, stores originals content-addressed and serves signed,
 resized variants in the style of Cloudflare Images.
CONTROL

echo /etc/pictor/pictor.env > "$stage/DEBIAN/conffiles"

cat > "$stage/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
	if ! getent passwd pictor >/dev/null; then
		adduser --system --group --home /var/lib/pictor --no-create-home \
			--gecos "Pictor image server" pictor >/dev/null
	fi
	install -d -o pictor -g pictor -m 0750 /var/lib/pictor
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null || true
		systemctl enable pictor.service >/dev/null || true
		systemctl restart pictor.service || true
	fi
fi
exit 0
SCRIPT

cat > "$stage/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	systemctl stop pictor.service >/dev/null 2>&1 || true
	systemctl disable pictor.service >/dev/null 2>&1 || true
fi
exit 0
SCRIPT

# purge removes the account; /var/lib/pictor holds people's images and is
# left for the administrator (as PostgreSQL's package leaves its cluster)
cat > "$stage/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = purge ] && getent passwd pictor >/dev/null; then
	deluser --system pictor >/dev/null 2>&1 || true
fi
exit 0
SCRIPT
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
