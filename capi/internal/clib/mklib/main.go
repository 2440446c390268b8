// Command mklib builds libmojo.so (see package clib); `make lib` runs it.
//
//	go run ./capi/internal/clib/mklib [-o lib]
//
// It prints the go command it runs.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/ipcz-go/ipcz-go/capi/internal/clib"
)

func main() {
	out := flag.String("o", "lib", "library directory")
	goCmd := flag.String("go", os.Getenv("GO"), "go command")
	flag.Parse()
	root, err := clib.RepoRoot()
	if err != nil {
		log.Fatal(err)
	}
	line, err := clib.Build(*goCmd, root, *out)
	fmt.Println(line)
	if err != nil {
		log.Fatal(err)
	}
}
