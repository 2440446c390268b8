//go:build !race

package blockalloc

const raceEnabled = false
