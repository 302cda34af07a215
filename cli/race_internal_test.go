//go:build race

package cli

// raceEnabled: the race detector slows every call down some tenfold; the
// load test reloads fewer times under it.
const raceEnabled = true
