package compat

import (
	"slices"
	"strings"
	"testing"
)

// TestCompareCatchesHeaderDrift edits a copy of the headers the way a
// careless change would, and checks that the comparison with the manifest
// names exactly what changed, and nothing else.
func TestCompareCatchesHeaderDrift(t *testing.T) {
	requireCFrontEnd(t)
	requireManifestTarget(t)
	const ipczH = "ipcz/ipcz.h"
	const mojoDir = "mojo/public/c/system/"
	tests := []struct {
		name     string
		manifest string
		edits    []edit
		want     []string
	}{
		{
			name:     "constant value",
			manifest: "ipcz",
			edits:    []edit{{ipczH, "#define IPCZ_RESULT_NOT_FOUND ((IpczResult)5)", "#define IPCZ_RESULT_NOT_FOUND ((IpczResult)6)"}},
			want:     []string{"IPCZ_RESULT_NOT_FOUND: value 6, want 5"},
		},
		{
			name:     "constant type",
			manifest: "ipcz",
			edits:    []edit{{ipczH, "((IpczResult)8)", "((uint32_t)8)"}},
			want:     []string{"IPCZ_RESULT_RESOURCE_EXHAUSTED: type uint32_t, want IpczResult"},
		},
		{
			name:     "post-seed constant added",
			manifest: "ipcz",
			edits: []edit{{ipczH, "#define IPCZ_TRAP_CONSUMED_REMOTE_PARCEL IPCZ_FLAG_BIT(8)",
				"#define IPCZ_TRAP_CONSUMED_REMOTE_PARCEL IPCZ_FLAG_BIT(8)\n#define IPCZ_TRAP_WITHIN_API_CALL IPCZ_FLAG_BIT(9)"}},
			want: []string{"IPCZ_TRAP_WITHIN_API_CALL: unexpected, got 512 (uint32_t)"},
		},
		{
			name:     "field type",
			manifest: "ipcz",
			edits:    []edit{{ipczH, "  size_t num_remote_bytes;", "  uint32_t num_remote_bytes;"}},
			want: []string{
				"struct IpczPortalStatus field num_remote_bytes: size 4, want 8",
				"struct IpczPortalStatus field num_remote_bytes: type uint32_t, want size_t",
			},
		},
		{
			name:     "field order",
			manifest: "ipcz",
			edits: []edit{{ipczH, "  IpczTrapConditionFlags condition_flags;",
				"  const struct IpczPortalStatus* status;\n  IpczTrapConditionFlags condition_flags;"},
				{ipczH, "valid only during the handler call. */\n  const struct IpczPortalStatus* status;", "valid only during the handler call. */"}},
			want: []string{
				"struct IpczTrapEvent field condition_flags: position 3, want 2",
				"struct IpczTrapEvent field condition_flags: offset 24, want 16",
				"struct IpczTrapEvent field status: position 2, want 3",
				"struct IpczTrapEvent field status: offset 16, want 24",
			},
		},
		{
			name:     "field pointee const-ness",
			manifest: "ipcz",
			edits:    []edit{{ipczH, "  /* Optional limits; NULL means none. */\n  const struct IpczPutLimits* limits;\n};\n\n/* Flags for BeginPut(). */", "  /* Optional limits; NULL means none. */\n  struct IpczPutLimits* limits;\n};\n\n/* Flags for BeginPut(). */"}},
			want:     []string{"struct IpczPutOptions field limits: type struct IpczPutLimits*, want const struct IpczPutLimits* (const-ness differs)"},
		},
		{
			name:     "table order",
			manifest: "ipcz",
			edits: []edit{
				{ipczH, "  IpczResult(IPCZ_API* MergePortals)(IpczHandle first,     /* in */", "  IpczResult(IPCZ_API* QueryPortalStatusX)(IpczHandle first,     /* in */"},
				{ipczH, "  IpczResult(IPCZ_API* QueryPortalStatus)(", "  IpczResult(IPCZ_API* MergePortals)("},
				{ipczH, "QueryPortalStatusX", "QueryPortalStatus"},
			},
			want: []string{
				"IpczAPI member 5: QueryPortalStatus, want MergePortals",
				"IpczAPI member 6: MergePortals, want QueryPortalStatus",
			},
		},
		{
			name:     "table member parameter const-ness",
			manifest: "ipcz",
			edits:    []edit{{ipczH, "  IpczResult(IPCZ_API* Put)(IpczHandle portal,                       /* in */\n                            const void* data,", "  IpczResult(IPCZ_API* Put)(IpczHandle portal,                       /* in */\n                            void* data,"}},
			want:     []string{"IpczAPI member 7 (Put) param 2 (data): type void*, want const void* (const-ness differs)"},
		},
		{
			name:     "typedef parameter const-ness through a typedef name",
			manifest: "ipcz",
			edits:    []edit{{ipczH, "    const IpczDriverHandle* driver_handles, /* in */\n    size_t num_driver_handles,              /* in */\n    IpczTransportActivityFlags flags,", "    IpczDriverHandle* driver_handles, /* in */\n    size_t num_driver_handles,              /* in */\n    IpczTransportActivityFlags flags,"}},
			want:     []string{"typedef IpczTransportActivityHandler param 4 (driver_handles): type IpczDriverHandle*, want const IpczDriverHandle* (const-ness differs)"},
		},
		{
			name:     "macro body",
			manifest: "ipcz",
			edits:    []edit{{ipczH, "((uint32_t)(1u << bit))", "((uint32_t)(1u << (bit)))"}},
			want:     []string{"macro IPCZ_FLAG_BIT: body ((uint32_t)(1u<<(bit))), want ((uint32_t)(1u<<bit))"},
		},
		{
			name:     "function parameter const-ness",
			manifest: "mojo",
			edits:    []edit{{mojoDir + "message_pipe.h", "MojoWriteMessage(MojoHandle message_pipe_handle,\n                 const void* bytes,", "MojoWriteMessage(MojoHandle message_pipe_handle,\n                 void* bytes,"}},
			want:     []string{"MojoWriteMessage param 2 (bytes): type void*, want const void* (const-ness differs)"},
		},
		{
			name:     "function lost its visibility",
			manifest: "mojo",
			edits:    []edit{{mojoDir + "functions.h", "MOJO_SYSTEM_EXPORT MojoResult MojoClose(MojoHandle handle);", "MojoResult MojoClose(MojoHandle handle);"}},
			want:     []string{"MojoClose: visibility (none), want default"},
		},
		{
			name:     "thunk order",
			manifest: "mojo",
			edits: []edit{{mojoDir + "thunks.h",
				"  MojoResult (*FreeMessage)(MojoMessageHandle message);\n  MojoResult (*GetMessageBuffer)(MojoMessageHandle message, void** buffer);",
				"  MojoResult (*GetMessageBuffer)(MojoMessageHandle message, void** buffer);\n  MojoResult (*FreeMessage)(MojoMessageHandle message);"}},
			want: []string{
				"MojoSystemThunks member 26: GetMessageBuffer, want FreeMessage",
				"MojoSystemThunks member 27: FreeMessage, want GetMessageBuffer",
			},
		},
		{
			name:     "struct alignment",
			manifest: "mojo",
			edits:    []edit{{mojoDir + "message_pipe.h", "struct MOJO_ALIGNAS(8) MojoCreateMessagePipeOptions {", "struct MojoCreateMessagePipeOptions {"}},
			want:     []string{"struct MojoCreateMessagePipeOptions: align 4, want 8"},
		},
		{
			name:     "handle width",
			manifest: "mojo",
			edits:    []edit{{mojoDir + "types.h", "typedef uint32_t MojoHandle;", "typedef uintptr_t MojoHandle;"}},
			want: []string{
				"typedef MojoHandle: type uintptr_t, want uint32_t",
				"typedef MojoHandle: size 8, want 4",
			},
		},
		{
			name:     "constant removed",
			manifest: "mojo",
			edits:    []edit{{mojoDir + "types.h", "#define MOJO_RESULT_SHOULD_WAIT ((MojoResult)17)\n", ""}},
			want:     []string{"MOJO_RESULT_SHOULD_WAIT: missing, want 17 (MojoResult)"},
		},
		{
			name:     "function moved to another header",
			manifest: "mojo",
			edits: []edit{
				{mojoDir + "buffer.h", "/* Unmaps a mapping; `buffer` must be an address MojoMapBuffer() returned. */\nMOJO_SYSTEM_EXPORT MojoResult MojoUnmapBuffer(void* buffer);", ""},
				{mojoDir + "functions.h", "MOJO_SYSTEM_EXPORT MojoTimeTicks MojoGetTimeTicksNow(void);", "MOJO_SYSTEM_EXPORT MojoTimeTicks MojoGetTimeTicksNow(void);\nMOJO_SYSTEM_EXPORT MojoResult MojoUnmapBuffer(void* buffer);"},
			},
			want: []string{"MojoUnmapBuffer: header mojo/public/c/system/functions.h, want mojo/public/c/system/buffer.h"},
		},
		{
			name:     "functions reordered within a header",
			manifest: "mojo",
			edits: []edit{
				{mojoDir + "functions.h", "MOJO_SYSTEM_EXPORT MojoTimeTicks MojoGetTimeTicksNow(void);\n", ""},
				{mojoDir + "functions.h", "MOJO_SYSTEM_EXPORT MojoResult MojoGetProperty(MojoPropertyType type,\n                                              void* value);", "MOJO_SYSTEM_EXPORT MojoResult MojoGetProperty(MojoPropertyType type,\n                                              void* value);\nMOJO_SYSTEM_EXPORT MojoTimeTicks MojoGetTimeTicksNow(void);"},
			},
			want: []string{"functions in mojo/public/c/system/functions.h: order MojoClose, MojoQueryHandleSignalsState, MojoGetProperty, MojoGetTimeTicksNow, want MojoGetTimeTicksNow, MojoClose, MojoQueryHandleSignalsState, MojoGetProperty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := mustLoadManifest(t, tt.manifest)
			got := mustParse(t, editedTree(t, tt.edits...), want.Headers...)
			if diffs := diffStrings(Compare(want, got)); !slices.Equal(diffs, tt.want) {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(diffs, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
