//go:build race

package mojo

const raceEnabled = true
