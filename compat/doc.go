// Package compat checks ipcz-go's public C headers against the reference
// ABI they must reproduce.
//
// The headers under include/ (ipcz/ipcz.h and mojo/public/c/system/*.h)
// promise binary compatibility with the 2022 ipcz C API and the 2017 Mojo C
// system API. This package makes that promise checkable:
//
//   - The reference ABI is kept as two manifests, manifest/ipcz.json and
//     manifest/mojo.json, transcribed from the project's reference notes.
//     They list every constant (value and C type), macro, typedef, struct
//     (size, alignment, each field's offset, size and type), function
//     (signature, parameter names, pointee const-ness, visibility) and
//     function-pointer table (member order, offsets, signatures).
//     LoadManifest returns them.
//   - Parse reads a header tree with the modernc.org/cc/v4 C front end and
//     extracts the same facts.
//   - Compare lists every difference between two ABIs, each named precisely
//     ("IPCZ_RESULT_NOT_FOUND: value 6, want 5").
//   - CheckProgram turns an ABI into a C or C++ translation unit that a real
//     compiler accepts only if it agrees with every recorded size, offset,
//     alignment, constant and signature, as a second opinion on cc/v4.
//
// The contract: for each manifest, Compare(manifest, Parse(include,
// manifest.Headers...)) is empty, and the program from CheckProgram
// compiles with gcc and g++. The package's tests enforce both, and also
// prove that the checks notice drift by mutating a copy of the headers.
//
// Facts are those of the host's C ABI. The manifests record linux/amd64,
// the only target the C library ships for; on any other target Compare
// reports the target difference first.
//
// Parse needs a C compiler on PATH (or $CC), which cc/v4 asks for its
// predefined macros and system include paths. Everything else is pure Go.
// All functions are safe for concurrent use.
package compat
