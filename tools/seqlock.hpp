// seqlock.hpp — reading a live arena consistently without taking its lock.
//
// The CLI maps arenas read-only and never locks them, so a reader can see a
// change half-made. Every writer makes ArenaHeader::mutation_seq odd while it
// holds the arena lock and even again when it lets go (arena_lock.cpp). A
// read that finds the same even value before and after saw no change at
// all; otherwise it is retried, a few times, with a short pause between.
//
// Entry point: read_consistently(base, read). `read` must copy what it needs
// out of the mapping (memcpy) and bound every offset it follows: on a retry
// it simply runs again, and on the last attempt its result is kept whatever
// happened, with the outcome saying why it may be off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace shoal::cli {

enum class Stability {
  stable,     // nothing changed during the read
  changing,   // writers kept changing the arena during every attempt
  held,       // a live process held the lock throughout (stopped? stuck?)
  abandoned,  // a dead process holds the lock: frozen, maybe mid-change
};

struct ReadOutcome {
  Stability stability = Stability::stable;
  int attempts = 0;
  std::int32_t lock_owner_pid = 0;  // for `held` and `abandoned`

  bool consistent() const { return stability == Stability::stable; }
  // One sentence for a human, naming the arena; empty when stable.
  std::string note(const std::string& arena) const;
  static const char* name(Stability stability);
};

// Runs `read` until it sees an unchanged, even mutation_seq (at most a fixed
// number of attempts, about 50 ms in all). `base` is the start of a mapping
// of at least layout::kHeaderBytes bytes.
ReadOutcome read_consistently(const std::byte* base, const std::function<void()>& read);

}  // namespace shoal::cli
