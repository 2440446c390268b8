//go:build !race

package capi_test

const raceBuild = false
