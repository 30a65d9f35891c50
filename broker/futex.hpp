// futex.hpp — sleeping on a 32-bit word in shared memory (internal).
//
// Process-shared futexes (no FUTEX_PRIVATE_FLAG): the kernel keys them by
// the physical page, so processes that map the arena at different
// addresses still meet on the same word.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdint>

namespace shoal::futex {

// Sleeps while *word == expected, for at most `timeout`. Returns early on a
// wake, a signal, or when *word already differs; the caller re-checks.
inline void wait(std::uint32_t* word, std::uint32_t expected, std::chrono::nanoseconds timeout) {
  const auto ns = std::max<std::int64_t>(timeout.count(), 0);
  timespec relative{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  syscall(SYS_futex, word, FUTEX_WAIT, expected, &relative, nullptr, 0);
}

// Wakes every thread sleeping on `word`, in any process; how many it woke.
inline long wake_all(std::uint32_t* word) { return syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0); }

}  // namespace shoal::futex
