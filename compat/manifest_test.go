package compat

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestHeadersMatchManifests is the package's contract: the shipped headers
// declare exactly the reference ABI.
func TestHeadersMatchManifests(t *testing.T) {
	requireCFrontEnd(t)
	requireManifestTarget(t)
	for _, name := range ManifestNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := mustLoadManifest(t, name)
			got := mustParse(t, repoInclude, want.Headers...)
			if diffs := Compare(want, got); len(diffs) != 0 {
				t.Errorf("include/ differs from manifest/%s.json in %d ways:\n%s",
					name, len(diffs), strings.Join(diffStrings(diffs), "\n"))
			}
		})
	}
}

func TestManifestNames(t *testing.T) {
	if got, want := ManifestNames(), []string{"ipcz", "mojo"}; !slices.Equal(got, want) {
		t.Errorf("ManifestNames() = %v, want %v", got, want)
	}
}

func TestLoadManifestRejectsUnknownName(t *testing.T) {
	_, err := LoadManifest("mojo2")
	if err == nil || err.Error() != `compat: no manifest "mojo2" (have ipcz, mojo)` {
		t.Errorf("LoadManifest(mojo2) error = %v", err)
	}
}

// TestLoadManifestReturnsCopies checks that callers cannot corrupt each
// other's view of the reference.
func TestLoadManifestReturnsCopies(t *testing.T) {
	first := mustLoadManifest(t, "ipcz")
	first.Constants[0].Value = "99"
	second := mustLoadManifest(t, "ipcz")
	if second.Constants[0].Value != "0" {
		t.Errorf("second load sees %s = %s; loads share state", second.Constants[0].Name, second.Constants[0].Value)
	}
}

// TestManifestFilesAreCanonical keeps the checked-in JSON in the form
// EncodeABI writes, so that regenerating it gives a clean diff and no field
// is silently ignored.
func TestManifestFilesAreCanonical(t *testing.T) {
	for _, name := range ManifestNames() {
		data, err := os.ReadFile("manifest/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		a, err := DecodeABI(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := EncodeABI(a)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, again) {
			t.Errorf("manifest/%s.json is not in canonical form; re-encode it with EncodeABI", name)
		}
	}
}

func TestDecodeABIRejectsUnknownFields(t *testing.T) {
	_, err := DecodeABI([]byte(`{"name": "x", "constants": [{"name": "A", "valeu": "1"}]}`))
	if err == nil || !strings.Contains(err.Error(), `unknown field "valeu"`) {
		t.Errorf("DecodeABI with a misspelled field: error = %v", err)
	}
}

