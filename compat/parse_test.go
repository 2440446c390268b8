package compat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"modernc.org/cc/v4"
)

// writeTree writes files (path relative to the returned directory → text).
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestParseSpellsQualifiersExactly covers the spellings the comparison
// depends on, including member qualifiers, which cc/v4 drops from member
// types and Parse recovers from the declaration.
func TestParseSpellsQualifiersExactly(t *testing.T) {
	requireCFrontEnd(t)
	dir := writeTree(t, map[string]string{
		"q/q.h": `#ifndef Q_H_
#define Q_H_
#include <stdint.h>
#define Q_LIMIT ((uint16_t)7)
#define Q_NEGATIVE (-3)
#define Q_SAME Q_LIMIT
#define Q_TWICE(x) ((x)*2)
typedef unsigned long QHandle;
struct QLimits { int x; };
struct QThing {
  const struct QLimits* limits;
  const QHandle* handles;
  const void* data;
  int* const fixed;
  const char* const* names;
  volatile uint32_t counter;
  QHandle handle;
  int (*callback)(const int* p);
};
typedef const int* QConstIntPointer;
typedef void (*QCallback)(const struct QThing* thing, uintptr_t context);
void QUse(const QHandle* handles, QConstIntPointer p, const char** names, QCallback cb);
int QCount(void);
#endif
`,
	})
	a := mustParse(t, dir, "q/q.h")
	const want = `abi q ` + "%TARGET%" + `
header q/q.h
constant Q_LIMIT = 7 (uint16_t) [q/q.h]
constant Q_NEGATIVE = -3 (int) [q/q.h]
constant Q_SAME = 7 (uint16_t) alias of Q_LIMIT [q/q.h]
macro Q_TWICE(x) = ((x)*2) [q/q.h]
typedef QHandle = unsigned long, size 8 [q/q.h]
typedef QConstIntPointer = const int*, size 8 [q/q.h]
typedef QCallback = void (*)(const struct QThing* thing, uintptr_t context), size 8 [q/q.h]
struct QLimits: size 4, align 4 [q/q.h]
  @0 int x, size 4
struct QThing: size 64, align 8 [q/q.h]
  @0 const struct QLimits* limits, size 8
  @8 const QHandle* handles, size 8
  @16 const void* data, size 8
  @24 int* const fixed, size 8
  @32 const char* const* names, size 8
  @40 volatile uint32_t counter, size 4
  @48 QHandle handle, size 8
  @56 int (*callback)(const int* p), size 8
function void QUse(const QHandle* handles, QConstIntPointer p, const char** names, QCallback cb) [q/q.h]
function int QCount(void) [q/q.h]
`
	if got, want := a.Report(), strings.Replace(want, "%TARGET%", a.Target, 1); got != want {
		t.Errorf("Report:\n%s\nwant:\n%s", got, want)
	}
}

// TestParseAttributesItemsToTheirHeaders: items are reported with the
// header that declares them, even when reached through another header, and
// only headers inside the tree are reported at all.
func TestParseAttributesItemsToTheirHeaders(t *testing.T) {
	requireCFrontEnd(t)
	dir := writeTree(t, map[string]string{
		"p/entry.h": "#include <stdint.h>\n#include \"p/inner.h\"\ntypedef uint8_t POuter;\n",
		"p/inner.h": "#define P_INNER 1\nvoid PInner(void);\n",
	})
	a := mustParse(t, dir, "p/entry.h")
	const want = `abi p %s
header p/entry.h
constant P_INNER = 1 (int) [p/inner.h]
typedef POuter = uint8_t, size 1 [p/entry.h]
function void PInner(void) [p/inner.h]
`
	if got, want := a.Report(), fmt.Sprintf(want, a.Target); got != want {
		t.Errorf("Report:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	requireCFrontEnd(t)
	dir := writeTree(t, map[string]string{
		"bad/syntax.h": "#include <stddef.h>\nstruct Broken { int x int y; };\n",
	})
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"no headers", nil, "compat: no headers to parse"},
		{"missing header", []string{"bad/absent.h"}, "compat: header bad/absent.h: stat "},
		{"syntax error", []string{"bad/syntax.h"}, "bad/syntax.h:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(dir, tt.headers...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, %v; want an error containing %q", a, err, tt.want)
			}
		})
	}
}

// TestParseRecoversFromFrontEndPanics: cc/v4 panics on some inputs instead
// of returning an error; Parse must turn that into an error.
func TestParseRecoversFromFrontEndPanics(t *testing.T) {
	requireCFrontEnd(t)
	saved := translate
	defer func() { translate = saved }()
	translate = func(*cc.Config, []cc.Source) (*cc.AST, error) {
		panic(errors.New("TODO in the front end"))
	}
	_, err := Parse(repoInclude, "ipcz/ipcz.h")
	if err == nil || err.Error() != "compat: C front end panicked: TODO in the front end" {
		t.Errorf("Parse with a panicking front end: %v", err)
	}
}

func TestWithSearchDirActsLikeDashI(t *testing.T) {
	tests := []struct {
		paths, want []string
	}{
		{[]string{"", "/usr/local/include", "/usr/include"}, []string{"", "/tree", "/usr/local/include", "/usr/include"}},
		{[]string{"/usr/include"}, []string{"/tree", "/usr/include"}},
		{nil, []string{"/tree"}},
	}
	for _, tt := range tests {
		if got := withSearchDir(tt.paths, "/tree"); !slices.Equal(got, tt.want) {
			t.Errorf("withSearchDir(%q) = %q, want %q", tt.paths, got, tt.want)
		}
	}
}
