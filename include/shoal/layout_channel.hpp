// layout_channel.hpp — a channel block: its header and its ring of slots
// (part of layout.hpp).
//
// "Under lock", "derived", "commit", "recycler" and "lock-free" mean what
// layout.hpp's opening comment says.
#pragma once

#include <cstdint>

#include "shoal/layout_block.hpp"

namespace shoal::layout {

// A `channel` block's payload: a bounded queue of handles, each slot owning
// one shared reference on the block it names. Items [head, tail) are
// pending, in slot index % capacity. Written under the arena lock, except
// the waiters' counters (sleepers, blocked_*), which are atomic and need
// no lock. head, tail and state are read lock-free, so the lock holder
// stores each with release: a receiver polling an empty channel and select
// load them with acquire; image readers (the CLI, the check's read-only
// pass) copy them with relaxed loads, as everything else they read, and
// retry around mutation_seq. The slots, capacity and options are read only
// under the lock or by an image reader (which bounds what it finds).
//
// A poisoned channel owns nothing: storing `state = poisoned` is the commit
// that gives up every pending slot's reference at once (the poisoner then
// drops those references one by one and sets head = tail; a death halfway
// leaves refcounts too high, which repair recounts). So whoever counts a
// channel's owned entries counts channel_pending(), never tail - head.
enum class ChannelState : std::uint32_t { open = 0, closed = 1, poisoned = 2 };

// ChannelHeader::options.
enum ChannelOptions : std::uint32_t {
  // Values sent through it are checksummed objects (kChecksummed), so a
  // receiver detects bytes altered in the arena after the send.
  kChannelChecksum = 1,
};

struct ChannelHeader {
  std::uint32_t capacity;  // slots that follow; fixed at creation
  std::uint32_t state;     // ChannelState, under lock (release); commit of close and of poison; lock-free (acquire)
  std::uint64_t head;      // next item to receive; under lock (release); commit of a receive; lock-free (acquire)
  std::uint64_t tail;      // one past the last item sent; under lock (release); commit of a send; lock-free (acquire)
  // Bumped (under lock, seq_cst fetch_add) on every send, receive and
  // close; the futex word, loaded by waiters without the lock.
  std::uint32_t wake_seq;
  std::uint32_t sleepers;  // threads asleep on wake_seq: a hint, so an idle channel skips FUTEX_WAKE
  // Threads waiting in send() (channel full) and in recv() (channel empty),
  // spinning or asleep: atomic, not under the lock. A hint for `shoal
  // channels`, like `sleepers`: a waiter killed while waiting leaves it high.
  std::uint32_t blocked_senders;
  std::uint32_t blocked_receivers;
  std::uint32_t options;  // ChannelOptions; written at creation, never changed
  // Bytes of the channel's name (UTF-8, at most kMaxChannelName), which
  // follow the slots; 0: unnamed. Written at creation, never changed: read
  // without the lock by anyone, bounded by the payload (channel_name_fits).
  std::uint16_t name_bytes;
  // ChannelEndsTracked: which roles have had an end made. Under lock; set
  // when the first end of the role is made, never cleared.
  std::uint8_t ends_tracked;
  // ChannelCloser: why the channel left `open`. Under lock, stored before
  // `state` (whoever sees the state sees the reason). Lock-free: relaxed.
  std::uint8_t closed_by;
  // Live ends (channel_end blocks naming this channel) of each role. Under
  // lock; derived: repair recounts them from the ends themselves.
  std::uint32_t senders;
  std::uint32_t receivers;
  std::uint8_t reserved[8];
  // ChildEntry slots[capacity] follow, then the name's bytes.
};
static_assert(sizeof(ChannelHeader) == 64);

inline constexpr std::uint32_t kMaxChannelName = 128;

// ChannelHeader::ends_tracked.
enum ChannelEndsTracked : std::uint8_t {
  kSendersTracked = 1,    // a sender end was made: when none is left, the channel closes
  kReceiversTracked = 2,  // a receiver end was made: the same for receivers
};

// ChannelHeader::closed_by.
enum class ChannelCloser : std::uint8_t {
  call = 0,            // close() or poison()
  senders_gone = 1,    // its last sender end was closed, or its holder died
  receivers_gone = 2,  // its last receiver end was closed, or its holder died
};
inline constexpr std::uint8_t kMaxChannelCloser = 2;

// A `channel_end` block's payload: one end of a channel, as Trio's send
// and receive channels are. The end owns one reference on its channel (the
// entry), and the channel counts its live ends per role (senders,
// receivers): when an end block is freed (its last reference dropped: every
// handle to it closed, or the holders that had one reaped), the count goes
// down, and when it reaches 0 the channel is closed, saying why
// (closed_by). Written before the block is published, never changed.
inline constexpr std::uint32_t kChannelEndMagic = 0x444E4543u;  // "CEND"
enum class EndRole : std::uint32_t { sender = 1, receiver = 2 };
struct ChannelEnd {
  std::uint32_t magic;  // kChannelEndMagic
  std::uint32_t role;   // EndRole
  ChildEntry channel;   // the channel; owned (one reference)
};
static_assert(sizeof(ChannelEnd) == 24);

// True when `end` (copied out of a payload of `payload_bytes`) is well formed.
inline bool channel_end_is_sane(const ChannelEnd& end, std::uint64_t payload_bytes) {
  return payload_bytes >= sizeof(ChannelEnd) && end.magic == kChannelEndMagic &&
         (end.role == static_cast<std::uint32_t>(EndRole::sender) ||
          end.role == static_cast<std::uint32_t>(EndRole::receiver));
}

// Where a channel's name starts in its payload, and whether it lies inside
// a payload of `payload_bytes` (for a header whose capacity was checked).
inline std::uint64_t channel_name_offset(std::uint32_t capacity) {
  return sizeof(ChannelHeader) + std::uint64_t{capacity} * sizeof(ChildEntry);
}
inline bool channel_name_fits(std::uint32_t capacity, std::uint32_t name_bytes, std::uint64_t payload_bytes) {
  return name_bytes <= kMaxChannelName && channel_name_offset(capacity) + name_bytes <= payload_bytes;
}

// A channel slot either names a block (a ChildEntry like any other, owning
// one reference) or carries a small value itself: an inline item, whose
// `offset` is an InlineTag and whose `generation` holds the value's 8
// bytes. A tag is below kAlign and never 0, so it can never be mistaken for
// a block offset (those are multiples of 64, at least heap_begin). An
// inline item owns nothing: sending one allocates no block, takes no
// reference, and a receiver gets the value from the slot. Only channel
// slots hold inline items; an object's child table never does.
enum class InlineTag : std::uint64_t {
  none = 1,      // word unused (0)
  boolean = 2,   // word 0 or 1
  int64 = 3,     // word: the two's-complement bits
  float64 = 4,   // word: the IEEE 754 bits
};
inline constexpr std::uint64_t kMaxInlineTag = 4;

inline bool is_inline_item(const ChildEntry& entry) { return entry.offset != 0 && entry.offset < kAlign; }
inline bool is_valid_inline_tag(std::uint64_t tag) { return tag >= 1 && tag <= kMaxInlineTag; }

// True when a channel payload of `payload_bytes` can hold `header`'s slots
// and its counters are within bounds.
inline bool channel_is_sane(const ChannelHeader& header, std::uint64_t payload_bytes) {
  if (payload_bytes < sizeof(ChannelHeader) || header.capacity == 0) return false;
  const std::uint64_t room = (payload_bytes - sizeof(ChannelHeader)) / sizeof(ChildEntry);
  return header.capacity <= room && header.head <= header.tail && header.tail - header.head <= header.capacity &&
         header.state <= static_cast<std::uint32_t>(ChannelState::poisoned);
}

// The items a (sane) channel owns references on: [head, tail), or none
// once it is poisoned.
inline std::uint64_t channel_pending(const ChannelHeader& header) {
  return header.state == static_cast<std::uint32_t>(ChannelState::poisoned) ? 0 : header.tail - header.head;
}

}  // namespace shoal::layout
