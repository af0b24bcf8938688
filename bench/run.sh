#!/usr/bin/env bash
# bench/run.sh - Pictor's delivery benchmark, with its in-process peer.
#
# 1. Starts ./pictor on a free loopback port with a fresh data directory.
# 2. Uploads the photo corpus (upload throughput).
# 3. Drives /img/<id>/w=<320|640|1280> (every pair in turn) with wrk (Accept: image/webp, so
#    f=auto renders WebP), and, at the same time, /healthz about 20 times
#    a second (its p99 while every worker is busy). A short unmeasured run
#    first warms both sides (page cache, allocator, libvips start-up).
# 4. Runs bench/inproc: the same decode-resize-encode with libvips on the
#    same number of threads, no HTTP, no storage.
# 5. Prints requests/s, p50/p99, peak RSS, upload MB/s, and the ratio.
#
# 6. Runs each option family a real site sends on its own (srcset widths
#    as AVIF and as WebP, square crops, sharpened resizes, the thumbnail
#    variant, 304 revalidations) and prints requests/s and p50/p99 each.
#
# Environment: BENCH_SECONDS (default 30), BENCH_CONNS (default 8),
# PICTOR_WORKERS (default: cores), BENCH_FILES (default: the corpus photos
# up to 3 MB), BENCH_FAMILIES=0 to skip step 6, BENCH_FAMILY_SECONDS
# (default 10). Needs wrk (scripts/install-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-30}
conns=${BENCH_CONNS:-8}
workers=${PICTOR_WORKERS:-$(nproc)}
corpus=build/corpus

make --no-print-directory pictor build/libpictor.a >/dev/null
bash scripts/fetch-corpus.sh >/dev/null
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc $(pkg-config --cflags vips) -o build/bench-inproc \
	bench/inproc.c build/libpictor.a \
	$(pkg-config --libs vips libmicrohttpd lmdb libpq jansson libcrypto libcurl) -ldnnl -lm -pthread

files=${BENCH_FILES:-$(find "$corpus" -maxdepth 1 -type f -size -3M \( -name '*.jpg' -o -name '*.png' \) | sort)}
data=$(mktemp -d /tmp/pictor-bench-XXXXXX)
log=$data/pictor.log
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

# The result cache is off: this measures renders (bench/cache.sh measures
# the cache).
./pictor serve --listen 127.0.0.1:0 --data "$data/var" --workers "$workers" \
	--queue 1024 --per-ip-conns 1000 --log-level warn \
	--cache-memory 0 --cache-disk 0 2>"$log" &
