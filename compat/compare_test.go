package compat

import (
	"slices"
	"strings"
	"testing"
)

func TestDiffString(t *testing.T) {
	tests := []struct {
		diff Diff
		want string
	}{
		{Diff{Kind: Changed, Subject: "IPCZ_RESULT_NOT_FOUND", Property: "value", Got: "5", Want: "6"},
			"IPCZ_RESULT_NOT_FOUND: value 5, want 6"},
		{Diff{Kind: Changed, Subject: "IpczAPI member 5", Got: "QueryPortalStatus", Want: "MergePortals"},
			"IpczAPI member 5: QueryPortalStatus, want MergePortals"},
		{Diff{Kind: Changed, Subject: "MojoClose param 1 (handle)", Property: "type", Got: "int*", Want: "const int*", Note: "const-ness differs"},
			"MojoClose param 1 (handle): type int*, want const int* (const-ness differs)"},
		{Diff{Kind: Missing, Subject: "struct X", Want: "size 8, align 4"}, "struct X: missing, want size 8, align 4"},
		{Diff{Kind: Unexpected, Subject: "Y", Got: "1 (int)"}, "Y: unexpected, got 1 (int)"},
	}
	for _, tt := range tests {
		if got := tt.diff.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.diff, got, tt.want)
		}
	}
}

func TestCompareOfIdenticalABIsIsEmpty(t *testing.T) {
	for _, name := range ManifestNames() {
		m := mustLoadManifest(t, name)
		if diffs := Compare(m, mustLoadManifest(t, name)); len(diffs) != 0 {
			t.Errorf("%s vs itself: %v", name, diffStrings(diffs))
		}
	}
}

