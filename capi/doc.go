// Package capi is the C ABI of ipcz-go: the exports of libmojo.so, a C
// shared library built with -buildmode=c-shared from cmd/libmojo (see
// `make lib` and package capi/internal/clib). C programs include the
// headers under include/ and link with `pkg-config --libs mojo`.
//
// # What the library exports
//
// Exactly these dynamic symbols (libmojo.map, a version script; everything
// else, the Go runtime included, is local), each with the exact signature
// of its header:
//
//   - the 33 functions of the 2017 Mojo C system API
//     (mojo/public/c/system/*.h), MojoGetTimeTicksNow ... MojoArmWatcher;
//   - IpczGetAPI (ipcz/ipcz.h), which fills an IpczAPI table with the 16
//     functions of the 2022 ipcz C API;
//   - extensions, clearly marked as such: IpczGo* (ipcz/ipcz_go_ext.h: the
//     library's built-in drivers for C programs) and MojoExt*
//     (mojo/ext/invitation.h: process roles and invitations).
//
// The signatures are checked by the C compiler, not by convention: every
// file with exports includes the public headers in its preamble, so cgo's
// generated prototypes conflict (a build error) with any declaration they
// do not match; the ipcz table and the built-in driver tables are filled
// in api.c, where -Werror=incompatible-pointer-types checks every member.
// Const pointer parameters use typedefs from capi.h. The values of every
// constant capi relies on are compared with compat's reference manifests
// by the package's tests.
//
// # Contract
//
// Each Mojo export is the mojo.Core method of the same name on the
// process-wide core, plus what only C can get wrong: null out-pointers,
// non-null counts with null arrays, options structs that are misaligned or
// whose struct_size does not reach a field (fields past struct_size are
// never read), and a pointer handed back to MojoUnmapBuffer. The results
// are those of mojo.md §1.10; the C tests check them row by row.
//
// Each ipcz function validates its C arguments as the seed's ipcz.h
// specifies (struct sizes, null pointers, capacities, options and limits)
// and calls the ipcz package. IpczHandle values are indices into a handle
// table (never Go pointers), with a generation so that a stale handle
// names nothing. A handle sent in a parcel, merged or unboxed leaves the
// table when the call succeeds.
//
// An application's IpczDriver is called through C trampolines (cgo cannot
// call C function pointers): a cDriver wraps a copy of the table. The
// transports it activates report to one exported activity handler, which
// the driver may call from any thread, re-entrantly from inside Transmit;
// its `transport` argument names a listener in a table. A built-in
// driver's table passed to CreateNode unchanged is recognized and the Go
// driver used directly.
//
// # The process-wide Mojo core
//
// No initialization is required of the caller: the first Mojo call starts
// one core (an ipcz node on the library's multiprocess driver). Its role is
// the broker unless the environment variable IPCZ_TRANSPORT_FD is set (the
// process was started by a parent through an invitation), when it is a
// child; MojoExtInit chooses explicitly and must come first. A child joins
// the parent's network with MojoExtAcceptInvitation.
//
// # Threads
//
// Every export may be called from any thread, concurrently. Watcher
// callbacks and ipcz trap handlers are C function pointers called on
// whatever thread raised them: the caller's own thread at the end of an
// API call, or a thread of the Go runtime delivering another process's
// traffic (FROM_SYSTEM). They may call back into the library. A C thread's
// first call costs tens of microseconds (the runtime binds an M to it);
// later calls cost tens of nanoseconds.
//
// # Memory C holds
//
// Mapped buffers, two-phase data pipe and ipcz buffers, message payloads
// and driver mappings are handed to C as pointers that stay valid until C
// gives them back (UnmapBuffer, End*, the message's write or free, the
// mapping's close). Shared memory is mmap'd and never moves; Go heap memory
// (message payloads, ipcz two-phase put buffers, the in-process driver's
// memory) is pinned with runtime.Pinner for exactly that long (pinTable).
// Pointers are written into C out-parameters as integers (storePointer),
// never through Go pointer types: the garbage collector's write barrier
// would read the old contents of C memory as a pointer.
//
// # Panics
//
// A panic never unwinds into C: every export defers a guard that recovers,
// logs the panic with its stack to stderr, and answers INTERNAL.
//
// # Trust
//
// The application is trusted with its own handles and memory, as a C
// library trusts its caller: pointers it passes must be valid for their
// stated sizes. Misuse of handles (stale, wrong kind, double close) gives
// result codes. An application's driver is trusted to follow the IpczDriver
// contract. Other processes are not trusted (package mojo and ipcz
// validate everything they send).
//
// # Limits and pitfalls for C programs
//
//   - The library cannot be unloaded (dlclose): the Go runtime stays.
//   - A process that has loaded it must not fork() without exec(); start
//     children with posix_spawn (see examples/c/parent_child.c).
//   - Signal handlers the application installs must use SA_ONSTACK.
//   - A race-instrumented build of the library cannot be loaded by a plain
//     C program; race testing covers the Go side only (capi/internal/ctest
//     calls the exports from C threads inside the Go test binary).
//
// # Files
//
//	exports_mojo.go   the 33 Mojo functions
//	exports_ipcz.go   the 16 ipcz functions and the activity handler
//	exports_ext.go    extensions and the built-in drivers' entries
//	api.c             IpczGetAPI and the built-in driver tables
//	tramp.go          trampolines to C function pointers; cDriver
//	capi.h            preamble header: public headers, const typedefs
//	guard.go          panic guards and the only unsafe C-memory helpers
//	core.go           the process-wide core, roles, built-in drivers
//	table.go, pins.go handle tables and pinned memory
//	abi.go            constants and layouts for the manifest test
//	libmojo.map       the version script
package capi