// TestIpczManifestReferenceFacts pins the facts of the reference notes
// (ipcz.md §1) that matter most, so that an accidental edit of the manifest
// cannot make the header check pass against the wrong ABI.
func TestIpczManifestReferenceFacts(t *testing.T) {
	m := mustLoadManifest(t, "ipcz")

	results := []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS"}
	for want, suffix := range results {
		wantConstant(t, m, "IPCZ_RESULT_"+suffix, int64(want), "IpczResult")
	}
	flags := map[string]int64{
		"IPCZ_TRANSPORT_ACTIVITY_ERROR": 1, "IPCZ_TRANSPORT_ACTIVITY_DEACTIVATED": 2,
		"IPCZ_CREATE_NODE_AS_BROKER": 1, "IPCZ_CONNECT_NODE_TO_BROKER": 1,
		"IPCZ_CONNECT_NODE_INHERIT_BROKER": 2, "IPCZ_CONNECT_NODE_SHARE_BROKER": 4,
		"IPCZ_CONNECT_NODE_TO_ALLOCATION_DELEGATE": 8, "IPCZ_BEGIN_PUT_ALLOW_PARTIAL": 1,
		"IPCZ_END_PUT_ABORT": 1, "IPCZ_GET_PARTIAL": 1, "IPCZ_END_GET_ABORT": 1, "IPCZ_UNBOX_PEEK": 1,
		"IPCZ_PORTAL_STATUS_PEER_CLOSED": 1, "IPCZ_PORTAL_STATUS_DEAD": 2,
		"IPCZ_TRAP_REMOVED": 1, "IPCZ_TRAP_PEER_CLOSED": 2, "IPCZ_TRAP_DEAD": 4,
		"IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS": 8, "IPCZ_TRAP_ABOVE_MIN_LOCAL_BYTES": 16,
		"IPCZ_TRAP_BELOW_MAX_REMOTE_PARCELS": 32, "IPCZ_TRAP_BELOW_MAX_REMOTE_BYTES": 64,
		"IPCZ_TRAP_NEW_LOCAL_PARCEL": 128, "IPCZ_TRAP_CONSUMED_REMOTE_PARCEL": 256,
	}
	for name, value := range flags {
		wantConstant(t, m, name, value, "uint32_t")
	}
	if got := len(m.Constants); got != 3+len(results)+len(flags) {
		t.Errorf("ipcz has %d constants, want %d", got, 3+len(results)+len(flags))
	}
	for _, later := range []string{"IPCZ_TRAP_WITHIN_API_CALL", "IPCZ_GET_PARCEL_ONLY", "IPCZ_MEMORY_FIXED_PARCEL_CAPACITY"} {
		if _, ok := m.Constant(later); ok {
			t.Errorf("%s is post-seed and must not be in the manifest", later)
		}
	}

	sizes := map[string]int64{
		"IpczSharedMemoryInfo": 16, "IpczPutLimits": 24, "IpczPutOptions": 16, "IpczBeginPutOptions": 16,
		"IpczPortalStatus": 48, "IpczTrapConditions": 48, "IpczTrapEvent": 32,
	}
	for name, size := range sizes {
		s, ok := m.Struct(name)
		if !ok || s.Size != size || s.Align != 8 {
			t.Errorf("struct %s = %+v, want size %d align 8", name, s, size)
		}
	}
	status, _ := m.Struct("IpczPortalStatus")
	wantFields(t, status.Fields, []Field{
		{"size", 0, 8, "size_t"}, {"flags", 8, 4, "IpczPortalStatusFlags"},
		{"num_local_parcels", 16, 8, "size_t"}, {"num_local_bytes", 24, 8, "size_t"},
		{"num_remote_parcels", 32, 8, "size_t"}, {"num_remote_bytes", 40, 8, "size_t"},
	})
	event, _ := m.Struct("IpczTrapEvent")
	wantFields(t, event.Fields, []Field{
		{"size", 0, 8, "size_t"}, {"context", 8, 8, "uintptr_t"},
		{"condition_flags", 16, 4, "IpczTrapConditionFlags"}, {"status", 24, 8, "const struct IpczPortalStatus*"},
	})

	wantTable(t, m, "IpczAPI", 136, []string{"Close", "CreateNode", "ConnectNode", "OpenPortals",
		"MergePortals", "QueryPortalStatus", "Put", "BeginPut", "EndPut", "Get", "BeginGet", "EndGet",
		"Trap", "Reject", "Box", "Unbox"})
	wantTable(t, m, "IpczDriver", 112, []string{"Close", "Serialize", "Deserialize", "CreateTransports",
		"ActivateTransport", "DeactivateTransport", "Transmit", "ReportBadTransportActivity",
		"AllocateSharedMemory", "GetSharedMemoryInfo", "DuplicateSharedMemory", "MapSharedMemory",
		"GenerateRandomBytes"})
	api, _ := m.Table("IpczAPI")
	if got, want := api.Members[6].Signature.Declarator("Put"),
		"IpczResult (*Put)(IpczHandle portal, const void* data, size_t num_bytes, const IpczHandle* handles, size_t num_handles, uint32_t flags, const struct IpczPutOptions* options)"; got != want {
		t.Errorf("IpczAPI.Put = %s\nwant %s", got, want)
	}

	getAPI, ok := m.Function("IpczGetAPI")
	if !ok || getAPI.Signature.Declarator("IpczGetAPI") != "IpczResult (*IpczGetAPI)(struct IpczAPI* api)" || getAPI.Visibility != "default" {
		t.Errorf("IpczGetAPI = %+v", getAPI)
	}
	handler, _ := m.Typedef("IpczTransportActivityHandler")
	if handler.Signature == nil || handler.Signature.Params[3].Type != "const IpczDriverHandle*" {
		t.Errorf("IpczTransportActivityHandler = %+v", handler)
	}
}

