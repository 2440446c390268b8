package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const repoInclude = "../../include"

func requireEnvironment(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		if _, err := exec.LookPath("cc"); err != nil {
			t.Skip("no C compiler on PATH; cc/v4 needs one")
		}
	}
	if target := runtime.GOOS + "/" + runtime.GOARCH; target != "linux/amd64" {
		t.Skipf("the manifests describe linux/amd64, not %s", target)
	}
}

// copyTree copies the repository's headers to a temporary directory and
// replaces old with new (exactly once) in file, if file is not empty.
func copyTree(t *testing.T, file, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(repoInclude, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoInclude, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if filepath.ToSlash(rel) == file {
			if strings.Count(string(data), old) != 1 {
				t.Fatalf("%q does not occur exactly once in %s", old, file)
			}
			data = []byte(strings.Replace(string(data), old, new, 1))
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func runCommand(args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = run(args, &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestCompareMode(t *testing.T) {
	requireEnvironment(t)
	drifted := copyTree(t, "ipcz/ipcz.h", "#define IPCZ_RESULT_NOT_FOUND ((IpczResult)5)", "#define IPCZ_RESULT_NOT_FOUND ((IpczResult)6)")
	reordered := copyTree(t, "mojo/public/c/system/thunks.h",
		"  MojoResult (*Watch)(", "  MojoResult (*Watch2)(")
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string
	}{
		{
			name:       "identical trees",
			args:       []string{"-I", repoInclude, "-compare", repoInclude, "ipcz/ipcz.h"},
			wantStatus: 0,
			wantOut:    "no differences\n",
		},
		{
			name:       "changed constant",
			args:       []string{"-I", drifted, "-compare", repoInclude, "ipcz/ipcz.h"},
			wantStatus: 1,
			wantOut:    "IPCZ_RESULT_NOT_FOUND: value 6, want 5\n1 difference\n",
		},
		{
			name:       "reference is the -compare tree",
			args:       []string{"-I", repoInclude, "-compare", drifted, "ipcz/ipcz.h"},
			wantStatus: 1,
			wantOut:    "IPCZ_RESULT_NOT_FOUND: value 5, want 6\n1 difference\n",
		},
		{
			name:       "renamed thunk",
			args:       []string{"-I", reordered, "-compare", repoInclude, "mojo/public/c/system/thunks.h"},
			wantStatus: 1,
			wantOut:    "MojoSystemThunks member 19: Watch2, want Watch\n1 difference\n",
		},
		{
			name:       "manifest, clean tree",
			args:       []string{"-I", repoInclude, "-manifest"},
			wantStatus: 0,
			wantOut:    "ipcz: no differences\nmojo: no differences\n",
		},
		{
			name:       "manifest, drifted tree, one manifest selected",
			args:       []string{"-I", drifted, "-manifest", "ipcz/ipcz.h"},
			wantStatus: 1,
			wantOut:    "ipcz: IPCZ_RESULT_NOT_FOUND: value 6, want 5\nipcz: 1 difference\n",
		},
		{
			name:       "manifest selected by its second entry header",
			args:       []string{"-I", reordered, "-manifest", "mojo/public/c/system/thunks.h"},
			wantStatus: 1,
			wantOut:    "mojo: MojoSystemThunks member 19: Watch2, want Watch\nmojo: 1 difference\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runCommand(tt.args...)
			if status != tt.wantStatus || out != tt.wantOut || errOut != "" {
				t.Errorf("abireport %s:\nstatus %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s",
					strings.Join(tt.args, " "), status, tt.wantStatus, out, tt.wantOut, errOut)
			}
		})
	}
}

func TestReportMode(t *testing.T) {
	requireEnvironment(t)
	status, out, errOut := runCommand("-I", repoInclude, "ipcz/ipcz.h")
	if status != 0 || errOut != "" {
		t.Fatalf("status %d, stderr %q", status, errOut)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != "abi ipcz linux/amd64" || lines[1] != "header ipcz/ipcz.h" {
		t.Errorf("report starts %q, %q", lines[0], lines[1])
	}
	for _, want := range []string{
		"constant IPCZ_RESULT_INVALID_ARGUMENT = 3 (IpczResult) [ipcz/ipcz.h]",
		"table IpczAPI: size 136, align 8 [ipcz/ipcz.h]",
		"  #5 @40 IpczResult (*MergePortals)(IpczHandle first, IpczHandle second, uint32_t flags, const void* options)",
		"function IpczResult IpczGetAPI(struct IpczAPI* api) visibility default [ipcz/ipcz.h]",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("report lacks line %q", want)
		}
	}
	// The report is stable: a second run prints the same bytes.
	if _, again, _ := runCommand("-I", repoInclude, "ipcz/ipcz.h"); again != out {
		t.Error("two runs printed different reports")
	}

	status, jsonOut, _ := runCommand("-I", repoInclude, "-json", "ipcz/ipcz.h")
	if status != 0 || !strings.HasPrefix(jsonOut, "{\n  \"name\": \"ipcz\",\n  \"target\": \"linux/amd64\",\n") {
		t.Errorf("-json: status %d, output starts %q", status, jsonOut[:min(len(jsonOut), 80)])
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{nil, "abireport: no headers named\n"},
		{[]string{"-manifest", "-compare", "x", "ipcz/ipcz.h"}, "abireport: -compare and -manifest cannot be combined\n"},
		{[]string{"-manifest", "mojo/public/c/system/types.h"}, "abireport: mojo/public/c/system/types.h is not an entry header of any manifest (entry headers: ipcz/ipcz.h, mojo/public/c/system/core.h, mojo/public/c/system/thunks.h)\n"},
		{[]string{"-I", t.TempDir(), "ipcz/ipcz.h"}, "abireport: compat: header ipcz/ipcz.h: stat "},
		{[]string{"-bogus"}, "flag provided but not defined: -bogus\n"},
	}
	for _, tt := range tests {
		status, out, errOut := runCommand(tt.args...)
		if status != 2 || out != "" || !strings.HasPrefix(errOut, tt.wantErr) {
			t.Errorf("abireport %s: status %d, stdout %q, stderr %q; want status 2 and stderr starting %q",
				strings.Join(tt.args, " "), status, out, errOut, tt.wantErr)
		}
	}
}
