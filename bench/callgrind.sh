#!/usr/bin/env bash
# callgrind.sh prints BenchmarkChain as a depth × impl table of instructions
# per call, counted by valgrind's callgrind, beside ns/op and allocs/op from
# an ordinary -benchmem run of the same test binary.
#
# Instruction counts do not move with the load of a shared machine, so they
# compare commits and implementations where ns/op cannot. Each cell runs the
# benchmark twice under callgrind, with -test.benchtime=${N1}x and ${N2}x
# iterations; the difference of the two totals over N2-N1 cancels the set-up
# (process start, building and starting the ply host) and leaves the cost of
# one call. Callgrind runs with GOMAXPROCS=1: with two Ps, the idle one
# spins in the scheduler for as long as valgrind lets it, and the totals
# wander by millions of instructions between identical runs; with one they
# repeat within a fraction of an instruction per call. The timed run uses
# the machine's GOMAXPROCS.
#
# Usage (from anywhere):
#
#	bench/callgrind.sh                      # every impl at depths 1 2 5 10 20
#	IMPLS="alice ply" DEPTHS="1 20" bench/callgrind.sh
#	NSCOUNT=0 bench/callgrind.sh            # instructions only, no timed run
#
# BIN=/absolute/path/bench.test measures a test binary built before (for
# instance at another commit, with CGO_ENABLED=0 go test -c) instead of
# building one.
#
# Environment: IMPLS, DEPTHS, N1 (default 20000), N2 (default 220000),
# NSCOUNT (timed runs averaged for ns/op; default 3, 0 skips them).
set -euo pipefail

cd "$(dirname "$0")"
IMPLS=${IMPLS:-"closure alice chi ply"}
DEPTHS=${DEPTHS:-"1 2 5 10 20"}
N1=${N1:-20000}
N2=${N2:-220000}
NSCOUNT=${NSCOUNT:-3}

command -v valgrind >/dev/null || {
	echo "callgrind.sh: valgrind is not installed" >&2
	exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Without cgo and with async preemption off: callgrind 3.19 asserts on the
# signals a cgo thread start and Go's preemption (SIGURG) deliver.
if [ -n "${BIN:-}" ]; then
	cp "$BIN" "$work/bench.test"
else
	CGO_ENABLED=0 go test -c -o "$work/bench.test" .
fi

# total IMPL DEPTH N prints the instructions callgrind counted over the
# whole process for N iterations of one sub-benchmark.
total() {
	local out="$work/cg.$1.$2.$3"
	GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$work/bench.test" -test.run='^$' -test.benchtime="$3x" \
		-test.bench="^BenchmarkChain\$/^impl=$1\$/^depth=$2\$" >/dev/null 2>&1
	awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

declare -A ins ns allocs
for d in $DEPTHS; do
	for i in $IMPLS; do
		a=$(total "$i" "$d" "$N1")
		b=$(total "$i" "$d" "$N2")
		ins[$i,$d]=$(awk -v a="$a" -v b="$b" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f", (b - a) / n }')
	done
done

if [ "$NSCOUNT" -gt 0 ]; then
	"$work/bench.test" -test.run='^$' -test.bench='^BenchmarkChain$' -test.benchmem \
		-test.count="$NSCOUNT" >"$work/ns.txt"
	# Average ns/op over the runs; allocs/op is the same in every run.
	while read -r i d v a; do
		ns[$i,$d]=$v
		allocs[$i,$d]=$a
	done < <(awk '
		/^BenchmarkChain\/impl=/ {
			split($1, p, "[=/-]")            # BenchmarkChain impl NAME depth D GOMAXPROCS
			k = p[3] " " p[5]
			sum[k] += $3; cnt[k]++
			for (f = 4; f <= NF; f++) if ($(f) == "allocs/op") al[k] = $(f - 1)
		}
		END { for (k in sum) printf "%s %.1f %s\n", k, sum[k] / cnt[k], al[k] }
	' "$work/ns.txt")
fi

printf '%-6s' depth
for i in $IMPLS; do printf ' %18s' "$i ins|ns|allocs"; done
echo
for d in $DEPTHS; do
	printf '%-6s' "$d"
	for i in $IMPLS; do
		printf ' %18s' "${ins[$i,$d]}|${ns[$i,$d]:--}|${allocs[$i,$d]:--}"
	done
	echo
done
echo "instructions/op: callgrind, (I(N2=$N2) - I(N1=$N1)) / (N2 - N1); ns/op: mean of $NSCOUNT timed runs"
