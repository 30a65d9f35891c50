// channel.cpp — bounded MPMC queue of handles in the arena. See
// shoal/channel.hpp.
//
// Ownership moves, step by step (all under the arena lock):
//   send:    write the slot, commit tail+1 (the slot now owns a reference),
//            raise the item's refcount.
//   receive: write a ledger entry for the receiver (commit: it owns the
//            reference), then commit head+1 (the slot no longer does). The
//            refcount does not change: the reference moved.
// A death between two steps leaves the reference owned twice or once;
// repair recounts from the owners (ledgers, object children, channel
// slots), and reaping the dead receiver drops its copy, so the item stays
// in the channel exactly once.
//   poison:  commit state = poisoned (the slots own nothing from then on),
//            then drop each pending item's reference, then head = tail. A
//            death halfway leaves refcounts too high; repair recounts
//            without the poisoned slots and frees what nobody owns.
//
// Inline items (a small value in the slot itself) own nothing: sending one
// commits tail+1, receiving one head+1, and no reference moves.
//
// select() sleeps on the arena's activity_seq, which every send, receive,
// close and poison bumps under the lock; selectors announce themselves in
// `selectors` (the same announce-then-recheck pair as channel waiters), so
// a send or receive pays a FUTEX_WAKE only while someone selects. Receives
// bump it for those who wait for room (the Python layer's asend, through
// wait_for_activity); a selector woken by one just looks again.
#include "shoal/channel.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <vector>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "core_internals.hpp"
#include "futex.hpp"
#include "shoal/errors.hpp"
#include "shoal/heap_format.hpp"
#include "spin.hpp"
#include "test_hooks.hpp"
#include "wait_policy.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::ChannelHeader;
using layout::ChannelState;
using layout::ChildEntry;

namespace {

using Clock = wait_policy::Clock;

constexpr std::uint32_t kMaxCapacity = 1u << 20;

// A call's deadline, read from the clock only once it is needed: the fast
// path (the first attempt succeeds) then takes no clock reading at all.
class Deadline {
 public:
  explicit Deadline(Channel::Timeout timeout) : timeout_(timeout) {}
  Clock::time_point get() {
    if (!known_) {
      at_ = timeout_ ? Clock::now() + *timeout_ : Clock::time_point::max();
      known_ = true;
    }
    return at_;
  }
  bool passed() {
    if (!timeout_) return false;
    const Clock::time_point at = get();
    return Clock::now() >= at;
  }

 private:
  Channel::Timeout timeout_;
  Clock::time_point at_{};
  bool known_ = false;
};

}  // namespace

namespace {

// The name stored after the slots, read once and bounded by the payload
// (a hostile or torn header gives no name, never a read out of bounds).
std::string read_name(const HeldBlock& block, std::uint32_t capacity) {
  const std::span<std::byte> payload = block.bytes();
  if (payload.size() < sizeof(ChannelHeader)) return {};
  const std::uint16_t bytes =
      std::atomic_ref<std::uint16_t>(reinterpret_cast<ChannelHeader*>(payload.data())->name_bytes).load(std::memory_order_relaxed);
  if (bytes == 0 || !layout::channel_name_fits(capacity, bytes, payload.size())) return {};
  std::string name(bytes, '\0');
  std::memcpy(name.data(), payload.data() + layout::channel_name_offset(capacity), bytes);
  return heap::is_valid_utf8(name) ? name : std::string{};
}

}  // namespace

Channel::Channel(Holder& holder, HeldBlock block)
    : holder_(&holder),
      block_(std::move(block)),
      capacity_(header()->capacity),
      options_(header()->options),
      name_(read_name(block_, capacity_)) {}

std::string Channel::describe() const {
  if (name_.empty()) return "channel " + to_string(block_.handle());
  return "channel '" + name_ + "' (" + to_string(block_.handle()) + ")";
}

