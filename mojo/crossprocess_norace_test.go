//go:build !race

package mojo

// crossStreamBytes is what TestCrossProcessDataPipeStream sends: 1 GiB
// (64 MiB under the race detector).
const crossStreamBytes = 1 << 30
