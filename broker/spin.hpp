// spin.hpp — waiting briefly on the CPU before sleeping (internal).
#pragma once

#include <sched.h>

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

// How often a spinning waiter gives its CPU to whoever else is queued on
// it. On this project's virtual machines the kernel often queues a thread
// we have just woken on our own CPU rather than the idle one: a receiver
// woken by a sender that then spun, waiting for its next message, ran only
// when that spin ended (58 µs one way, where the futex wake alone takes
// 14). A yield with nobody queued returns at once (a system call, well under
// a microsecond); every 64 polls is about every 2 µs of spinning.
inline constexpr unsigned kPollsPerYield = 64;

// Lets another thread queued on this CPU run first, if there is one.
inline void yield_cpu() { sched_yield(); }

}  // namespace shoal::spin
