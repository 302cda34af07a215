//go:build race

package ply_test

// raceEnabled: the race detector slows calls and grows the heap; budgets
// of time and memory are not checked under it.
const raceEnabled = true
