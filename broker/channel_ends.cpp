// channel_ends.cpp — a channel's ends: making one, and closing the channel
// when the last end of a role is gone.
//
// An end is a block of kind channel_end (layout_channel.hpp, ChannelEnd)
// that owns one reference on its channel. Whoever holds the end (a
// holder's ledger entry, a pickle in flight, a value pending in a channel)
// owns a reference on it, so the end lives exactly as long as someone may
// still use it. When its last reference goes (every copy closed, or the
// holders that had one reaped after they died) the end is freed and, in
// the same critical section, counted out of its channel here. The channel
// closes when a tracked role's count reaches 0: receivers drain what is
// pending and then get ChannelClosed, senders get it at once, and the
// error says why (ChannelHeader::closed_by). With the last receiver gone,
// what is pending can never be received, and is dropped then.
//
// Crash safety: the counts are derived. Repair recounts them from the live
// end blocks and closes what a dead lock owner should have closed
// (recount_channel_ends_locked), so a death between an end's free and its
// channel's count leaves nothing repair cannot redo.
#include <atomic>
#include <cstring>
#include <unordered_map>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "core_internals.hpp"
#include "futex.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::ChannelEnd;
using layout::ChannelHeader;
using layout::ChannelState;
using layout::EndRole;

namespace {

std::uint32_t* count_of(ChannelHeader& channel, EndRole role) {
  return role == EndRole::sender ? &channel.senders : &channel.receivers;
}

std::uint8_t tracked_bit(EndRole role) {
  return role == EndRole::sender ? layout::kSendersTracked : layout::kReceiversTracked;
}

// The end in the used block at `offset`, copied out and checked; nullopt
// when malformed (only a corrupt arena has one; the check reports it).
std::optional<ChannelEnd> read_end(const BlockHeap& heap, const std::byte* base, std::uint64_t offset) {
  const BlockHeader* block = heap.header_at(offset);
  const std::uint64_t payload_bytes = block->size - layout::kBlockHeaderBytes;
  ChannelEnd end;
  if (payload_bytes < sizeof end) return std::nullopt;
  std::memcpy(&end, base + offset + layout::kBlockHeaderBytes, sizeof end);
  if (!layout::channel_end_is_sane(end, payload_bytes)) return std::nullopt;
  return end;
}

// The channel an end names, if it is a live, sane channel block.
ChannelHeader* channel_named(const BlockHeap& heap, std::byte* base, const ChannelEnd& end) {
  const BlockHeader* block = heap.resolve(Handle{end.channel.offset, end.channel.generation});
  if (block == nullptr || block->kind != static_cast<std::uint32_t>(BlockKind::channel)) return nullptr;
  auto* channel = reinterpret_cast<ChannelHeader*>(base + end.channel.offset + layout::kBlockHeaderBytes);
  ChannelHeader copy;
  std::memcpy(&copy, channel, sizeof copy);
  return layout::channel_is_sane(copy, block->size - layout::kBlockHeaderBytes) ? channel : nullptr;
}

// Closes `channel` for `why`, if it is still open, and wakes everyone who
// waits on it or selects. Rare (once per channel), so the wake-ups are
// done here, under the lock, rather than handed back to every caller.
void close_for_ends_locked(layout::ArenaHeader* arena, ChannelHeader* channel, layout::ChannelCloser why) {
  if (std::atomic_ref(channel->state).load(std::memory_order_relaxed) != static_cast<std::uint32_t>(ChannelState::open)) {
    return;
  }
  std::atomic_ref(channel->closed_by).store(static_cast<std::uint8_t>(why), std::memory_order_relaxed);
  std::atomic_ref(channel->state).store(static_cast<std::uint32_t>(ChannelState::closed), std::memory_order_release);
  std::atomic_ref(channel->wake_seq).fetch_add(1, std::memory_order_seq_cst);
  std::atomic_ref(arena->activity_seq).fetch_add(1, std::memory_order_seq_cst);
  futex::wake_all(&channel->wake_seq);
  futex::wake_all(&arena->activity_seq);
}

// Nobody can receive what is pending in `channel` (at `offset`) any more:
// it goes now, as Trio's memory channels drop their buffer, rather than
// when the channel itself goes (its senders may hold it for long). The
// same order as poison(): the slots are disowned in one commit (head =
// tail), then each reference dropped; a death in between leaves items no
// one owns, which repair frees.
void drop_undeliverable_locked(Arena& arena, std::uint64_t offset, ChannelHeader* channel) {
  const std::vector<std::uint64_t> pending = ArenaInternals::owned_children_locked(arena, offset);
  std::atomic_ref(channel->head).store(channel->tail, std::memory_order_release);  // commit: the slots own nothing
  for (std::size_t i = 0; i < pending.size(); ++i) {
    ArenaInternals::drop_reference_locked(arena, pending[i]);
    if (i == 0) test_hooks::reach(test_hooks::Point::ends_mid_drop);
  }
}

layout::ChannelCloser closer_for(EndRole role) {
  return role == EndRole::sender ? layout::ChannelCloser::senders_gone : layout::ChannelCloser::receivers_gone;
}

}  // namespace

