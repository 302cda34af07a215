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
package bench
