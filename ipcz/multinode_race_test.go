//go:build race

package ipcz_test

// raceOn reports whether the race detector is on; the stress tests scale
// down under it.
const raceOn = true
