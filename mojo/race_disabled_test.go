//go:build !race

package mojo

const raceEnabled = false
