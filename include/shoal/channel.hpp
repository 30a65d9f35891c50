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
// A Channel object is this holder's reference to the channel block; make
// one per holder (Channel::open with the same handle).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "shoal/handle.hpp"
#include "shoal/holder.hpp"

namespace shoal {

class Channel {
 public:
  using Timeout = std::optional<std::chrono::nanoseconds>;  // nullopt: wait for ever

  // A new, empty channel of `capacity` slots (1 .. 1,048,576).
  static Channel create(Holder& holder, std::uint32_t capacity);
  // This holder's own reference to an existing channel. Throws InvalidHandle.
  static Channel open(Holder& holder, Handle channel);

  Handle handle() const { return block_.handle(); }

  // Puts a new reference to `item` in the channel (the caller keeps its own),
  // waiting while the channel is full. Throws ChannelClosed, WaitTimeout,
  // InvalidHandle (item not live).
  void send(Handle item, Timeout timeout = std::nullopt);
  // As send(), but returns false at once when the channel is full.
  bool try_send(Handle item);

  // As above, but moves the caller's reference into the channel instead of
  // adding one: on success `item` is left empty (one lock round trip and no
  // refcount change, where send(handle) plus a release takes two). On
  // failure `item` still holds its reference.
  void send(HeldBlock& item, Timeout timeout = std::nullopt);
  bool try_send(HeldBlock& item);

  // Takes the oldest item, waiting while the channel is empty: the
  // channel's reference becomes the caller's. Throws ChannelClosed once the
  // channel is closed and drained, WaitTimeout.
  HeldBlock recv(Timeout timeout = std::nullopt);
  // As recv(), but returns nullopt at once when the channel is empty.
  std::optional<HeldBlock> try_recv();

  // Closes the channel: senders get ChannelClosed from now on, receivers
  // drain what is pending and then get it. Wakes every waiter. Idempotent.
  void close();

  bool closed();
  std::uint64_t size();  // pending items
  std::uint32_t capacity() const { return capacity_; }

 private:
  Channel(Holder& holder, HeldBlock block);
  layout::ChannelHeader* header() const;
  layout::ChildEntry* slots() const;
  const layout::ChannelHeader& checked_header() const;  // under the lock; throws CorruptArena

  enum class Attempt { done, would_block };
  // Puts `item` in a slot; `moving`, if given, is the caller's reference
  // to it, which moves into the slot instead of a new one being added.
  Attempt send_locked(Handle item, HeldBlock* moving = nullptr);
  Attempt recv_locked(HeldBlock& out);
  static void check_movable(const HeldBlock& item, const Arena& arena);
  void wake_locked();    // bumps wake_seq: call with the lock held
  void wake_sleepers();  // wakes any sleeper: call after the lock is released
  enum class Waiter { sender, receiver };  // which ChannelHeader count the wait shows in
  void wait_for_change(std::uint32_t seen, std::chrono::steady_clock::time_point deadline, Waiter who);

  Holder* holder_;
  HeldBlock block_;
  std::uint32_t capacity_;
};

}  // namespace shoal
