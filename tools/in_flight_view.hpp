// in_flight_view.hpp — the arena's in-flight table (references the arena
// holds for pickles), read lock-free.
//
// An entry in use (offset != 0) owns one reference on the block (offset,
// generation) until its CLOCK_BOOTTIME deadline, on behalf of a pickle
// that anyone may unpickle meanwhile (include/shoal/in_flight.hpp). It is
// an owner like a ledger entry, a child entry or a channel slot, so the
// CLI counts it wherever it counts owners.
//
// read_in_flight() copies the table header and then each entry out of the
// mapping (through the core's reader, ArenaImage) before looking at them,
// bounds `extent` by the table's capacity, and never follows an entry's offset: the census matches it
// against the blocks its own walk found. Writers change the table only
// under the arena lock, so run it inside read_consistently (seqlock.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/arena_image.hpp"
#include "shoal/handle.hpp"

namespace shoal::cli {

// The two clocks an entry's times need, read together once: deadlines are
// CLOCK_BOOTTIME (every process of the host agrees on them, and they never
// go back), people read CLOCK_REALTIME.
struct Clocks {
  std::uint64_t realtime_ns = 0;
  std::uint64_t boot_ns = 0;

  static Clocks now();
};

struct InFlightView {
  std::uint64_t index = 0;  // in the table: "in-flight #index"
  Handle block;             // as the entry names it; it may name no live block in a damaged arena
  std::uint64_t ticket = 0;      // the number a pickle carries for this use of the entry
  std::uint64_t created_ns = 0;  // CLOCK_REALTIME, as the pickler wrote it
  // The boot-time deadline moved onto the wall clock with the clocks of
  // the read: now_realtime + (expires_boot - now_boot).
  std::uint64_t expires_ns = 0;
  // Until the deadline, at the read; <= 0 once due: the entry still owns
  // its reference until someone ends it (the arena's broker, every round,
  // or a later pickle that passes it looking for a free entry).
  std::int64_t left_ns = 0;
  std::int32_t creator_pid = 0;  // who pickled it, as that process saw itself
};

// Every entry in use, by index, from the table of `image` (an empty list if
// it cannot hold the table).
std::vector<InFlightView> read_in_flight(const ArenaImage& image, const Clocks& clocks);

}  // namespace shoal::cli
