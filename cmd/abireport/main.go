// Command abireport prints the C ABI that a header tree declares, and checks
// it against another tree or against ipcz-go's reference manifests.
//
// Usage:
//
//	abireport [-I dir] [-json] HEADER...
//	abireport [-I dir] -compare REFDIR HEADER...
//	abireport [-I dir] -manifest [HEADER...]
//
// Headers are paths relative to the include directory (-I, default
// "include"), for example ipcz/ipcz.h or mojo/public/c/system/core.h.
//
// The first form prints one line per constant, macro, typedef and function,
// and one line per struct or table plus one per member, in a stable order;
// with -json it prints the ABI in the manifests' JSON format instead.
//
// -compare REFDIR parses the same headers from REFDIR and prints every
// difference, treating REFDIR as the reference ("got X, want Y" means the -I
// tree has X where REFDIR has Y).
//
// -manifest compares the tree with each reference manifest whose entry
// headers include a named header (all manifests if none is named), parsing
// the manifest's own list of entry headers.
//
// The exit status is 0 when there is nothing to report or no difference, 1
// when differences were found, and 2 for usage or parse errors.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ipcz-go/ipcz-go/compat"
)

const (
	exitOK      = 0
	exitDiffers = 1
	exitError   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, with its streams and exit status made explicit
// so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("abireport", flag.ContinueOnError)
	flags.SetOutput(stderr)
	includeDir := flags.String("I", "include", "include `directory` holding the headers")
	asJSON := flags.Bool("json", false, "print the ABI as JSON instead of text")
	compareDir := flags.String("compare", "", "compare with the same headers in reference `directory`")
	useManifest := flags.Bool("manifest", false, "compare with the reference manifests")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: abireport [-I dir] [-json] HEADER...")
		fmt.Fprintln(stderr, "       abireport [-I dir] -compare REFDIR HEADER...")
		fmt.Fprintln(stderr, "       abireport [-I dir] -manifest [HEADER...]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return exitError
	}
	headers := flags.Args()

	var err error
	status := exitOK
	switch {
	case *useManifest && *compareDir != "":
		err = usageError("-compare and -manifest cannot be combined")
	case *useManifest:
		status, err = compareWithManifests(stdout, *includeDir, headers)
	case len(headers) == 0:
		err = usageError("no headers named")
	case *compareDir != "":
		status, err = compareTrees(stdout, *includeDir, *compareDir, headers)
	default:
		err = report(stdout, *includeDir, headers, *asJSON)
	}
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "abireport: %v\n", err)
		flags.Usage()
		return exitError
	case err != nil:
		fmt.Fprintf(stderr, "abireport: %v\n", err)
		return exitError
	}
	return status
}

type usageError string

func (e usageError) Error() string { return string(e) }

func report(w io.Writer, includeDir string, headers []string, asJSON bool) error {
	a, err := compat.Parse(includeDir, headers...)
	if err != nil {
		return err
	}
	if !asJSON {
		_, err = io.WriteString(w, a.Report())
		return err
	}
	data, err := compat.EncodeABI(a)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func compareTrees(w io.Writer, includeDir, referenceDir string, headers []string) (int, error) {
	got, err := compat.Parse(includeDir, headers...)
	if err != nil {
		return exitError, err
	}
	want, err := compat.Parse(referenceDir, headers...)
	if err != nil {
		return exitError, err
	}
	// Both sides come from the same entry headers, so only the facts differ.
	diffs := compat.Compare(want, got)
	printDiffs(w, "", diffs)
	return statusOf(diffs), nil
}

func compareWithManifests(w io.Writer, includeDir string, headers []string) (int, error) {
	var selected []*compat.ABI
	var entries []string
	for _, name := range compat.ManifestNames() {
		m, err := compat.LoadManifest(name)
		if err != nil {
			return exitError, err
		}
		entries = append(entries, m.Headers...)
		if len(headers) == 0 || slices.ContainsFunc(headers, func(h string) bool { return slices.Contains(m.Headers, h) }) {
			selected = append(selected, m)
		}
	}
	for _, h := range headers {
		if !slices.Contains(entries, h) {
			return exitError, usageError(fmt.Sprintf("%s is not an entry header of any manifest (entry headers: %s)", h, strings.Join(entries, ", ")))
		}
	}
	status := exitOK
	for _, m := range selected {
		got, err := compat.Parse(includeDir, m.Headers...)
		if err != nil {
			return exitError, err
		}
		diffs := compat.Compare(m, got)
		printDiffs(w, m.Name+": ", diffs)
		status = max(status, statusOf(diffs))
	}
	return status, nil
}

// printDiffs writes one line per difference and a count.
func printDiffs(w io.Writer, prefix string, diffs []compat.Diff) {
	for _, d := range diffs {
		fmt.Fprintf(w, "%s%s\n", prefix, d)
	}
	switch len(diffs) {
	case 0:
		fmt.Fprintf(w, "%sno differences\n", prefix)
	case 1:
		fmt.Fprintf(w, "%s1 difference\n", prefix)
	default:
		fmt.Fprintf(w, "%s%d differences\n", prefix, len(diffs))
	}
}

func statusOf(diffs []compat.Diff) int {
	if len(diffs) > 0 {
		return exitDiffers
	}
	return exitOK
}
