// channel.hpp — a bounded queue of handles in the arena, between any
// threads, interpreters and processes attached to it.
//
// A channel is a block of kind `channel` (layout.hpp, ChannelHeader). Each
// pending item is a slot owning one shared reference on the block it
// names, so a sender may die right after send() and nothing is lost; when
// the channel's own last reference goes, its pending items are released.
// Sends and receives change the slots under the arena lock, with single
// commits (tail, head) that repair understands: a process killed in the
// middle of either leaves the item exactly once in the channel or exactly
// once with the receiver.
//
// Blocking: waiters sleep on a futex word in the channel (shared between
// processes), after a short spin when another CPU could answer, in slices
// so that a lost wake-up costs one slice; every wait has a timeout.
//
// CSP completions: poison() ends a channel at once for everyone, dropping
// what is pending; select() receives from whichever of several channels
// (of one arena) is ready first, sleeping on the arena's activity word
// (layout.hpp, ArenaHeader::activity_seq) that every send, receive, close
// and poison bumps.
//
// Inline items: a small value (none, a boolean, a 64-bit integer or float;
// layout.hpp, InlineTag) can travel in the slot itself. Sending one
// allocates nothing and takes no reference, so a send and a receive are one
// lock round trip each, where a block costs an allocation, a send, a
// receive and a release.
//
// A Channel object is this holder's reference to the channel block; make
// one per holder (Channel::open with the same handle).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "shoal/handle.hpp"
#include "shoal/holder.hpp"

namespace shoal {

class Channel {
 public:
  using Timeout = std::optional<std::chrono::nanoseconds>;  // nullopt: wait for ever

  // A value carried in a slot: a tag (layout::InlineTag) and its 8 bytes.
  struct InlineValue {
    layout::InlineTag tag = layout::InlineTag::none;
    std::uint64_t word = 0;
  };
  // What receive() takes: a block (the channel's reference, now the
  // caller's), or, when `block` is empty, an inline value.
  struct Item {
    HeldBlock block;
    InlineValue value;
    bool is_inline() const { return !block; }
  };

  // A new, empty channel of `capacity` slots (1 .. 1,048,576).
  // `options`: layout::ChannelOptions (kChannelChecksum: senders seal what
  // they send, see Freezer::publish). `name`: shown by the CLI and in every
  // error about the channel (UTF-8, at most layout::kMaxChannelName bytes;
  // InvalidArgument otherwise). `site`: where it was made (Arena::intern_site).
  static Channel create(Holder& holder, std::uint32_t capacity, std::uint32_t options = 0,
                        std::string_view name = {}, std::uint32_t site = 0);
  // This holder's own reference to an existing channel. Throws InvalidHandle.
  static Channel open(Holder& holder, Handle channel);

  Handle handle() const { return block_.handle(); }
  // Its name ("" if unnamed), read once when this Channel was made.
  const std::string& name() const { return name_; }
  // "channel 'frames' (1234:5)", or "channel 1234:5" when unnamed: how
  // every error names it.
  std::string describe() const;
  // Fixed at creation: read once when this Channel was made.
  bool checksummed() const { return (options_ & layout::kChannelChecksum) != 0; }

  // Puts a new reference to `item` in the channel (the caller keeps its own),
  // waiting while the channel is full. Throws ChannelClosed, WaitTimeout,
  // InvalidHandle (item not live).
  void send(Handle item, Timeout timeout = std::nullopt);
  // As send(), but returns false at once when the channel is full.
  bool try_send(Handle item);

  // As above, but moves the caller's reference into the channel instead of
  // adding one (one lock round trip and no refcount change, where
  // send(handle) plus a release takes two): call it with std::move(block).
  // Only a send that succeeds takes the reference and empties `item`; one
  // that fails (throws, or try_send returns false) hands it back: `item`
  // still holds it.
  void send(HeldBlock&& item, Timeout timeout = std::nullopt);
  bool try_send(HeldBlock&& item);

  // Puts an inline value in the channel (no block, no reference). Throws
  // InvalidArgument for a tag outside layout::InlineTag, and as send().
  void send_inline(InlineValue value, Timeout timeout = std::nullopt);
  bool try_send_inline(InlineValue value);

