//go:build race

package mojo

// crossStreamBytes is what TestCrossProcessDataPipeStream sends: 64 MiB
// under the race detector (which slows the copies tenfold), 1 GiB
// otherwise.
const crossStreamBytes = 64 << 20
