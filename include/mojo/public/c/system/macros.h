/*
 * Portability macros used by the Mojo C system headers (2017 ABI).
 *
 * Part of ipcz-go's copy of the Mojo C system API. compat/manifest/mojo.json
 * records the ABI these headers must keep.
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_MACROS_H_
#define MOJO_PUBLIC_C_SYSTEM_MACROS_H_

#include <stddef.h>

/*
 * MOJO_STATIC_ASSERT(expr, msg): a compile-time check that may appear at file
 * scope. C++11 and C11 have one built in. C99 has none, so there a failing
 * check defines an array type of negative size, which every C99 compiler
 * rejects. Each use needs its own typedef name (C99 forbids repeating a
 * typedef), which __COUNTER__ provides where the compiler has it.
 */
#if defined(__cplusplus)
#define MOJO_STATIC_ASSERT(expr, msg) static_assert(expr, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define MOJO_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)
#else
#if defined(__COUNTER__)
#define MOJO_STATIC_ASSERT_ID_ __COUNTER__
#else
#define MOJO_STATIC_ASSERT_ID_ __LINE__
#endif
#define MOJO_STATIC_ASSERT_JOIN_(a, b) a##b
#define MOJO_STATIC_ASSERT_NAME_(id) MOJO_STATIC_ASSERT_JOIN_(mojo_static_assert_, id)
#define MOJO_STATIC_ASSERT(expr, msg) \
  typedef char MOJO_STATIC_ASSERT_NAME_(MOJO_STATIC_ASSERT_ID_)[(expr) ? 1 : -1]
#endif

/* MOJO_ALIGNOF(type): the alignment of `type` in bytes. */
#if defined(__cplusplus)
#define MOJO_ALIGNOF(type) alignof(type)
#elif defined(__GNUC__)
#define MOJO_ALIGNOF(type) __alignof__(type)
#elif defined(_MSC_VER)
#define MOJO_ALIGNOF(type) __alignof(type)
#else
#error "MOJO_ALIGNOF() has no definition for this compiler."
#endif

/* MOJO_ALIGNAS(alignment): minimum alignment for a struct or a member, in a
 * spelling that both C and C++ compilers accept. */
#if defined(__cplusplus)
#define MOJO_ALIGNAS(alignment) alignas(alignment)
#elif defined(__GNUC__)
#define MOJO_ALIGNAS(alignment) __attribute__((aligned(alignment)))
#elif defined(_MSC_VER)
#define MOJO_ALIGNAS(alignment) __declspec(align(alignment))
#else
#error "MOJO_ALIGNAS() has no definition for this compiler."
#endif

#endif /* MOJO_PUBLIC_C_SYSTEM_MACROS_H_ */