ChannelHeader* Channel::header() const {
  return reinterpret_cast<ChannelHeader*>(arena().base() + block_.handle().offset +
                                          layout::kBlockHeaderBytes);
}

ChildEntry* Channel::slots() const { return reinterpret_cast<ChildEntry*>(header() + 1); }

Channel Channel::create(Holder& holder, std::uint32_t capacity, std::uint32_t options, std::string_view name,
                        std::uint32_t site) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    throw InvalidArgument("channel capacity " + std::to_string(capacity) + " is outside 1 .. " +
                          std::to_string(kMaxCapacity));
  }
  if (name.size() > layout::kMaxChannelName || !heap::is_valid_utf8(name)) {
    throw InvalidArgument("a channel name is UTF-8 of at most " + std::to_string(layout::kMaxChannelName) +
                          " bytes");
  }
  Arena& arena = holder.arena();
  const std::uint64_t bytes = layout::channel_name_offset(capacity) + name.size();
  ArenaLock lock(arena);
  // Allocated and initialised in one critical section: repair must never
  // see a channel block with a garbage header.
  HolderInternals::reserve_entry_locked(holder);
  std::uint64_t offset = 0;
  try {
    offset = ArenaInternals::blocks(arena).allocate(bytes, BlockKind::channel, holder.slot());
  } catch (const ArenaFull&) {
    HolderInternals::unreserve_locked(holder);
    throw;
  }
  auto* h = reinterpret_cast<ChannelHeader*>(arena.base() + offset + layout::kBlockHeaderBytes);
  std::memset(static_cast<void*>(h), 0, sizeof *h);
  h->capacity = capacity;
  h->options = options & layout::kChannelChecksum;  // no bits this version does not know
  h->name_bytes = static_cast<std::uint16_t>(name.size());
  if (!name.empty()) std::memcpy(reinterpret_cast<std::byte*>(h) + layout::channel_name_offset(capacity), name.data(), name.size());
  ArenaInternals::blocks(arena).header_at(offset)->site = site;
  return Channel(holder, HolderInternals::record_new_locked(holder, offset));
}

Channel Channel::open(Holder& holder, Handle channel) {
  HeldBlock block = holder.retain(channel);
  Arena& arena = holder.arena();
  ArenaLock lock(arena);
  const BlockHeader* b = ArenaInternals::blocks(arena).resolve(channel);
  if (b == nullptr || b->kind != static_cast<std::uint32_t>(BlockKind::channel)) {
    throw InvalidHandle("arena '" + arena.name() + "': handle " + to_string(channel) + " names no channel");
  }
  return Channel(holder, std::move(block));
}

const ChannelHeader& Channel::checked_header() const {
  const ChannelHeader* h = header();
  const BlockHeader* block = ArenaInternals::blocks(arena()).header_at(block_.handle().offset);
  if (!layout::channel_is_sane(*h, block->size - layout::kBlockHeaderBytes) || h->capacity != capacity_) {
    throw CorruptArena("arena '" + arena().name() + "': " + describe() +
                       " has inconsistent counters");
  }
  return *h;
}

namespace {

// Wakes everyone asleep on `word`. The kernel may queue whoever it woke on
// this CPU, behind us, with the other one idle (spin.hpp): if it woke
// anyone, we let them go first, so what we changed is acted on now rather
// than when we next wait. With nobody queued here the yield returns at once.
void wake_and_let_run(std::uint32_t* word) {
  if (futex::wake_all(word) > 0) spin::yield_cpu();
}

}  // namespace

void Channel::wake_sleepers() {
  if (std::atomic_ref<std::uint32_t>(header()->sleepers).load(std::memory_order_seq_cst) != 0) {
    wake_and_let_run(&header()->wake_seq);
  }
}

void Channel::wake_locked() {
  std::atomic_ref<std::uint32_t>(header()->wake_seq).fetch_add(1, std::memory_order_seq_cst);
}

