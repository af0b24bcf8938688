#!/usr/bin/env bash
# bench/console-size.sh - the admin console's first load as the server
# sends it: every HTML, JS and CSS file under src/console/assets/ (all of
# them, so an upper bound of what a first visit fetches), each as is and
# as `gzip -9n` (the copy the binary embeds and serves when the browser
# accepts gzip and it is smaller). The budget is 150 KB compressed.
#
#   bash bench/console-size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
total=0 total_gz=0
printf '%-24s %10s %10s\n' file bytes gzip
for f in $(find src/console/assets -maxdepth 1 -type f \( -name '*.html' -o -name '*.js' -o -name '*.mjs' -o -name '*.css' \) | LC_ALL=C sort); do
	n=$(wc -c <"$f")
	g=$(gzip -9n -c "$f" | wc -c)
	[ "$g" -lt "$n" ] || g=$n # sent as is when gzip does not help
	printf '%-24s %10d %10d\n' "$(basename "$f")" "$n" "$g"
	total=$((total + n))
	total_gz=$((total_gz + g))
done
printf '%-24s %10d %10d\n' total "$total" "$total_gz"
printf 'first load, compressed: %d bytes of a 153600-byte budget (%.1f%%)\n' \
	"$total_gz" "$(echo "$total_gz * 100 / 153600" | bc -l)"
