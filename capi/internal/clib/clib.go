// Package clib builds libmojo.so: the one place that knows the build
// command, the linker flags (version script, soname) and the file layout.
// `make lib` runs it through the mklib command; capi's tests call Build to
// make a library of their own. It uses no cgo itself: it runs `go build`.
//
// Layout of a library directory:
//
//	libmojo.so.0            the library (its soname)
//	libmojo.so              symlink to libmojo.so.0, for -lmojo
//	pkgconfig/mojo.pc       pkg-config file, from mojo.pc.in
package clib

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Names and version.
const (
	Soname   = "libmojo.so.0"
	LinkName = "libmojo.so"
	PCName   = "mojo"
	Version  = "0.1.0"
)

// RepoRoot returns the module root (the directory holding go.mod), found
// by walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("clib: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// BuildArgs returns the arguments of the `go` command that builds the
// library from the module at root into out.
func BuildArgs(root, out string) []string {
	ldflags := fmt.Sprintf("-extldflags '-Wl,--version-script=%s -Wl,-soname,%s'",
		filepath.Join(root, "capi", "libmojo.map"), Soname)
	return []string{"build", "-buildmode=c-shared", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/libmojo"}
}

// Build builds the library of the module at root into libDir (created if
// needed), with the soname symlink layout above, and writes
// libDir/pkgconfig/mojo.pc for the library in place (prefix = root). The
// go command is goCmd ("go" if empty); the returned string is the command
// line that was run.
func Build(goCmd, root, libDir string) (string, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	libDir, err := filepath.Abs(libDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(libDir, "pkgconfig"), 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(libDir, Soname)
	args := BuildArgs(root, out)
	cmd := exec.Command(goCmd, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	line := goCmd + " " + quoteArgs(args)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return line, fmt.Errorf("clib: %s: %v\n%s", line, err, msg)
	}
	// cgo writes a header for exports of the main package only; there are
	// none, but remove whatever it wrote: the real headers are under
	// include/.
	_ = os.Remove(strings.TrimSuffix(out, filepath.Ext(out)) + ".h")
	link := filepath.Join(libDir, LinkName)
	_ = os.Remove(link)
	if err := os.Symlink(Soname, link); err != nil {
		return line, err
	}
	return line, WritePC(root, filepath.Join(libDir, "pkgconfig", PCName+".pc"), root, libDir, filepath.Join(root, "include"))
}

// WritePC writes a pkg-config file from root/mojo.pc.in.
func WritePC(root, path, prefix, libDir, includeDir string) error {
	tmpl, err := os.ReadFile(filepath.Join(root, "mojo.pc.in"))
	if err != nil {
		return err
	}
	rel := func(dir string) string {
		if r, err := filepath.Rel(prefix, dir); err == nil && !strings.HasPrefix(r, "..") {
			return "${prefix}/" + filepath.ToSlash(r)
		}
		return dir
	}
	pc := strings.NewReplacer(
		"@PREFIX@", prefix,
		"@LIBDIR@", rel(libDir),
		"@INCLUDEDIR@", rel(includeDir),
		"@VERSION@", Version,
	)
	return os.WriteFile(path, []byte(pc.Replace(string(tmpl))), 0o644)
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '") {
			a = `"` + a + `"`
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
