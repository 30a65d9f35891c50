// census.hpp — every block of an arena, who owns it, and where it was made.
//
// take_census() walks the chain of blocks of a read-only mapping and, for
// each used block, records its header and its owners: the holder slots
// whose ledgers name it, the in-flight entries (references the arena holds
// for pickles) that name it, the objects whose child tables name it, the
// channels whose pending slots name it. It also reads every channel's
// header, the in-flight table and the site table. Like take_snapshot() it
// never locks the arena or writes to it, reads every structure through the
// core's ArenaImage (copied out, bounded, judged by the core's own rules
// such as layout::channel_pending), bounds every loop, and runs under
// the seqlock: a changing or corrupt arena gives an approximate census or
// an error text, never a crash or a hang.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "in_flight_view.hpp"
#include "seqlock.hpp"
#include "shoal/arena.hpp"
#include "shoal/handle.hpp"
#include "shoal/layout.hpp"
#include "shoal/sites.hpp"

namespace shoal::cli {

struct Owner {
  enum class Kind { holder, channel, object, in_flight, channel_end };
  Kind kind = Kind::holder;
  std::uint32_t slot = 0;   // holder slot (Kind::holder)
  Handle block;             // the channel, parent object or channel end
  std::uint64_t entry = 0;  // in-flight table index (Kind::in_flight); Census::find_in_flight has the rest
};

struct BlockEntry {
  Handle handle;
  std::uint32_t kind = 0;  // layout::BlockKind, as found
  std::uint64_t size = 0;  // whole block, header included
  std::uint64_t requested = 0;
  std::uint32_t refcount = 0;
  std::uint64_t created_ns = 0;
  std::uint16_t creator_slot = layout::kNoHolder;
  std::uint16_t flags = 0;
  std::uint32_t site = 0;
  std::vector<Owner> owners;
};

// A channel's header, as read. States beyond open and closed (poisoned,
// on another branch) are shown by channel_state_name().
struct ChannelEntry {
  Handle handle;
  std::string name;   // "" if unnamed
  bool sane = false;  // layout::channel_is_sane: the counters below are usable
  std::uint32_t capacity = 0;
  std::uint32_t state = 0;
  std::uint64_t head = 0;
  std::uint64_t tail = 0;
  std::uint32_t sleepers = 0;
  std::uint32_t blocked_senders = 0;
  std::uint32_t blocked_receivers = 0;
  // Its live ends (layout::ChannelEnd), for each role once one was made.
  std::uint32_t senders = 0;
  std::uint32_t receivers = 0;
  std::uint8_t ends_tracked = 0;  // layout::ChannelEndsTracked
  std::uint8_t closed_by = 0;     // layout::ChannelCloser
  std::uint32_t refcount = 0;
  std::uint64_t pending_bytes = 0;   // whole blocks of the pending items, headers included
  std::uint64_t pending_inline = 0;  // pending items that are values in the slot itself (no block)
  std::vector<Handle> pending;       // oldest first; an inline item as (tag, value bits)

  // What the channel owns, counted by the core's rule (layout::channel_pending:
  // nothing once poisoned, whatever head and tail say).
  std::uint64_t pending_items() const { return pending.size(); }
};

// Why a channel closed, once it has: "close", "senders gone", "receivers gone".
std::string channel_closer_name(std::uint8_t closed_by);

struct Census {
  std::vector<BlockEntry> blocks;  // used blocks but ledgers, by offset
  std::vector<ChannelEntry> channels;
  std::vector<InFlightView> in_flight;  // entries in use, by index; read even when the block walk fails
  Clocks clocks;                        // when the in-flight times were computed
  SiteTable sites;
  std::string walk_error;  // why the block walk stopped early; empty if it did not
  ReadOutcome read;

  const BlockEntry* find(std::uint64_t offset) const;  // binary search by offset
  // The live block an in-flight entry names (offset and generation match), or nullptr.
  const BlockEntry* find(const Handle& handle) const;
  const InFlightView* find_in_flight(std::uint64_t index) const;  // binary search by index
};

Census take_census(const Arena& arena);

// "open", "closed", or "state N" for a value this build does not know.
std::string channel_state_name(std::uint32_t state);

}  // namespace shoal::cli