void Channel::note_activity_locked() {
  std::atomic_ref<std::uint32_t>(ArenaInternals::header(arena())->activity_seq)
      .fetch_add(1, std::memory_order_seq_cst);
}

void Channel::wake_selectors() {
  layout::ArenaHeader* h = ArenaInternals::header(arena());
  if (std::atomic_ref<std::uint32_t>(h->selectors).load(std::memory_order_seq_cst) != 0) {
    wake_and_let_run(&h->activity_seq);
  }
}

namespace {

std::string ended_message(const std::string& channel, const ChannelHeader& h) {
  if (h.state == static_cast<std::uint32_t>(ChannelState::poisoned)) return channel + " is poisoned";
  switch (static_cast<layout::ChannelCloser>(std::atomic_ref(const_cast<ChannelHeader&>(h).closed_by).load(std::memory_order_relaxed))) {
    case layout::ChannelCloser::senders_gone:
      return channel + " is closed: every sender end was closed or its holder died, so no value will come";
    case layout::ChannelCloser::receivers_gone:
      return channel + " is closed: every receiver end was closed or its holder died, so no one would receive";
    default: return channel + " is closed";
  }
}

[[noreturn]] void throw_ended(const std::string& channel, const ChannelHeader& h) {
  if (h.state == static_cast<std::uint32_t>(ChannelState::poisoned)) throw ChannelPoisoned(ended_message(channel, h));
  throw ChannelClosed(ended_message(channel, h));
}

}  // namespace

Channel::Attempt Channel::append_locked(ChildEntry entry) {
  const ChannelHeader& h = checked_header();
  if (h.state != static_cast<std::uint32_t>(ChannelState::open)) throw_ended(describe(), h);
  if (h.tail - h.head == h.capacity) return Attempt::would_block;
  slots()[h.tail % h.capacity] = entry;
  std::atomic_ref(header()->tail).store(h.tail + 1, std::memory_order_release);  // commit: the item is in the channel
  test_hooks::reach(test_hooks::Point::send_after_commit);
  wake_locked();
  note_activity_locked();
  return Attempt::done;
}

Channel::Attempt Channel::send_locked(Handle item, HeldBlock* moving) {
  // An ended or full channel says so before the item is looked at.
  const ChannelHeader& h = checked_header();
  if (h.state != static_cast<std::uint32_t>(ChannelState::open)) throw_ended(describe(), h);
  if (h.tail - h.head == h.capacity) return Attempt::would_block;
  BlockHeader* target = ArenaInternals::blocks(arena()).resolve(item);
  if (target == nullptr || target->kind == static_cast<std::uint32_t>(BlockKind::ledger)) {
    throw InvalidHandle("arena '" + arena().name() + "': cannot send " + to_string(item) +
                        ": it names no live block");
  }
  if (closes_cycle_locked(item.offset)) {
    throw ReferenceCycle("arena '" + arena().name() + "': cannot send " + to_string(item) +
                         " into " + describe() +
                         ": it holds that channel (itself, or through values pending in channels), and a "
                         "channel that holds itself could never be freed");
  }
  // The slot owns a reference from its commit on; the refcount follows
  // (repair recounts if we die in between).
  if (append_locked(ChildEntry{item.offset, item.generation}) == Attempt::would_block) return Attempt::would_block;
  if (moving != nullptr) {
    HolderInternals::forget_locked(*moving);  // the reference moved: no refcount change
  } else if (!ArenaInternals::take_reference_locked(arena(), item)) {
    // A copy from a handle whose block its owner thread recycled since it
    // was resolved above (without the lock): the slot is taken back. No
    // one saw it: receivers take the lock.
    std::atomic_ref(header()->tail).store(header()->tail - 1, std::memory_order_release);
    throw InvalidHandle("arena '" + arena().name() + "': cannot send " + to_string(item) +
                        ": it names no live block");
  }
  // Sent: its bytes are final now.
  std::atomic_ref<std::uint16_t>(target->flags).fetch_or(layout::kFrozen, std::memory_order_release);
  return Attempt::done;
}

