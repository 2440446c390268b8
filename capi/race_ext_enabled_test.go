//go:build race

package capi_test

// raceBuild is set in the race-instrumented test binary; the C programs it
// runs still use the plain library, so slow duplicates are skipped.
const raceBuild = true
