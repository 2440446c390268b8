/*
 * MOJO_SYSTEM_EXPORT marks the functions the Mojo system library exports.
 *
 * ipcz-go always ships the Mojo API as a shared library, so declarations get
 * default visibility: a program compiled with -fvisibility=hidden must still
 * bind these names to the library at run time. An embedder that links the
 * API some other way may define MOJO_SYSTEM_EXPORT before including any Mojo
 * header.
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_SYSTEM_EXPORT_H_
#define MOJO_PUBLIC_C_SYSTEM_SYSTEM_EXPORT_H_

#if !defined(MOJO_SYSTEM_EXPORT)
#if defined(__GNUC__)
#define MOJO_SYSTEM_EXPORT __attribute__((visibility("default")))
#else
#define MOJO_SYSTEM_EXPORT
#endif
#endif

#endif /* MOJO_PUBLIC_C_SYSTEM_SYSTEM_EXPORT_H_ */
