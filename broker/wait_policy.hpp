// wait_policy.hpp — how the core waits for another thread or process
// (internal): spin briefly, then sleep in short slices until a deadline.
//
// Every wait in the core follows it: the arena lock (arena_lock.cpp), a
// channel's senders and receivers, and select() (channel.cpp).
//
// Spin first, because a wake-up costs more than most waits: a futex wake
// between cores costs tens of microseconds on this project's virtual
// machines (14 µs for the wake alone, more on cold caches), more than a
// short critical section or a round trip of a spinning peer. But only when
// another CPU could be running whoever we wait for (spin::worthwhile): on
// one CPU spinning only delays them.
//
// Sleep in slices, because a wake-up can be lost: a process killed at the
// wrong instant never wakes the sleepers it should (robust futexes lose
// wake-ups that way too, reproduced on Debian 12, glibc 2.36, with plain
// pthread code and no shoal at all). So nobody sleeps long: after each
// slice the waiter looks again, and a lost wake-up costs one slice, not the
// whole timeout. Every wait still has a deadline, so none is unbounded.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "spin.hpp"

namespace shoal::wait_policy {

using Clock = std::chrono::steady_clock;

// How long to spin before sleeping (never past the caller's deadline).
inline constexpr auto kSpinFor = std::chrono::microseconds(50);

// While spinning, read the clock once per this many polls: a poll is a
// load and a pause (about 25 ns here), a clock reading costs more.
inline constexpr std::uint32_t kPollsPerClockRead = 16;

// The longest sleep at a time: what a lost wake-up costs.
inline constexpr auto kSleepSlice = std::chrono::milliseconds(10);

// Polls `done` until it returns true (then true) or until kSpinFor, or the
// deadline if sooner, has passed (then false). Polls after every pause:
// checking only every few dozen would add a microsecond to every hand-off.
// Yields the CPU now and then, for a woken peer queued behind us
// (spin::kPollsPerYield). Call it only when spin::worthwhile().
template <class Done>
bool spin(Done done, Clock::time_point deadline) {
  const Clock::time_point until = std::min(deadline, Clock::now() + kSpinFor);
  for (std::uint32_t polls = 1;; ++polls) {
    if (done()) return true;
    spin::relax();
    if (polls % spin::kPollsPerYield == 0) spin::yield_cpu();
    if (polls % kPollsPerClockRead == 0 && Clock::now() >= until) return false;
  }
}

// How long the next sleep may last: one slice, or what is left before
// `deadline` if less (zero once it has passed).
inline std::chrono::nanoseconds next_sleep(Clock::time_point deadline) {
  const Clock::duration left = deadline - Clock::now();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::clamp<Clock::duration>(left, Clock::duration::zero(), kSleepSlice));
}

}  // namespace shoal::wait_policy
