// clock.hpp — wall-clock timestamps stored in the arena (internal).
#pragma once

#include <time.h>

#include <cstdint>

namespace shoal::clock {

// Nanoseconds since the epoch. `coarse` uses the kernel's tick-resolution
// clock, several times cheaper: enough for a block's age in the CLI.
inline std::uint64_t realtime_ns(bool coarse = false) {
  timespec ts{};
  clock_gettime(coarse ? CLOCK_REALTIME_COARSE : CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace shoal::clock
