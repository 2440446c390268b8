//go:build !linux

package datapipe

// populate is a no-op where the kernel has no populate hint.
func populate([]byte) {}