// TestMojoManifestReferenceFacts does the same for mojo.md §1.
func TestMojoManifestReferenceFacts(t *testing.T) {
	m := mustLoadManifest(t, "mojo")

	wantConstant(t, m, "MOJO_RESULT_BUSY", 16, "MojoResult")
	wantConstant(t, m, "MOJO_RESULT_SHOULD_WAIT", 17, "MojoResult")
	wantConstant(t, m, "MOJO_HANDLE_SIGNAL_NEW_DATA_READABLE", 8, "MojoHandleSignals")
	wantConstant(t, m, "MOJO_READ_DATA_FLAG_PEEK", 8, "MojoReadDataFlags")
	wantConstant(t, m, "MOJO_PLATFORM_HANDLE_TYPE_WINDOWS_HANDLE", 3, "MojoPlatformHandleType")
	indefinite, _ := m.Constant("MOJO_DEADLINE_INDEFINITE")
	if v, err := indefinite.Uint64(); err != nil || v != math.MaxUint64 || indefinite.Type != "MojoDeadline" {
		t.Errorf("MOJO_DEADLINE_INDEFINITE = %+v (Uint64 %d, %v)", indefinite, v, err)
	}
	if _, err := indefinite.Int64(); err == nil {
		t.Error("MOJO_DEADLINE_INDEFINITE.Int64() succeeded; the value does not fit in int64")
	}

	// §1.8: the guide's spellings are aliases of the header names.
	aliases := map[string]string{
		"MOJO_WRITE_MESSAGE_NONE":                    "MOJO_WRITE_MESSAGE_FLAG_NONE",
		"MOJO_READ_DATA_OUT_OF_RANGE":                "MOJO_RESULT_OUT_OF_RANGE",
		"MOJO_CREATE_MESSAGE_FLAG_NONE":              "MOJO_ALLOC_MESSAGE_FLAG_NONE",
		"MOJO_PLATFORM_SHARED_BUFFER_HANDLE_NONE":    "MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE",
		"MOJO_PLATFORM_SHARED_BUFFER_FLAG_READ_ONLY": "MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_READ_ONLY",
	}
	for alias, target := range aliases {
		a, _ := m.Constant(alias)
		tc, _ := m.Constant(target)
		if a.AliasOf != target || a.Value != tc.Value || a.Type != tc.Type {
			t.Errorf("%s = %+v, want an alias of %+v", alias, a, tc)
		}
	}
	callback, _ := m.Typedef("MojoWatcherNotificationCallback")
	if callback.Type != "MojoWatcherCallback" {
		t.Errorf("MojoWatcherNotificationCallback = %+v, want an alias of MojoWatcherCallback", callback)
	}

	for name, size := range map[string]int64{"MojoHandle": 4, "MojoResult": 4, "MojoMessageHandle": 8, "MojoTimeTicks": 8} {
		if td, _ := m.Typedef(name); td.Size != size {
			t.Errorf("typedef %s size %d, want %d", name, td.Size, size)
		}
	}
	layouts := map[string][2]int64{
		"MojoHandleSignalsState": {8, 4}, "MojoCreateMessagePipeOptions": {8, 8},
		"MojoCreateDataPipeOptions": {16, 8}, "MojoCreateSharedBufferOptions": {8, 8},
		"MojoDuplicateBufferHandleOptions": {8, 4}, "MojoPlatformHandle": {16, 8},
	}
	for name, layout := range layouts {
		s, ok := m.Struct(name)
		if !ok || s.Size != layout[0] || int64(s.Align) != layout[1] {
			t.Errorf("struct %s = %+v, want size %d align %d", name, s, layout[0], layout[1])
		}
	}

	wantTable(t, m, "MojoSystemThunks", 272, []string{"GetTimeTicksNow", "Close",
		"QueryHandleSignalsState", "CreateMessagePipe", "WriteMessage", "ReadMessage", "CreateDataPipe",
		"WriteData", "BeginWriteData", "EndWriteData", "ReadData", "BeginReadData", "EndReadData",
		"CreateSharedBuffer", "DuplicateBufferHandle", "MapBuffer", "UnmapBuffer", "CreateWatcher",
		"Watch", "CancelWatch", "ArmWatcher", "FuseMessagePipes", "WriteMessageNew", "ReadMessageNew",
		"AllocMessage", "FreeMessage", "GetMessageBuffer", "WrapPlatformHandle", "UnwrapPlatformHandle",
		"WrapPlatformSharedBufferHandle", "UnwrapPlatformSharedBufferHandle", "NotifyBadMessage",
		"GetProperty"})

	// Every thunk is a Mojo* function with the same parameter types.
	thunks, _ := m.Table("MojoSystemThunks")
	for _, member := range thunks.Members {
		f, ok := m.Function("Mojo" + member.Name)
		if !ok {
			t.Errorf("thunk %s has no function Mojo%s", member.Name, member.Name)
			continue
		}
		if !slices.Equal(paramTypes(f.Signature), paramTypes(member.Signature)) || f.Signature.Result != member.Signature.Result {
			t.Errorf("thunk %s = %s, function = %s", member.Name, member.Signature, f.Signature)
		}
	}

	var exported []string
	for _, f := range m.Functions {
		if f.Visibility != "default" {
			t.Errorf("%s has visibility %q, want default", f.Name, f.Visibility)
		}
		exported = append(exported, f.Name)
	}
	if len(exported) != 34 || exported[33] != "MojoEmbedderSetSystemThunks" {
		t.Errorf("functions = %v, want the 33 API functions plus MojoEmbedderSetSystemThunks", exported)
	}
	writeNew, _ := m.Function("MojoWriteMessageNew")
	if got := writeNew.Signature.ParamList(); got != "MojoHandle message_pipe_handle, MojoMessageHandle message, MojoWriteMessageFlags" {
		t.Errorf("MojoWriteMessageNew parameters = %s", got)
	}
	now, _ := m.Function("MojoGetTimeTicksNow")
	if got := now.Signature.Declarator("f"); got != "MojoTimeTicks (*f)(void)" {
		t.Errorf("MojoGetTimeTicksNow = %s", got)
	}
}