Channel::Attempt Channel::send_inline_locked(InlineValue value) {
  return append_locked(ChildEntry{static_cast<std::uint64_t>(value.tag), value.word});
}

Channel::Attempt Channel::recv_locked(Item& out, bool blocks_only) {
  const ChannelHeader& h = checked_header();
  // A poisoned channel may still show [head, tail) if its poisoner died
  // halfway: those slots own nothing.
  if (h.state == static_cast<std::uint32_t>(ChannelState::poisoned)) throw_ended(describe(), h);
  if (h.tail == h.head) {
    if (h.state == static_cast<std::uint32_t>(ChannelState::closed)) throw_ended(describe(), h);
    return Attempt::would_block;
  }
  const ChildEntry slot = slots()[h.head % h.capacity];
  if (layout::is_inline_item(slot)) {
    if (!layout::is_valid_inline_tag(slot.offset)) {
      throw CorruptArena("arena '" + arena().name() + "': " + describe() +
                         " holds an inline item of unknown tag " + std::to_string(slot.offset));
    }
    if (blocks_only) {
      throw InvalidArgument(describe() +
                            ": the next item is an inline value, which recv() cannot return (use receive())");
    }
    out.value = InlineValue{static_cast<layout::InlineTag>(slot.offset), slot.generation};
    std::atomic_ref(header()->head).store(h.head + 1, std::memory_order_release);  // commit: taken (the slot owned nothing)
    wake_locked();
    note_activity_locked();
    return Attempt::done;
  }
  if (ArenaInternals::blocks(arena()).resolve(Handle{slot.offset, slot.generation}) == nullptr) {
    throw CorruptArena("arena '" + arena().name() + "': " + describe() +
                       " holds an item that names no live block");
  }
  HolderInternals::reserve_entry_locked(*holder_);
  out.block = HolderInternals::record_locked(*holder_, slot.offset, /*take_over=*/true);  // commit: the receiver owns it
  std::atomic_ref(header()->head).store(h.head + 1, std::memory_order_release);  // commit: the slot does not
  wake_locked();
  note_activity_locked();
  return Attempt::done;
}

bool Channel::wait_for_change(std::uint32_t seen, Clock::time_point deadline, Waiter who, bool spin_first) {
  // Counted for `shoal channels` while this thread waits, spinning or asleep.
  std::atomic_ref<std::uint32_t> waiting(who == Waiter::sender ? header()->blocked_senders
                                                                : header()->blocked_receivers);
  waiting.fetch_add(1, std::memory_order_relaxed);
  struct Uncount {
    std::atomic_ref<std::uint32_t>& count;
    ~Uncount() { count.fetch_sub(1, std::memory_order_relaxed); }
  } uncount{waiting};
  std::atomic_ref<std::uint32_t> seq(header()->wake_seq);
  if (spin_first && spin::worthwhile()) {
    test_hooks::reach(test_hooks::Point::wait_spins);
    if (wait_policy::spin([&] { return seq.load(std::memory_order_acquire) != seen; }, deadline)) return true;
  }
  // Announce the sleep, then re-check: either the waker sees us counted or
  // we see its bump (both sides use sequentially consistent operations).
  std::atomic_ref<std::uint32_t> sleepers(header()->sleepers);
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  if (seq.load(std::memory_order_seq_cst) == seen) {
    futex::wait(&header()->wake_seq, seen, wait_policy::next_sleep(deadline));
  }
  sleepers.fetch_sub(1, std::memory_order_seq_cst);
  return seq.load(std::memory_order_acquire) != seen;
}

namespace {

// The channel (its header) this thread last waited on until it timed out
// with nothing changing: its next wait there starts asleep too. Long waits
// arrive as a series of timed waits (the Python layer cuts them into 50 ms
// slices to notice Ctrl-C), and each would otherwise spin 50 us first.
thread_local const void* t_quiet_channel = nullptr;

}  // namespace

