// Package bench holds the benchmarks that compare ply with its peers
// (alice, chi, watermill). It is a module of its own so that the peers
// stay out of the library's go.mod: a user of ply never downloads them.
//
// Every benchmark here measures ply the way a user calls it, from outside,
// beside the peer and a hand-written baseline in the same run:
//
//	cd bench && go test -run='^$' -bench=. -benchmem -count=6 . | tee /tmp/bench.txt
//
// Report ratios (benchstat over the same run), not absolute times.
//
// Times move with the load of a shared machine; instructions do not.
// callgrind.sh counts BenchmarkChain's instructions per call under
// valgrind's callgrind, depth × implementation, beside ns/op and allocs/op:
//
//	bench/callgrind.sh                              # every impl, depths 1–20
//	IMPLS="alice ply" DEPTHS="1 20" bench/callgrind.sh
package bench
