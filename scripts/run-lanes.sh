#!/usr/bin/env bash
# run-lanes.sh NAME 'COMMAND' [NAME 'COMMAND']... - run each command at the
# same time, each in a lane of its own (`make test` runs the e2e suite on
# the embedded stores beside the same suite on S3 + PostgreSQL: both spend
# most of their time waiting on daemons, servers and each other, so two
# lanes share the two cores well). A lane's output goes to
# $LANES_LOG/NAME.log (default build/lanes); when every lane has finished
# each log is printed in turn with its lane's wall and CPU time. A lane is
# a command line run by bash, so `a && b` runs in sequence inside it.
# Exit status 0 when every lane passed. An interrupt stops every lane
# (each lane's own traps stop its servers).
set -uo pipefail
cd "$(dirname "$0")/.."

logs=${LANES_LOG:-build/lanes}
mkdir -p "$logs"
names=() pids=()
# Job control: each lane runs in a process group of its own, whose id is
# its first process's; stopping a lane signals its whole group.
set -m
stop_lanes() {
	local p
	for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap 'stop_lanes; exit 130' INT TERM HUP

while [ $# -ge 2 ]; do
	name=$1 cmd=$2
	shift 2
	/usr/bin/time -f "lanes: $name took %e s wall, %U s user + %S s system CPU" -o "$logs/$name.time" \
		bash -c "$cmd" >"$logs/$name.log" 2>&1 </dev/null &
	names+=("$name")
	pids+=($!)
	echo "lanes: $name started ($cmd), output in $logs/$name.log"
done

rc=0
status=()
for i in "${!pids[@]}"; do
	wait "${pids[$i]}"
	status[$i]=$?
done
for i in "${!names[@]}"; do
	echo "======== ${names[$i]} (exit status ${status[$i]})"
	cat "$logs/${names[$i]}.log"
	cat "$logs/${names[$i]}.time" 2>/dev/null
	[ "${status[$i]}" -eq 0 ] || rc=1
done
for i in "${!names[@]}"; do
	tail -n1 "$logs/${names[$i]}.time" 2>/dev/null
	[ "${status[$i]}" -eq 0 ] || echo "lanes: ${names[$i]} FAILED (exit status ${status[$i]}; $logs/${names[$i]}.log)"
done
exit $rc