// Runs attempt() under the lock until it is done, sleeping on the channel
// between tries; wakes whoever waits for what it changed.
template <class Attempt_>
void Channel::wait_until_done(Timeout timeout, Waiter who, const char* what, Attempt_ attempt) {
  Deadline deadline(timeout);
  // Spin before sleeping only while the channel is busy: once a whole
  // sleep slice passed with nothing changed, a waiter that spun 50 us after
  // every 10 ms slice would burn 0.5% of a CPU for as long as it waits.
  bool spin_first = t_quiet_channel != header();
  for (;;) {
    std::uint32_t seen = 0;
    {
      ArenaLock lock(arena());
      if (attempt() == Attempt::done) break;
      seen = std::atomic_ref<std::uint32_t>(header()->wake_seq).load(std::memory_order_relaxed);
    }
    if (deadline.passed()) {
      t_quiet_channel = spin_first ? nullptr : header();
      throw WaitTimeout(describe() + ": " + what +
                        (who == Waiter::sender ? " timed out (full)" : " timed out (empty)"));
    }
    spin_first = wait_for_change(seen, deadline.get(), who, spin_first);
  }
  t_quiet_channel = nullptr;
  wake_sleepers();
  wake_selectors();
}

void Channel::send(Handle item, Timeout timeout) {
  wait_until_done(timeout, Waiter::sender, "send", [&] { return send_locked(item); });
}

// The caller's reference can move only within this arena, and only from
// the process that holds it.
void Channel::check_movable(const HeldBlock& item, const Arena& arena) {
  if (!item) throw InvalidArgument("cannot send an empty HeldBlock");
  if (&item.holder()->arena() != &arena || !HolderInternals::usable_here(*item.holder())) {
    throw InvalidArgument("a HeldBlock can move only into a channel of its own arena, in its own process");
  }
}

void Channel::send(HeldBlock&& item, Timeout timeout) {
  check_movable(item, arena());
  wait_until_done(timeout, Waiter::sender, "send", [&] { return send_locked(item.handle(), &item); });
}

namespace {

void check_inline(const Channel::InlineValue& value) {
  if (!layout::is_valid_inline_tag(static_cast<std::uint64_t>(value.tag))) {
    throw InvalidArgument("inline tag " + std::to_string(static_cast<std::uint64_t>(value.tag)) + " is not one of 1 .. " +
                          std::to_string(layout::kMaxInlineTag));
  }
}

}  // namespace

void Channel::send_inline(InlineValue value, Timeout timeout) {
  check_inline(value);
  wait_until_done(timeout, Waiter::sender, "send", [&] { return send_inline_locked(value); });
}

bool Channel::try_send_inline(InlineValue value) {
  check_inline(value);
  {
    ArenaLock lock(arena());
    if (send_inline_locked(value) == Attempt::would_block) return false;
  }
  wake_sleepers();
  wake_selectors();
  return true;
}

bool Channel::try_send(HeldBlock&& item) {
  check_movable(item, arena());
  {
    ArenaLock lock(arena());
    if (send_locked(item.handle(), &item) == Attempt::would_block) return false;
  }
  wake_sleepers();
  wake_selectors();
  return true;
}

bool Channel::try_send(Handle item) {
  {
    ArenaLock lock(arena());
    if (send_locked(item) == Attempt::would_block) return false;
  }
  wake_sleepers();
  wake_selectors();
  return true;
}

Channel::Item Channel::receive(Timeout timeout) {
  Item out;
  wait_until_done(timeout, Waiter::receiver, "recv", [&] { return recv_locked(out, /*blocks_only=*/false); });
  return out;
}

