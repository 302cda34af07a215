//go:build !race

package ply_test

const raceEnabled = false