pid=$!
# The listening line is logged at info level; ask the port from /proc.
for _ in $(seq 100); do
	port=$(ss -ltnp 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {split($4,a,":"); print a[length(a)]}' | head -1)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "bench: pictor did not start"; cat "$log"; exit 1; }
base=http://127.0.0.1:$port
token=$(sed -n 's/.*"admin_token": "\(.*\)".*/\1/p' "$data/var/secrets.json")

# Upload the corpus.
ids=()
bytes=0
t0=$(date +%s.%N)
for f in $files; do
	id=$(curl -sf -H "Authorization: Bearer $token" -F "file=@$f" "$base/v1/images" |
		sed -n 's/.*"result":{"id":"\([^"]*\)".*/\1/p')
	[ -n "$id" ] || { echo "bench: upload of $f failed"; exit 1; }
	ids+=("$id")
	bytes=$((bytes + $(stat -c %s "$f")))
done
t1=$(date +%s.%N)
up_mbs=$(echo "$bytes $t0 $t1" | awk '{printf "%.1f", $1 / 1048576 / ($3 - $2)}')
up_ips=$(echo "${#ids[@]} $t0 $t1" | awk '{printf "%.1f", $1 / ($3 - $2)}')

# wrk picks a random image and width per request.
lua=$data/mix.lua
{
	echo "local ids = {"
	for id in "${ids[@]}"; do echo "  \"$id\","; done
	echo "}"
	cat <<'LUA'
local widths = {320, 640, 1280}
local counter = 0
wrk.headers["Accept"] = "image/webp,*/*"
-- Every (image, width) pair in turn, as bench/inproc does, so both see
-- the same mix; each wrk thread starts at a different point.
setup = function(thread)
  thread:set("counter", math.random(1000))
end
request = function()
  counter = counter + 1
  local k = counter % (#ids * #widths)
  local id = ids[(k % #ids) + 1]
  local w = widths[math.floor(k / #ids) + 1]
  return wrk.format("GET", "/img/" .. id .. "/w=" .. w .. ",f=auto")
end
LUA
} >"$lua"

wrk -t2 -c"$conns" -d5s --timeout 30s -s "$lua" "$base" >/dev/null 2>&1
./build/bench-inproc 5 "$workers" $files >/dev/null

# /healthz is probed about 20 times a second, not flooded: a flood would
# take a core from the image workers on a small machine.
node bench/probe.mjs "$base/healthz" "$secs" 50 >"$data/health.txt" 2>&1 &
hpid=$!
wrk -t2 -c"$conns" -d"$secs"s --timeout 30s --latency -s "$lua" "$base" >"$data/load.txt" 2>&1
wait "$hpid"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")

./build/bench-inproc "$secs" "$workers" $files >"$data/inproc.txt"

# Option families a real site sends, each on its own for fam_secs:
# srcset widths with f=auto as Chrome asks (AVIF), the same as Safari-era
# browsers ask (WebP), square crops with attention gravity, sharpened
# resizes, the named thumbnail, and revalidations answered 304.
fam_secs=${BENCH_FAMILY_SECONDS:-10}
family() { # name accept template(with ID and W) [if-none-match]
	local name=$1 accept=$2 tmpl=$3 inm=${4:-}
	{
		echo "local ids = {"
		for id in "${ids[@]}"; do echo "  \"$id\","; done
		echo "}"
		cat <<LUA
local widths = {320, 640, 1280}
local counter = 0
wrk.headers["Accept"] = "$accept"
${inm:+wrk.headers["If-None-Match"] = "$inm"}
setup = function(thread) thread:set("counter", math.random(1000)) end
request = function()
  counter = counter + 1
  local k = counter % (#ids * #widths)
  local path = string.gsub("$tmpl", "ID", ids[(k % #ids) + 1])
  path = string.gsub(path, "W", tostring(widths[math.floor(k / #ids) + 1]))
  return wrk.format("GET", path)
end
LUA
	} >"$data/$name.lua"
	wrk -t2 -c"$conns" -d"$fam_secs"s --timeout 30s --latency -s "$data/$name.lua" \
		"$base" >"$data/$name.txt" 2>&1
	printf '  %-14s %8s req/s  p50 %-9s p99 %-9s %s\n' "$name" \
		"$(awk '/Requests\/sec/ {print $2}' "$data/$name.txt")" \
		"$(awk '/^ +50%/ {print $2}' "$data/$name.txt")" \
		"$(awk '/^ +99%/ {print $2}' "$data/$name.txt")" \
		"$(awk '/Non-2xx/ {print "(" $0 ")"}' "$data/$name.txt")"
}
families=""
if [ "${BENCH_FAMILIES:-1}" = 1 ]; then
	first=${ids[0]}
	etag=$(curl -s -o /dev/null -D - -H 'Accept: image/webp' "$base/img/$first/thumbnail" |
		tr -d '\r' | awk -F': ' 'tolower($1) == "etag" {print $2}' | sed 's/"/\\"/g')
	families=$(
		family srcset-avif "image/avif,image/webp,*/*" "/img/ID/w=W,f=auto"
		family srcset-webp "image/webp,*/*" "/img/ID/w=W,f=auto"
		family crop "image/webp,*/*" "/img/ID/w=400,h=400,fit=cover,g=auto,f=auto"
		family sharpen "image/webp,*/*" "/img/ID/w=W,sharpen=1,f=auto"
		family thumbnail "image/webp,*/*" "/img/ID/thumbnail"
		family not-modified "image/webp,*/*" "/img/$first/thumbnail" "$etag"
	)
fi

rps=$(awk '/Requests\/sec/ {print $2}' "$data/load.txt")
p50=$(awk '/^ +50%/ {print $2}' "$data/load.txt")
p99=$(awk '/^ +99%/ {print $2}' "$data/load.txt")
errs=$(awk '/Non-2xx|Socket errors/' "$data/load.txt")
h99=$(sort -n "$data/health.txt" | awk '{a[NR] = $1} END {i = int(NR * 0.99); if (i < 1) i = 1; printf "%.1fms (%d probes, max %.1fms)", a[i] * 1000, NR, a[NR] * 1000}')
in_rps=$(awk '{print $2}' "$data/inproc.txt")
ratio=$(echo "$rps $in_rps" | awk '{printf "%.2f", $1 / $2}')

echo "pictor bench: ${#ids[@]} images, $workers workers, $conns connections, ${secs}s"
echo "upload:        $up_ips images/s, $up_mbs MB/s"
echo "delivery:      $rps req/s, p50 $p50, p99 $p99 ${errs:+($errs)}"
echo "healthz p99:   $h99 under load"
echo "peak RSS:      $((rss / 1024)) MiB"
echo "in-process:    $in_rps req/s (same transforms, no HTTP, no storage)"
echo "ratio:         $ratio of the in-process loop"
if [ -n "$families" ]; then
	echo "option families (${fam_secs}s each, $conns connections):"
	echo "$families"
fi