bool Channel::seen_open_and_empty() const {
  // Without the lock: head, tail and state are stored atomically by the
  // lock holder. A stale answer is one a moment early, as if this call had
  // come a moment earlier; anything else takes the lock and looks again.
  ChannelHeader* h = header();
  const auto state = std::atomic_ref(h->state).load(std::memory_order_acquire);
  const auto tail = std::atomic_ref(h->tail).load(std::memory_order_acquire);
  const auto head = std::atomic_ref(h->head).load(std::memory_order_acquire);
  return state == static_cast<std::uint32_t>(ChannelState::open) && head == tail;
}

Channel::Probe Channel::probe(Want want) const {
  return Probe(ArenaInternals::blocks(arena()).header_at(block_.handle().offset), block_.handle().generation,
               header(), want);
}

bool Channel::Probe::may_be_ready() const {
  // A freed (maybe reused) block: let the caller try, and find out.
  const auto generation =
      std::atomic_ref(const_cast<BlockHeader*>(block_)->generation).load(std::memory_order_acquire);
  if (generation != generation_) return true;
  const auto state = std::atomic_ref(header_->state).load(std::memory_order_acquire);
  if (state != static_cast<std::uint32_t>(ChannelState::open)) return true;  // ended: the try raises
  std::atomic_ref head(header_->head);
  std::atomic_ref tail(header_->tail);
  if (want_ == Want::receive) {
    const auto sent = tail.load(std::memory_order_acquire);
    return head.load(std::memory_order_acquire) != sent;  // a receive in between: "maybe", harmless
  }
  // Head first: the tail read after it is at least as far on, so the
  // difference never wraps (it may overstate how full: the next bump of
  // the activity word corrects that).
  const auto received = head.load(std::memory_order_acquire);
  return tail.load(std::memory_order_acquire) - received < header_->capacity;
}

std::optional<Channel::Item> Channel::try_receive() {
  // A receiver polling an empty channel must not take the lock every time:
  // it would hold up the very sender it waits for.
  if (seen_open_and_empty()) return std::nullopt;
  Item out;
  {
    ArenaLock lock(arena());
    if (recv_locked(out, /*blocks_only=*/false) == Attempt::would_block) return std::nullopt;
  }
  wake_sleepers();
  wake_selectors();
  return out;
}

HeldBlock Channel::recv(Timeout timeout) {
  Item out;
  wait_until_done(timeout, Waiter::receiver, "recv", [&] { return recv_locked(out, /*blocks_only=*/true); });
  return std::move(out.block);
}

std::optional<HeldBlock> Channel::try_recv() {
  if (seen_open_and_empty()) return std::nullopt;
  Item out;
  {
    ArenaLock lock(arena());
    if (recv_locked(out, /*blocks_only=*/true) == Attempt::would_block) return std::nullopt;
  }
  wake_sleepers();
  wake_selectors();
  return std::move(out.block);
}

void Channel::close() {
  {
    ArenaLock lock(arena());
    if (checked_header().state == static_cast<std::uint32_t>(ChannelState::open)) {
      std::atomic_ref(header()->state).store(static_cast<std::uint32_t>(ChannelState::closed), std::memory_order_release);
    }
    wake_locked();
    note_activity_locked();
  }
  wake_and_let_run(&header()->wake_seq);
  wake_selectors();
}

void Channel::poison() {
  {
    Arena& arena = this->arena();
    ArenaLock lock(arena);
    const ChannelHeader& h = checked_header();
    if (h.state != static_cast<std::uint32_t>(ChannelState::poisoned)) {
      // What the slots own, by the same definition repair and release use.
      const std::vector<std::uint64_t> pending = ArenaInternals::owned_children_locked(arena, block_.handle().offset);
      const std::uint64_t tail = h.tail;
      // commit: the slots own nothing
      std::atomic_ref(header()->state).store(static_cast<std::uint32_t>(ChannelState::poisoned), std::memory_order_release);
      for (std::size_t i = 0; i < pending.size(); ++i) {
        ArenaInternals::drop_reference_locked(arena, pending[i]);
        if (i == 0) test_hooks::reach(test_hooks::Point::poison_mid_drop);
      }
      // cosmetic: nothing is pending (channel_pending says so already)
      std::atomic_ref(header()->head).store(tail, std::memory_order_release);
    }
    wake_locked();
    note_activity_locked();
  }
  wake_and_let_run(&header()->wake_seq);
  wake_selectors();
}

