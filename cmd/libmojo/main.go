//go:build cgo

// Command libmojo is the main package of libmojo.so: built with
// -buildmode=c-shared it links package capi, whose exports are the
// library's API (see capi's package doc and `make lib`). As an ordinary
// program it does nothing.
package main

import _ "github.com/ipcz-go/ipcz-go/capi"

func main() {}
