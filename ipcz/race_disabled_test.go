//go:build !race

package ipcz

const raceEnabled = false