bool Channel::closed() {
  ArenaLock lock(arena());
  return checked_header().state != static_cast<std::uint32_t>(ChannelState::open);
}

bool Channel::poisoned() {
  ArenaLock lock(arena());
  return checked_header().state == static_cast<std::uint32_t>(ChannelState::poisoned);
}

std::uint64_t Channel::size() {
  ArenaLock lock(arena());
  return layout::channel_pending(checked_header());
}

Channel::Selected Channel::select(std::span<Channel* const> channels, Timeout timeout,
                                  std::optional<std::size_t> start, std::size_t* ended) {
  if (channels.empty()) throw InvalidArgument("select() needs at least one channel");
  Arena& arena = channels[0]->arena();
  for (const Channel* c : channels) {
    if (&c->arena() != &arena && c->arena().name() != arena.name()) {
      throw InvalidArgument("select() needs channels of one arena; got '" + arena.name() + "' and '" +
                            c->arena().name() + "'");
    }
  }
  if (!start) {
    thread_local std::minstd_rand random{std::random_device{}()};
    start = random();
  }
  const std::size_t n = channels.size();
  const std::size_t first = *start % n;
  Deadline deadline(timeout);
  for (;;) {
    // Noted before the round: a send after it changes the word, so the
    // sleep below returns at once instead of missing the item.
    const std::uint32_t seen = activity(arena);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (first + k) % n;
      try {
        if (std::optional<Item> item = channels[i]->try_receive()) return Selected{i, std::move(*item)};
      } catch (const ChannelClosed&) {
        if (ended != nullptr) *ended = i;
        throw;
      }
    }
    const auto now = Clock::now();
    if (now >= deadline.get()) throw WaitTimeout("select() timed out: none of " + std::to_string(n) + " channels was ready");
    wait_for_activity(arena, seen, wait_policy::next_sleep(deadline.get()));
  }
}

std::uint32_t Channel::activity(Arena& arena) {
  return std::atomic_ref<std::uint32_t>(ArenaInternals::header(arena)->activity_seq).load(std::memory_order_seq_cst);
}

void Channel::wake_activity_waiters(Arena& arena) { futex::wake_all(&ArenaInternals::header(arena)->activity_seq); }

std::uint32_t* Channel::watch_activity(Arena& arena) {
  layout::ArenaHeader* h = ArenaInternals::header(arena);
  std::atomic_ref<std::uint32_t>(h->selectors).fetch_add(1, std::memory_order_seq_cst);
  return &h->activity_seq;
}

void Channel::unwatch_activity(Arena& arena) {
  std::atomic_ref<std::uint32_t>(ArenaInternals::header(arena)->selectors).fetch_sub(1, std::memory_order_seq_cst);
}

bool Channel::wait_for_activity(Arena& arena, std::uint32_t seen, std::chrono::nanoseconds timeout) {
  layout::ArenaHeader* h = ArenaInternals::header(arena);
  std::atomic_ref<std::uint32_t> activity(h->activity_seq);
  std::atomic_ref<std::uint32_t> selectors(h->selectors);
  // Announce, then re-check (see wake_selectors); never longer than one
  // slice (wait_policy.hpp): a lost wake-up costs that much, no more.
  selectors.fetch_add(1, std::memory_order_seq_cst);
  if (activity.load(std::memory_order_seq_cst) == seen) {
    futex::wait(&h->activity_seq, seen, std::min<std::chrono::nanoseconds>(timeout, wait_policy::kSleepSlice));
  }
  selectors.fetch_sub(1, std::memory_order_seq_cst);
  return activity.load(std::memory_order_seq_cst) != seen;
}

}  // namespace shoal