HeldBlock Channel::make_end(EndRole role) {
  if (role != EndRole::sender && role != EndRole::receiver) throw InvalidArgument("a channel end is a sender or a receiver");
  Arena& arena = this->arena();
  BlockHeap& heap = ArenaInternals::blocks(arena);
  ArenaLock lock(arena);
  checked_header();
  // Allocated, filled and counted in one critical section; a death
  // halfway leaves an end repair either counts or frees.
  HolderInternals::reserve_entry_locked(*holder_);
  std::uint64_t offset = 0;
  try {
    offset = heap.allocate(sizeof(ChannelEnd), BlockKind::channel_end, holder_->slot());
  } catch (const ArenaFull&) {
    HolderInternals::unreserve_locked(*holder_);
    throw;
  }
  const ChannelEnd end{layout::kChannelEndMagic, static_cast<std::uint32_t>(role),
                       layout::ChildEntry{block_.handle().offset, block_.handle().generation}};
  std::memcpy(arena.base() + offset + layout::kBlockHeaderBytes, &end, sizeof end);
  ArenaInternals::add_held_reference_locked(heap.header_at(block_.handle().offset));  // the end owns its channel
  ChannelHeader* h = header();
  h->ends_tracked |= tracked_bit(role);
  ++*count_of(*h, role);
  return HolderInternals::record_new_locked(*holder_, offset);
}

Channel::End Channel::open_end(Holder& holder, Handle end) {
  HeldBlock held = holder.retain(end);
  Arena& arena = holder.arena();
  std::optional<ChannelEnd> read;
  {
    ArenaLock lock(arena);
    const BlockHeader* b = ArenaInternals::blocks(arena).resolve(end);
    if (b != nullptr && b->kind == static_cast<std::uint32_t>(BlockKind::channel_end)) {
      read = read_end(ArenaInternals::blocks(arena), arena.base(), end.offset);
    }
  }
  if (!read) throw InvalidHandle("arena '" + arena.name() + "': handle " + to_string(end) + " names no channel end");
  // The end owns a reference on the channel, so it is live while we hold the end.
  Channel channel = open(holder, Handle{read->channel.offset, read->channel.generation});
  return End{std::move(channel), static_cast<EndRole>(read->role), std::move(held)};
}

Channel::EndCounts Channel::end_counts() {
  ArenaLock lock(arena());
  const ChannelHeader& h = checked_header();
  return EndCounts{h.senders, h.receivers, (h.ends_tracked & layout::kSendersTracked) != 0,
                   (h.ends_tracked & layout::kReceiversTracked) != 0};
}

void Arena::channel_end_gone_locked(std::uint64_t offset) {
  const std::optional<ChannelEnd> end = read_end(*heap_, base_, offset);
  if (!end) return;
  ChannelHeader* channel = channel_named(*heap_, base_, *end);
  if (channel == nullptr) return;
  const auto role = static_cast<EndRole>(end->role);
  // Each field read once, from shared memory, and judged from that copy.
  std::uint32_t* count = count_of(*channel, role);
  const std::uint32_t before = *count;
  const bool tracked = (channel->ends_tracked & tracked_bit(role)) != 0;
  if (before == 0) return;  // only a corrupt arena gets here; repair recounts
  *count = before - 1;
  test_hooks::reach(test_hooks::Point::end_after_count);
  if (before == 1 && tracked) {
    close_for_ends_locked(header(), channel, closer_for(role));
    if (role == EndRole::receiver) drop_undeliverable_locked(*this, end->channel.offset, channel);
  }
}

void Arena::recount_channel_ends_locked() {
  struct Counts {
    std::uint32_t senders = 0;
    std::uint32_t receivers = 0;
  };
  std::unordered_map<ChannelHeader*, Counts> counts;
  layout::ArenaHeader* h = header();
  for (std::uint64_t at = h->heap_begin; at < h->heap_end; at += heap_->header_at(at)->size) {
    BlockHeader* block = heap_->header_at(at);
    if (block->state != static_cast<std::uint32_t>(layout::BlockState::used)) continue;
    // (A holder's recycler may be storing a raw block's kind meanwhile.)
    const std::uint32_t kind = std::atomic_ref(block->kind).load(std::memory_order_relaxed);
    if (kind == static_cast<std::uint32_t>(BlockKind::channel)) {
      // Every sane channel is recounted, those with no end left too.
      const layout::ChildEntry self{at, std::atomic_ref(block->generation).load(std::memory_order_relaxed)};
      if (ChannelHeader* channel = channel_named(*heap_, base_, ChannelEnd{layout::kChannelEndMagic, 0, self})) {
        counts.try_emplace(channel);
      }
      continue;
    }
    if (kind != static_cast<std::uint32_t>(BlockKind::channel_end)) continue;
    const std::optional<ChannelEnd> end = read_end(*heap_, base_, at);
    ChannelHeader* channel = end ? channel_named(*heap_, base_, *end) : nullptr;
    if (channel == nullptr) continue;
    Counts& c = counts[channel];
    (end->role == static_cast<std::uint32_t>(EndRole::sender) ? c.senders : c.receivers) += 1;
    channel->ends_tracked |= tracked_bit(static_cast<EndRole>(end->role));  // a maker killed before it set the bit
  }
  for (auto& [channel, c] : counts) {
    channel->senders = c.senders;
    channel->receivers = c.receivers;
    // What a lock owner killed after counting the last end out did not close.
    if ((channel->ends_tracked & layout::kSendersTracked) != 0 && c.senders == 0) {
      close_for_ends_locked(h, channel, layout::ChannelCloser::senders_gone);
    } else if ((channel->ends_tracked & layout::kReceiversTracked) != 0 && c.receivers == 0) {
      close_for_ends_locked(h, channel, layout::ChannelCloser::receivers_gone);
    }
  }
}

}  // namespace shoal
