//go:build cgo && race

package capi

const raceEnabled = true
