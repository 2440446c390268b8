package capi_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/capi/internal/clib"
)

// The C tests build libmojo.so once per test binary (into a temporary
// directory removed by TestMain), compile each C program against it with
// gcc, and run it. They are skipped only when gcc is missing.

var (
	root    string // the module root
	tmpRoot string // removed by TestMain

	libOnce sync.Once
	libDir  string
	libErr  error

	binMu sync.Mutex
	bins  = map[string]string{}
)

func TestMain(m *testing.M) {
	var err error
	if root, err = clib.RepoRoot(); err != nil {
		panic(err)
	}
	if tmpRoot, err = os.MkdirTemp("", "capi-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// needGCC skips the test if there is no C compiler.
func needGCC(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: the C tests need it")
	}
}

// library builds libmojo.so (once) and returns its directory.
func library(t testing.TB) string {
	t.Helper()
	needGCC(t)
	libOnce.Do(func() {
		libDir = filepath.Join(tmpRoot, "lib")
		start := time.Now()
		var line string
		line, libErr = clib.Build("", root, libDir)
		t.Logf("%s (%v)", line, time.Since(start).Round(time.Millisecond))
	})
	if libErr != nil {
		t.Fatal(libErr)
	}
	return libDir
}

// cflags are the flags of every C test program: strict C11 with every
// warning an error.
var cflags = []string{"-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"}

// compile builds testdata/c/<name>.c against the library (once per set of
// extra flags) and returns the binary.
func compile(t testing.TB, name string, extra ...string) string {
	t.Helper()
	dir := library(t)
	key := name + " " + strings.Join(extra, " ")
	binMu.Lock()
	defer binMu.Unlock()
	if bin, ok := bins[key]; ok {
		return bin
	}
	bin := filepath.Join(tmpRoot, "bin", strings.NewReplacer(" ", "_", "=", "_", ",", "_").Replace(key))
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, cflags...), extra...)
	args = append(args, "-I", filepath.Join(root, "include"), "-o", bin,
		filepath.Join(root, "capi", "testdata", "c", name+".c"),
		"-L", dir, "-lmojo", "-Wl,-rpath,"+dir, "-lpthread")
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	bins[key] = bin
	return bin
}

// run runs a C program with a timeout, returning its stdout and error.
func run(t testing.TB, bin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return stdout.String(), stderr.String(), err
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v timed out\nstdout:\n%s\nstderr:\n%s", bin, args, stdout.String(), stderr.String())
		return "", "", nil
	}
}

