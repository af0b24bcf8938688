#!/usr/bin/env bash
# run-unit.sh BIN... - run each unit-test binary, show its output, and close
# with "unit: N passed, N failed" summed over the binaries' own
# "N passed, N failed" lines. A binary that crashes, exits non-zero without
# reporting a failure, or prints no summary counts as one failure.
set -uo pipefail

total_pass=0
total_fail=0
for bin in "$@"; do
	echo "== $bin"
	out=$(timeout 600 "$bin" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n1 || true)
	if [ -n "$line" ]; then
		p=$(printf '%s' "$line" | grep -oE '[0-9]+ passed' | tail -n1 | cut -d' ' -f1)
		f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | tail -n1 | cut -d' ' -f1)
	else
		p=0 f=0
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		if [ "$rc" -gt 128 ]; then
			echo "$bin: crashed (signal $((rc - 128)))"
		else
			echo "$bin: exited with status $rc"
		fi
		f=1
	elif [ -z "$line" ]; then
		echo "$bin: printed no \"N passed, N failed\" line"
		f=$((f + 1))
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
done

echo "unit: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