  // Takes the oldest item, waiting while the channel is empty: a block (the
  // channel's reference becomes the caller's) or an inline value. Throws
  // ChannelClosed once the channel is closed and drained, WaitTimeout.
  Item receive(Timeout timeout = std::nullopt);
  // As receive(), but returns nullopt at once when the channel is empty.
  std::optional<Item> try_receive();

  // receive() for a channel that carries blocks only: throws
  // InvalidArgument, leaving the item in the channel, when the oldest item
  // is an inline value.
  HeldBlock recv(Timeout timeout = std::nullopt);
  std::optional<HeldBlock> try_recv();

  // ---- Ends (channel_ends.cpp) ----
  // A channel may be used through ends, as Trio's channels are: each is a
  // block (layout::ChannelEnd) whose references are handed out like any
  // other's, and the channel counts its live ends per role. When the last
  // sender end goes (every reference released, or the holders that had one
  // reaped after they died) the channel closes: receivers drain what is
  // pending, then get ChannelClosed saying why. The same when the last
  // receiver end goes: blocked and later senders get ChannelClosed. A role
  // is tracked only once an end of it was made; sends and receives through
  // the Channel itself work as before.
  //
  // A new end of `role`; the returned block is the caller's reference to it.
  HeldBlock make_end(layout::EndRole role);
  struct End;  // below
  // This holder's reference to the end `end` names, and to its channel.
  // Throws InvalidHandle.
  static End open_end(Holder& holder, Handle end);
  struct EndCounts {
    std::uint32_t senders, receivers;  // live ends
    bool senders_tracked, receivers_tracked;
  };
  EndCounts end_counts();

  // Closes the channel: senders get ChannelClosed from now on, receivers
  // drain what is pending and then get it. Wakes every waiter. Idempotent;
  // a poisoned channel stays poisoned.
  void close();

  // Poisons the channel: closes it at once for everyone. Pending items are
  // dropped (the slots' references released, so blocks nobody else holds
  // are freed) and every blocked or later send and receive, through any
  // holder in any process, throws ChannelPoisoned (a ChannelClosed). Wakes
  // every waiter and selector. Idempotent; poisoning a closed channel
  // drops what it still held.
  void poison();

  bool closed();    // closed or poisoned
  bool poisoned();
  std::uint64_t size();  // pending items
  std::uint32_t capacity() const { return capacity_; }

  // The outcome of select(): which channel, and the item taken from it
  // (a block, the channel's reference now the caller's, or an inline value).
  struct Selected {
    std::size_t index;
    Item item;
  };
  // Receives from whichever of `channels` has an item first, waiting up to
  // `timeout` while none has. Every channel must be of the same arena (by
  // name; InvalidArgument otherwise, or for an empty span). Each round
  // tries the channels without blocking, from index `start` (a random one
  // if nullopt, so that a busy channel cannot starve the others) round the
  // set; a channel reached that has ended (closed and drained, or
  // poisoned) is reported, not skipped: its ChannelClosed or
  // ChannelPoisoned propagates, with its index in `*ended` if given. With
  // nothing ready it sleeps on the arena's activity word in slices.
  // Throws WaitTimeout.
  static Selected select(std::span<Channel* const> channels, Timeout timeout = std::nullopt,
                         std::optional<std::size_t> start = std::nullopt, std::size_t* ended = nullptr);

  // The arena's activity word (ArenaHeader::activity_seq), for waiting
  // outside select() (the Python layer's async waker): it moves on every
  // send, receive, close and poison of any channel of `arena`. Read it
  // before trying a channel; if the try fails, wait_for_activity(seen) ends
  // at once should anything have happened since.
  static std::uint32_t activity(Arena& arena);
  // Sleeps, counted among the arena's selectors (so that senders and
  // receivers wake it), until the word differs from `seen`, or for at most
  // `timeout` capped at one sleep slice (10 ms: what a lost wake-up costs).
  // True if the word moved. Spurious returns are possible: callers look again.
  static bool wait_for_activity(Arena& arena, std::uint32_t seen, std::chrono::nanoseconds timeout);
  // Wakes every thread asleep in wait_for_activity or select() on `arena`,
  // in any process (they look again): for a waiter that must stop waiting now.
  static void wake_activity_waiters(Arena& arena);
  // For a futex wait on the word outside the core (an io_uring request an
  // event loop watches): counts the caller among the arena's selectors, so
  // every send, receive, close and poison wakes the word's futex, until
  // unwatch_activity. Returns the futex word. Count before reading the word
  // (the same announce-then-look as wait_for_activity).
  static std::uint32_t* watch_activity(Arena& arena);
  static void unwatch_activity(Arena& arena);

