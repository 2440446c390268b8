package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Compiler invocations. -pedantic is kept for both languages: the headers
// avoid every construct it objects to (C11 _Static_assert and _Alignof are
// only used behind __STDC_VERSION__ checks, alignment goes through
// __attribute__ in C).
var (
	c99Flags   = []string{"-std=c99", "-Wall", "-Werror", "-pedantic"}
	c11Flags   = []string{"-std=c11", "-Wall", "-Werror", "-pedantic"}
	cxx11Flags = []string{"-std=c++11", "-Wall", "-Werror", "-pedantic"}
)

func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found on PATH", name)
	}
	return path
}

// compile runs compiler on source (written to a file with the given
// extension) against includeDir, returning the combined output and whether
// it compiled.
func compile(t *testing.T, compiler string, flags []string, includeDir, ext, source string) (string, bool) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "probe"+ext)
	if err := os.WriteFile(file, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, flags...), "-fsyntax-only", "-I", includeDir, file)
	out, err := exec.Command(compiler, args...).CombinedOutput()
	return string(out), err == nil
}

// TestEachHeaderCompilesAlone includes each header by itself, so every
// header must pull in what it uses and nothing may depend on include order.
func TestEachHeaderCompilesAlone(t *testing.T) {
	gcc := requireTool(t, "gcc")
	gxx := requireTool(t, "g++")
	headers := headerFiles(t)
	if len(headers) != 14 {
		t.Errorf("found %d headers, want 14 (ipcz.h, 11 Mojo headers and 2 extension headers): %v", len(headers), headers)
	}
	for _, h := range headers {
		// The trailing declaration keeps the file from being an empty
		// translation unit (which -pedantic rejects) when the header
		// defines only macros, as system_export.h does.
		source := "#include \"" + h + "\"\ntypedef int header_probe_not_empty;\n"
		t.Run(h+"/c99", func(t *testing.T) {
			t.Parallel()
			if out, ok := compile(t, gcc, c99Flags, repoInclude, ".c", source); !ok {
				t.Errorf("gcc %s:\n%s", strings.Join(c99Flags, " "), out)
			}
		})
		t.Run(h+"/c++11", func(t *testing.T) {
			t.Parallel()
			if out, ok := compile(t, gxx, cxx11Flags, repoInclude, ".cc", source); !ok {
				t.Errorf("g++ %s:\n%s", strings.Join(cxx11Flags, " "), out)
			}
		})
	}
}

// TestGuideSpellingsCompile uses the API guide's alternative spellings the
// way its examples do, in C, where aliasing is hardest to get right.
func TestGuideSpellingsCompile(t *testing.T) {
	gcc := requireTool(t, "gcc")
	const source = `#include "mojo/public/c/system/core.h"
void guide_examples(MojoHandle w, MojoHandle b, MojoWatcherNotificationCallback callback) {
  uint32_t num_ready_contexts = 4;
  uintptr_t ready_contexts[4];
  MojoResult ready_results[4];
  struct MojoHandleSignalsStates ready_states[4];
  MojoHandleSignalsState state;
  MojoPlatformHandle platform_handle;
  MojoHandle handle;
  (void)MojoCreateWatcher(callback, &w);
  (void)MojoArmWatcher(w, &num_ready_contexts, ready_contexts, ready_results, ready_states);
  (void)MojoWriteMessage(b, NULL, 0, NULL, 0, MOJO_WRITE_MESSAGE_NONE);
  (void)MojoQueryHandleSignalsState(b, &state);
  (void)MojoWrapPlatformSharedBuffer(&platform_handle, 64, MOJO_PLATFORM_SHARED_BUFFER_HANDLE_NONE, &handle);
  (void)MojoUnwrapPlatformSharedBuffer(handle, &platform_handle, NULL, NULL);
  if (MojoReadData(b, NULL, NULL, MOJO_READ_DATA_FLAG_ALL_OR_NONE) == MOJO_READ_DATA_OUT_OF_RANGE) {
    (void)MOJO_PLATFORM_SHARED_BUFFER_FLAG_READ_ONLY;
    (void)MOJO_CREATE_MESSAGE_FLAG_NONE;
  }
  /* The stray semicolons of the era's headers are gone, so constants
   * combine in expressions. */
  (void)(MOJO_HANDLE_SIGNAL_NEW_DATA_READABLE | MOJO_WATCHER_NOTIFICATION_FLAG_FROM_SYSTEM);
}
`
	if out, ok := compile(t, gcc, c99Flags, repoInclude, ".c", source); !ok {
		t.Errorf("gcc %s:\n%s", strings.Join(c99Flags, " "), out)
	}
}

// TestStaticAssertWorksInEveryDialect checks MOJO_STATIC_ASSERT in all three
// of its forms (C99 has no static assertion of its own): a true check
// compiles, even twice, and a false one does not.
func TestStaticAssertWorksInEveryDialect(t *testing.T) {
	gcc := requireTool(t, "gcc")
	gxx := requireTool(t, "g++")
	const header = "#include \"mojo/public/c/system/macros.h\"\n"
	const holds = header + "MOJO_STATIC_ASSERT(sizeof(char) == 1, \"char\");\nMOJO_STATIC_ASSERT(sizeof(char) == 1, \"again\");\n"
	const fails = header + "MOJO_STATIC_ASSERT(sizeof(char) == 2, \"char is two bytes\");\n"
	dialects := []struct {
		name     string
		compiler string
		flags    []string
		ext      string
	}{
		{"c99", gcc, c99Flags, ".c"},
		{"c11", gcc, c11Flags, ".c"},
		{"c++11", gxx, cxx11Flags, ".cc"},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			if out, ok := compile(t, d.compiler, d.flags, repoInclude, d.ext, holds); !ok {
				t.Errorf("a true assertion does not compile:\n%s", out)
			}
			if out, ok := compile(t, d.compiler, d.flags, repoInclude, d.ext, fails); ok {
				t.Errorf("a false assertion compiles:\n%s", out)
			}
		})
	}
}