// runPass runs a C test program and fails unless it exits 0 with its PASS
// line.
func runPass(t *testing.T, bin string, args ...string) string {
	t.Helper()
	stdout, stderr, err := run(t, bin, args...)
	if err != nil || !strings.Contains(stdout, "PASS ") {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, err, stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	return stdout
}

// TestCGuide runs every snippet of the Mojo guide from C.
func TestCGuide(t *testing.T) {
	out := runPass(t, compile(t, "guide_test"))
	for _, want := range []string{"Pipe says: hello\n", "Pipe says: ello\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// "Attempt to map and write to the buffer using the read-only handle:
	// ... // CRASH".
	stdout, _, err := run(t, compile(t, "guide_test"), "readonly-crash")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGSEGV {
		t.Fatalf("writing through a read-only mapping: %v, want death by SIGSEGV\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "mapped read-only") || strings.Contains(stdout, "wrote through") {
		t.Fatalf("unexpected output:\n%s", stdout)
	}
}

// TestCBehaviour checks the reference implementation's behaviour table
// from C.
func TestCBehaviour(t *testing.T) { runPass(t, compile(t, "behaviour_test")) }

// TestCIpcz drives the ipcz API through IpczGetAPI with a driver written
// in C, and the built-in drivers.
func TestCIpcz(t *testing.T) { runPass(t, compile(t, "ipcz_test")) }

// TestCThreads hammers the library from two C threads, plainly and under
// AddressSanitizer (which also checks the C side for leaks).
func TestCThreads(t *testing.T) {
	t.Run("plain", func(t *testing.T) { runPass(t, compile(t, "threads_test"), "5000") })
	t.Run("asan", func(t *testing.T) {
		needGCC(t)
		probe := exec.Command("gcc", "-fsanitize=address,undefined", "-x", "c", "-o", filepath.Join(tmpRoot, "asan-probe"), "-")
		probe.Stdin = strings.NewReader("int main(void){return 0;}\n")
		if probe.Run() != nil {
			t.Skip("gcc cannot link with -fsanitize=address,undefined here (libasan missing)")
		}
		bin := compile(t, "threads_test", "-fsanitize=address,undefined", "-fno-omit-frame-pointer")
		runPass(t, bin, "2000")
	})
	t.Run("valgrind", func(t *testing.T) {
		vg, err := exec.LookPath("valgrind")
		if err != nil {
			t.Skip("valgrind not found")
		}
		if testing.Short() || raceBuild {
			t.Skip("slow under valgrind; run in the plain (not -race) pass")
		}
		// Errors inside the library (the Go runtime) are suppressed: this
		// checks the C side, and definite leaks. Valgrind runs one thread
		// at a time; without fair scheduling the close race's busy writer
		// can keep the main thread from running for minutes.
		runPass(t, vg, "--fair-sched=yes", "--suppressions="+filepath.Join(root, "capi", "testdata", "c", "libmojo.supp"),
			"--error-exitcode=9", "--leak-check=full", "--errors-for-leak-kinds=definite", "-q",
			compile(t, "threads_test"), "40")
	})
}

// expectedExports reads the global symbols of the version script.
func expectedExports(t *testing.T) []string {
	data, err := os.ReadFile(filepath.Join(root, "capi", "libmojo.map"))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(data), "")
	global := text[strings.Index(text, "global:")+len("global:") : strings.Index(text, "local:")]
	var names []string
	for _, f := range strings.Split(global, ";") {
		if f = strings.TrimSpace(f); f != "" {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	return names
}

// TestExports checks the library's dynamic symbols (exactly the version
// script's list: the 33 Mojo functions, IpczGetAPI and the extensions) and
// its soname.
func TestExports(t *testing.T) {
	f, err := elf.Open(filepath.Join(library(t), clib.Soname))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) == elf.STB_GLOBAL {
			got = append(got, s.Name)
		}
	}
	sort.Strings(got)
	want := expectedExports(t)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("exported symbols:\n%s\nwant:\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
	mojo := 0
	for _, n := range want {
		if strings.HasPrefix(n, "Mojo") && !strings.HasPrefix(n, "MojoExt") {
			mojo++
		}
	}
	if mojo != 33 {
		t.Errorf("%d Mojo functions in the version script, want the era's 33", mojo)
	}
	sonames, err := f.DynString(elf.DT_SONAME)
	if err != nil || len(sonames) != 1 || sonames[0] != clib.Soname {
		t.Errorf("soname %v (%v), want %s", sonames, err, clib.Soname)
	}
}

// TestPkgConfig checks the generated pkg-config file with pkg-config
// itself and builds a program with its flags alone.
func TestPkgConfig(t *testing.T) {
	dir := library(t)
	pc, err := exec.LookPath("pkg-config")
	if err != nil {
		t.Skip("pkg-config not found")
	}
	env := append(os.Environ(), "PKG_CONFIG_PATH="+filepath.Join(dir, "pkgconfig"))
	pkg := func(args ...string) string {
		cmd := exec.Command(pc, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pkg-config %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	pkg("--validate", "mojo")
	if v := pkg("--modversion", "mojo"); v != clib.Version {
		t.Errorf("version %q", v)
	}
	if got := pkg("--variable=libdir", "mojo"); got != dir {
		t.Errorf("libdir %q, want %q", got, dir)
	}
	src := filepath.Join(tmpRoot, "pc.c")
	if err := os.WriteFile(src, []byte(`#include <stdio.h>
#include "mojo/public/c/system/core.h"
#include "mojo/ext/invitation.h"
#include "ipcz/ipcz.h"
#include "ipcz/ipcz_go_ext.h"
int main(void) {
  MojoHandle a, b;
  struct IpczAPI api = {sizeof api};
  if (MojoCreateMessagePipe(NULL, &a, &b) != MOJO_RESULT_OK) return 1;
  if (IpczGetAPI(&api) != IPCZ_RESULT_OK) return 2;
  puts("linked");
  return 0;
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmpRoot, "pc")
	args := append([]string{"-Wall", "-Werror", "-o", bin, src}, strings.Fields(pkg("--cflags", "--libs", "mojo"))...)
	args = append(args, "-Wl,-rpath,"+dir)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
	if out, err := exec.Command(bin).CombinedOutput(); err != nil || string(out) != "linked\n" {
		t.Fatalf("%v: %s", err, out)
	}
}

// TestExamples builds examples/c with its Makefile against the pkg-config
// file of the test's library (or with gcc directly where make or
// pkg-config is missing) and runs every example.
func TestExamples(t *testing.T) {
	dir := library(t)
	examples := filepath.Join(root, "examples", "c")
	bin := filepath.Join(tmpRoot, "examples")
	programs := []string{"hello", "datapipe", "watcher", "sharedbuffer", "parent_child"}
	_, makeErr := exec.LookPath("make")
	_, pcErr := exec.LookPath("pkg-config")
	if makeErr == nil && pcErr == nil {
		cmd := exec.Command("make", "-C", examples, "BIN="+bin, "PKG_CONFIG_PATH="+filepath.Join(dir, "pkgconfig"), "all")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make: %v\n%s", err, out)
		}
	} else {
		t.Logf("make or pkg-config missing: building with gcc directly")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range programs {
			args := append(append([]string{}, cflags...), "-I", filepath.Join(root, "include"), "-o", filepath.Join(bin, p),
				filepath.Join(examples, p+".c"), "-L", dir, "-lmojo", "-Wl,-rpath,"+dir, "-lpthread")
			if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
				t.Fatalf("gcc %v: %v\n%s", args, err, out)
			}
		}
	}
	for _, p := range programs {
		t.Run(p, func(t *testing.T) {
			stdout, stderr, err := run(t, filepath.Join(bin, p))
			if err != nil {
				t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
			}
			t.Log(strings.TrimSpace(stdout))
		})
	}
}