func paramTypes(s Signature) []string {
	var types []string
	for _, p := range s.Params {
		types = append(types, p.Type)
	}
	return types
}

func wantConstant(t *testing.T, m *ABI, name string, value int64, typ string) {
	t.Helper()
	c, ok := m.Constant(name)
	if !ok {
		t.Errorf("%s: missing", name)
		return
	}
	if v, err := c.Int64(); err != nil || v != value || c.Type != typ {
		t.Errorf("%s = %s (%s), want %d (%s)", name, c.Value, c.Type, value, typ)
	}
}

func wantFields(t *testing.T, got, want []Field) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("fields = %+v\nwant %+v", got, want)
	}
}

// wantTable checks a table's size and member order; members sit one pointer
// apart after the leading size_t.
func wantTable(t *testing.T, m *ABI, name string, size int64, members []string) {
	t.Helper()
	table, ok := m.Table(name)
	if !ok {
		t.Fatalf("table %s missing", name)
	}
	if table.Size != size || table.Align != 8 || !slices.Equal(table.Fields, []Field{{"size", 0, 8, "size_t"}}) {
		t.Errorf("table %s: size %d align %d fields %+v", name, table.Size, table.Align, table.Fields)
	}
	var names []string
	for i, member := range table.Members {
		names = append(names, member.Name)
		if member.Index != i+1 || member.Offset != int64(8*(i+1)) {
			t.Errorf("%s member %s: index %d offset %d, want %d and %d", name, member.Name, member.Index, member.Offset, i+1, 8*(i+1))
		}
	}
	if !slices.Equal(names, members) {
		t.Errorf("%s members = %v\nwant %v", name, names, members)
	}
}