// TestCheckProgramCompiles has gcc and g++ confirm every fact in the
// manifests: sizes, alignments, offsets, constants and their types, and the
// exact types of functions, typedefs, fields and table members.
func TestCheckProgramCompiles(t *testing.T) {
	requireManifestTarget(t)
	gcc := requireTool(t, "gcc")
	gxx := requireTool(t, "g++")
	for _, name := range ManifestNames() {
		m := mustLoadManifest(t, name)
		t.Run(name+"/c11", func(t *testing.T) {
			t.Parallel()
			if out, ok := compile(t, gcc, c11Flags, repoInclude, ".c", CheckProgram(m, C11)); !ok {
				t.Errorf("gcc rejects the %s check program:\n%s", name, out)
			}
		})
		t.Run(name+"/c++11", func(t *testing.T) {
			t.Parallel()
			if out, ok := compile(t, gxx, cxx11Flags, repoInclude, ".cc", CheckProgram(m, CXX11)); !ok {
				t.Errorf("g++ rejects the %s check program:\n%s", name, out)
			}
		})
	}
}

// TestCheckProgramCatchesDrift proves the generated checks are not vacuous:
// each edit must make both compilers reject the program, with a message
// that points at the changed fact.
func TestCheckProgramCatchesDrift(t *testing.T) {
	requireManifestTarget(t)
	gcc := requireTool(t, "gcc")
	gxx := requireTool(t, "g++")
	const ipczH = "ipcz/ipcz.h"
	tests := []struct {
		name     string
		manifest string
		edit     edit
		wantC    string // a substring of gcc's complaint
		wantCXX  string // a substring of g++'s complaint
	}{
		{
			name:     "field size",
			manifest: "ipcz",
			edit:     edit{ipczH, "  size_t num_remote_bytes;", "  uint32_t num_remote_bytes;"},
			wantC:    "struct IpczPortalStatus.num_remote_bytes size",
			wantCXX:  "struct IpczPortalStatus.num_remote_bytes size",
		},
		{
			name:     "constant value",
			manifest: "ipcz",
			edit:     edit{ipczH, "((IpczResult)9)", "((IpczResult)19)"},
			wantC:    "IPCZ_RESULT_FAILED_PRECONDITION value",
			wantCXX:  "IPCZ_RESULT_FAILED_PRECONDITION value",
		},
		{
			name:     "constant type",
			manifest: "ipcz",
			edit:     edit{ipczH, "#define IPCZ_NO_FLAGS ((uint32_t)0)", "#define IPCZ_NO_FLAGS ((uint64_t)0)"},
			wantC:    "IPCZ_NO_FLAGS type",
			wantCXX:  "IPCZ_NO_FLAGS type",
		},
		{
			name:     "table member parameter const-ness",
			manifest: "ipcz",
			edit: edit{ipczH, "  IpczResult(IPCZ_API* Put)(IpczHandle portal,                       /* in */\n                            const void* data,",
				"  IpczResult(IPCZ_API* Put)(IpczHandle portal,                       /* in */\n                            void* data,"},
			wantC:   "incompatible pointer type",
			wantCXX: "invalid conversion",
		},
		{
			name:     "table order",
			manifest: "ipcz",
			edit: edit{ipczH, "  IpczResult(IPCZ_API* Reject)(IpczHandle validator,",
				"  IpczResult(IPCZ_API* Reserved)(void);\n  IpczResult(IPCZ_API* Reject)(IpczHandle validator,"},
			wantC:   "IpczAPI.Reject offset",
			wantCXX: "IpczAPI.Reject offset",
		},
		{
			name:     "function parameter const-ness",
			manifest: "mojo",
			edit: edit{"mojo/public/c/system/message_pipe.h", "MojoWriteMessage(MojoHandle message_pipe_handle,\n                 const void* bytes,",
				"MojoWriteMessage(MojoHandle message_pipe_handle,\n                 void* bytes,"},
			wantC:   "incompatible pointer type",
			wantCXX: "invalid conversion",
		},
		{
			name:     "struct alignment",
			manifest: "mojo",
			edit:     edit{"mojo/public/c/system/platform_handle.h", "struct MOJO_ALIGNAS(8) MojoPlatformHandle {", "struct MOJO_ALIGNAS(16) MojoPlatformHandle {"},
			wantC:    "struct MojoPlatformHandle alignment",
			wantCXX:  "struct MojoPlatformHandle alignment",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustLoadManifest(t, tt.manifest)
			dir := editedTree(t, tt.edit)
			if out, ok := compile(t, gcc, c11Flags, dir, ".c", CheckProgram(m, C11)); ok || !strings.Contains(out, tt.wantC) {
				t.Errorf("gcc accepted=%v, want a rejection mentioning %q; output:\n%s", ok, tt.wantC, out)
			}
			if out, ok := compile(t, gxx, cxx11Flags, dir, ".cc", CheckProgram(m, CXX11)); ok || !strings.Contains(out, tt.wantCXX) {
				t.Errorf("g++ accepted=%v, want a rejection mentioning %q; output:\n%s", ok, tt.wantCXX, out)
			}
		})
	}
}