// TestCompareNamesEachDifference changes one fact at a time in a copy of a
// manifest and checks the exact report, without needing a C compiler.
func TestCompareNamesEachDifference(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		change   func(a *ABI)
		want     []string
	}{
		{"target", "ipcz", func(a *ABI) { a.Target = "linux/arm64" },
			[]string{"abi: target linux/arm64, want linux/amd64"}},
		{"constant alias", "mojo", func(a *ABI) { a.Constants[len(a.Constants)-1].AliasOf = "" },
			[]string{"MOJO_PLATFORM_SHARED_BUFFER_FLAG_READ_ONLY: alias of (none), want MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_READ_ONLY"}},
		{"constant header", "mojo", func(a *ABI) { a.Constants[0].Header = "mojo/public/c/system/core.h" },
			[]string{"MOJO_HANDLE_INVALID: header mojo/public/c/system/core.h, want mojo/public/c/system/types.h"}},
		{"macro parameters", "ipcz", func(a *ABI) { macro(a, "IPCZ_ALIGNED").Params = []string{"value"} },
			[]string{"macro IPCZ_ALIGNED: parameters (value), want (value, alignment)"}},
		{"macro became object-like", "ipcz", func(a *ABI) { macro(a, "IPCZ_FLAG_BIT").Params = nil },
			[]string{"macro IPCZ_FLAG_BIT: parameters (object-like), want (bit)"}},
		{"macro body emptied", "ipcz", func(a *ABI) { macro(a, "IPCZ_EXPORT").Body = "" },
			[]string{`macro IPCZ_EXPORT: body (empty), want __attribute__((visibility("default")))`}},
		{"typedef missing", "ipcz", func(a *ABI) { a.Typedefs = a.Typedefs[1:] },
			[]string{"typedef IpczHandle: missing, want uintptr_t"}},
		{"typedef signature", "mojo", func(a *ABI) {
			typedef(a, "MojoWatcherCallback").Signature.Params[1].Type = "uint32_t"
		}, []string{"typedef MojoWatcherCallback param 2 (result): type uint32_t, want MojoResult"}},
		{"struct unexpected", "ipcz", func(a *ABI) {
			a.Structs = append(a.Structs, Struct{Name: "IpczBoxContents", Size: 40, Align: 8})
		}, []string{"struct IpczBoxContents: unexpected, got size 40, align 8"}},
		{"struct field missing", "mojo", func(a *ABI) {
			s := structNamed(a, "MojoPlatformHandle")
			s.Fields = s.Fields[:2]
		}, []string{"struct MojoPlatformHandle field value: missing, want uint64_t at offset 8"}},
		{"struct field unexpected", "mojo", func(a *ABI) {
			s := structNamed(a, "MojoHandleSignalsState")
			s.Fields = append(s.Fields, Field{Name: "padding", Offset: 8, Size: 4, Type: "uint32_t"})
		}, []string{"struct MojoHandleSignalsState field padding: unexpected, got uint32_t at offset 8"}},
		{"table member missing", "ipcz", func(a *ABI) {
			api := tableNamed(a, "IpczAPI")
			api.Members = api.Members[:15]
		}, []string{"table IpczAPI: members 15, want 16", "IpczAPI member 16: missing, want Unbox"}},
		{"table member unexpected", "ipcz", func(a *ABI) {
			driver := tableNamed(a, "IpczDriver")
			driver.Members = append(driver.Members, Member{Index: 14, Name: "Extra", Offset: 112})
		}, []string{"table IpczDriver: members 14, want 13", "IpczDriver member 14: unexpected, got Extra"}},
		{"table member offset", "ipcz", func(a *ABI) { tableNamed(a, "IpczAPI").Members[2].Offset = 32 },
			[]string{"IpczAPI member 3 (ConnectNode): offset 32, want 24"}},
		{"table size", "mojo", func(a *ABI) { tableNamed(a, "MojoSystemThunks").Size = 264 },
			[]string{"table MojoSystemThunks: size 264, want 272"}},
		{"function missing", "mojo", func(a *ABI) { a.Functions = a.Functions[:33] },
			[]string{"MojoEmbedderSetSystemThunks: missing, want size_t (*MojoEmbedderSetSystemThunks)(const struct MojoSystemThunks* system_thunks)"}},
		{"function result", "mojo", func(a *ABI) { function(a, "MojoGetTimeTicksNow").Signature.Result = "int64_t" },
			[]string{"MojoGetTimeTicksNow: result int64_t, want MojoTimeTicks"}},
		{"parameter renamed", "mojo", func(a *ABI) { function(a, "MojoClose").Signature.Params[0].Name = "h" },
			[]string{"MojoClose param 1 (handle): name h, want handle"}},
		{"parameter dropped", "ipcz", func(a *ABI) { function(a, "IpczGetAPI").Signature.Params = nil },
			[]string{"IpczGetAPI: parameters 0, want 1"}},
		{"variadic", "ipcz", func(a *ABI) { function(a, "IpczGetAPI").Signature.Variadic = true },
			[]string{"IpczGetAPI: variadic true, want false"}},
		{"pointer-level const-ness", "ipcz", func(a *ABI) {
			tableNamed(a, "IpczAPI").Members[10].Signature.Params[3].Type = "const void* const*"
		}, []string{"IpczAPI member 11 (BeginGet) param 4 (data): type const void* const*, want const void** (const-ness differs)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := mustLoadManifest(t, tt.manifest)
			got := mustLoadManifest(t, tt.manifest)
			tt.change(got)
			if diffs := diffStrings(Compare(want, got)); !slices.Equal(diffs, tt.want) {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(diffs, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func macro(a *ABI, name string) *Macro {
	for i := range a.Macros {
		if a.Macros[i].Name == name {
			return &a.Macros[i]
		}
	}
	panic("no macro " + name)
}

func typedef(a *ABI, name string) *Typedef {
	for i := range a.Typedefs {
		if a.Typedefs[i].Name == name {
			return &a.Typedefs[i]
		}
	}
	panic("no typedef " + name)
}

func structNamed(a *ABI, name string) *Struct {
	for i := range a.Structs {
		if a.Structs[i].Name == name {
			return &a.Structs[i]
		}
	}
	panic("no struct " + name)
}

func tableNamed(a *ABI, name string) *Table {
	for i := range a.Tables {
		if a.Tables[i].Name == name {
			return &a.Tables[i]
		}
	}
	panic("no table " + name)
}

func function(a *ABI, name string) *Function {
	for i := range a.Functions {
		if a.Functions[i].Name == name {
			return &a.Functions[i]
		}
	}
	panic("no function " + name)
}
