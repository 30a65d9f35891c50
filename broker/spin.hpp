// spin.hpp — waiting briefly on the CPU before sleeping (internal).
#pragma once

#include <thread>

namespace shoal::spin {

// Spinning only pays when another CPU can run whoever we wait for; on one
// CPU it only delays them.
inline bool worthwhile() {
  static const bool value = std::thread::hardware_concurrency() > 1;
  return value;
}

// A pause hint inside a spin loop: lets the sibling hyperthread run and
// saves power.
inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace shoal::spin