  // What a waiter outside the core wants of a channel, and whether the
  // channel could give it now, read without the lock (see Probe).
  enum class Want { receive, send };
  class Probe;
  // A probe of this channel, valid while the arena stays mapped; it reads
  // the block, so outliving this holder's reference makes it answer "may
  // be ready" (the block's generation no longer matches), never crash.
  Probe probe(Want want) const;

 private:
  Channel(Holder& holder, HeldBlock block);
  Arena& arena() const { return holder_->arena(); }
  layout::ChannelHeader* header() const;
  layout::ChildEntry* slots() const;
  const layout::ChannelHeader& checked_header() const;  // under the lock; throws CorruptArena

  enum class Attempt { done, would_block };
  enum class Waiter { sender, receiver };  // which ChannelHeader count the wait shows in
  // Puts `item` in a slot; `moving`, if given, is the caller's reference
  // to it, which moves into the slot instead of a new one being added.
  Attempt send_locked(Handle item, HeldBlock* moving = nullptr);
  // True when this channel is `item` or owns it already: sending `item`
  // here would make the channel own itself (channel_cycles.cpp).
  bool closes_cycle_locked(std::uint64_t item) const;
  Attempt send_inline_locked(InlineValue value);
  // Appends `entry` to the ring, or says the ring is full; throws once ended.
  Attempt append_locked(layout::ChildEntry entry);
  // Takes the oldest item into `out`; with blocks_only, an inline item is
  // left where it is and InvalidArgument thrown.
  Attempt recv_locked(Item& out, bool blocks_only);
  template <class Attempt_>
  void wait_until_done(Timeout timeout, Waiter who, const char* what, Attempt_ attempt);
  static void check_movable(const HeldBlock& item, const Arena& arena);
  // True when the channel looks open and empty, read without the lock.
  bool seen_open_and_empty() const;
  void wake_locked();    // bumps wake_seq: call with the lock held
  void wake_sleepers();  // wakes any sleeper: call after the lock is released
  void note_activity_locked();  // bumps the arena's activity_seq: with the lock held
  void wake_selectors();        // wakes any selector: after the lock is released
  // Waits until wake_seq moves from `seen` or a sleep slice or `deadline`
  // passes, spinning first if `spin_first` and another CPU could answer.
  // True if wake_seq moved: the channel is busy, spinning is worth it.
  bool wait_for_change(std::uint32_t seen, std::chrono::steady_clock::time_point deadline, Waiter who,
                       bool spin_first);

  Holder* holder_;
  HeldBlock block_;
  std::uint32_t capacity_;
  std::uint32_t options_;
  std::string name_;
};

// Whether a channel could serve a receive (an item is pending, or it has
// ended) or a send (a slot is free, or it has ended) now: false only when
// it certainly could not. For waiters that must not take the lock to decide
// whether to wake anyone: the Python layer's async waker looks at each
// awaited channel before waking a coroutine for nothing.
//
// Lossless when read after the arena's activity word: every change that
// makes a channel ready (send, receive, close, poison, ends gone) stores
// head, tail or state before it bumps the word (seq_cst). So a reader that
// loads the word and then finds the channel not ready will see the word
// move past what it loaded once the channel is ready.
class Channel::Probe {
 public:
  bool may_be_ready() const;

 private:
  friend class Channel;
  Probe(const layout::BlockHeader* block, std::uint64_t generation, layout::ChannelHeader* header, Want want)
      : block_(block), generation_(generation), header_(header), want_(want) {}

  const layout::BlockHeader* block_;
  std::uint64_t generation_;  // the channel's: another one means the block was freed
  layout::ChannelHeader* header_;
  Want want_;
};

// What Channel::open_end gives: one holder's view of an end.
struct Channel::End {
  Channel channel;  // the holder's own reference to the channel
  layout::EndRole role;
  HeldBlock end;    // the holder's reference to the end
};

}  // namespace shoal
