// debug_assert.hpp — the lower of the two tiers of checking (as mimalloc's).
//
// SHOAL_DEBUG_ASSERT(condition) costs nothing in release builds (NDEBUG,
// Meson's b_ndebug=if-release) and aborts with the place and the condition
// in debug builds (debug, debugoptimized: the sanitizer and test builds).
// The core asserts the structure it is about to use — a block header it
// steps over, a ledger chunk it writes into — with the same validators the
// reader of an arena image uses (shoal/arena_image.hpp). The upper tier is
// the whole-arena check (check_image), which cross-checks every structure
// against every other and reports instead of aborting.
//
// Only for invariants the core itself keeps under the lock: bytes a hostile
// writer may change are bounded and refused at runtime, never asserted.
#pragma once

#if defined(NDEBUG)
#define SHOAL_DEBUG_ASSERT(condition) ((void)0)
#else
#include <cstdio>
#include <cstdlib>
#define SHOAL_DEBUG_ASSERT(condition)                                                                  \
  ((condition) ? (void)0                                                                               \
               : (std::fprintf(stderr, "%s:%d: shoal debug assertion failed: %s\n", __FILE__, __LINE__, \
                               #condition),                                                            \
                  std::abort()))
#endif
