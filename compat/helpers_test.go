package compat

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoInclude is the repository's public header tree.
const repoInclude = "../include"

// requireCFrontEnd skips the test when no C compiler is available: cc/v4
// asks one for the predefined macros and system include paths.
func requireCFrontEnd(t *testing.T) {
	t.Helper()
	if cc := os.Getenv("CC"); cc != "" {
		if _, err := exec.LookPath(strings.Fields(cc)[0]); err == nil {
			return
		}
	}
	for _, name := range []string{"cc", "gcc"} {
		if _, err := exec.LookPath(name); err == nil {
			return
		}
	}
	t.Skip("no C compiler on PATH; cc/v4 needs one")
}

// requireManifestTarget skips the test on targets whose C ABI differs from
// the manifests' linux/amd64.
func requireManifestTarget(t *testing.T) {
	t.Helper()
	if target := runtime.GOOS + "/" + runtime.GOARCH; target != "linux/amd64" {
		t.Skipf("manifests describe linux/amd64, not %s", target)
	}
}

func mustLoadManifest(t *testing.T, name string) *ABI {
	t.Helper()
	m, err := LoadManifest(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustParse(t *testing.T, includeDir string, headers ...string) *ABI {
	t.Helper()
	a, err := Parse(includeDir, headers...)
	if err != nil {
		t.Fatalf("Parse(%s, %v): %v", includeDir, headers, err)
	}
	return a
}

// diffStrings renders diffs for comparison with expected text.
func diffStrings(diffs []Diff) []string {
	out := make([]string, 0, len(diffs))
	for _, d := range diffs {
		out = append(out, d.String())
	}
	return out
}

// edit is one textual change to a header: old must occur exactly once.
type edit struct {
	file     string // relative to the include directory
	old, new string
}

// editedTree copies the repository's headers into a temporary directory,
// applies the edits and returns the directory.
func editedTree(t *testing.T, edits ...edit) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(repoInclude, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoInclude, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		path := filepath.Join(dir, e.file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), e.old); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want exactly once", e.file, e.old, n)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(data), e.old, e.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// headerFiles lists every header under the repository's include directory,
// relative to it.
func headerFiles(t *testing.T) []string {
	t.Helper()
	var headers []string
	err := filepath.WalkDir(repoInclude, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".h") {
			rel, err := filepath.Rel(repoInclude, path)
			if err != nil {
				return err
			}
			headers = append(headers, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return headers
}
