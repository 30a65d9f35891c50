// check.cpp — the arena's whole-structure validator.
//
// check_image() reads an arena image and lists every broken invariant:
//   * the header: magic, layout version, geometry;
//   * the chain: every block tagged, sized in multiples of 64 within the
//     heap, prev_size right, its bitmap bit set, no two free blocks adjacent;
//   * the bitmap: exactly one bit per block start;
//   * the free lists: each free block listed once, in its size class, with
//     consistent back links, and the class mask matching;
//   * the statistics: used bytes and block counts;
//   * array blobs: only blobs carry the kArrayBlob flag (or cached blocks,
//     which keep their last life's flags), and each one's array header
//     checks out against its payload (ArenaImage::array_blob, by
//     parse_array_blob's rules, as a receiver would check it);
//   * ownership: every refcount equals its owners (ledger entries, in-flight entries, parent
//     objects' child tables, channels' pending slots and channel ends naming
//     that block; a poisoned channel's slots own nothing, whatever head and
//     tail say),
//     no used block without an owner (a leak), every ledger entry names a
//     live block, every ledger block belongs to exactly one active holder,
//     and each holder's totals add up;
//   * intents and the gate: a free holder slot's intent is idle, every
//     intent's operation is known, and the lock-free gate is open whenever
//     nobody holds the lock;
//   * channel ends: each channel's sender and receiver counts equal the
//     ends naming it, and a channel whose last end of a tracked role is
//     gone is closed;
//   * reachability: every used block is owned, directly or through objects
//     and channels, by a holder or an in-flight reference; one that only
//     other blocks own in a ring (a channel holding itself) is reported, as
//     nothing could ever free it.
//
// It trusts nothing: it reads through ArenaImage (shoal/arena_image.hpp),
// which bounds every offset before it is followed and copies every
// structure out before use, and every loop is bounded by the heap size, so
// a corrupt or changing image yields problems, never a crash or a hang.
// Each structure's own rules are the image's; this file cross-checks them.
#include <algorithm>
#include <array>
#include <functional>
#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "block_heap.hpp"
#include "shoal/arena.hpp"
#include "shoal/arena_image.hpp"
#include "shoal/array_blob.hpp"
#include "shoal/sites.hpp"

namespace shoal {

using layout::ArenaHeader;
using layout::BlockHeader;
using layout::BlockKind;
using layout::BlockState;
using layout::FreeLinks;
using layout::HolderSlot;
using layout::LedgerChunk;
using layout::LedgerEntry;

namespace {

constexpr std::size_t kMaxProblems = 100;

struct BlockRecord {
  ArenaImage::Block block;  // its header as the chain walk copied it
  const BlockHeader& header() const { return block.header; }
  std::uint32_t owners = 0;  // ledger entries naming it
  bool listed = false;       // seen in a free list
  bool ledger_owned = false; // a ledger block linked from an active holder
  bool rooted = false;       // owned by a ledger entry or an in-flight reference
  bool recyclable = false;   // owned by a recyclable ledger entry (generation 0)
};

class Checker {
 public:
  Checker(const std::byte* base, std::uint64_t bytes) : image_(base, bytes) {}

  std::vector<std::string> run() {
    if (!check_header()) return problems_;
    check_sites();
    check_gate();
    walk_chain();
    check_bitmap();
    check_free_lists();
    check_statistics();
    check_array_headers();
    check_ownership();
    return problems_;
  }

 private:
  void problem(std::string text) {
    if (problems_.size() < kMaxProblems) problems_.push_back(std::move(text));
  }

  bool check_header() {
    if (!image_.is_valid()) {
      problem(image_.error());
      return false;
    }
    return true;
  }

  // The lock-free gate is closed only inside a locked section (quiescence.hpp):
  // closed while mutation_seq stayed even around the look, it was left so.
  void check_gate() {
    const std::uint64_t before = SHOAL_HEADER_FIELD(image_, mutation_seq);
    const std::uint32_t gate = SHOAL_HEADER_FIELD(image_, lf_gate);
    const std::uint64_t after = SHOAL_HEADER_FIELD(image_, mutation_seq);
    if (gate != 0 && before == after && before % 2 == 0) {
      problem("gate: the lock-free gate is closed (by pid " + std::to_string(gate) + ") but nobody holds the lock");
    }
  }

  // The site table decodes cleanly (a record past `used` is not part of it).
  void check_sites() {
    const SiteTable table = image_.sites();
    if (!table.error.empty()) problem("sites: " + table.error);
    site_count_ = table.sites.size();
  }

  void walk_chain() {
    std::uint64_t prev_offset = 0;
    bool prev_free = false;
    const auto broken = image_.walk([&](const ArenaImage::Block& b) {
      const BlockHeader& block = b.header;
      const std::uint64_t at = b.offset;
      const std::string where = "block " + std::to_string(at);
      const bool is_free = b.free();
      if (!is_free && !b.used()) problem("chain: " + where + " has unknown state " + std::to_string(block.state));
      if (block.prev_size != (prev_offset == 0 ? 0 : at - prev_offset)) {
        problem("chain: " + where + " records prev_size " + std::to_string(block.prev_size));
      }
      if (!image_.bitmap_bit(at)) problem("bitmap: no bit for " + where);
      if (is_free && prev_free) problem("chain: " + where + " and the block before it are both free (unmerged)");
      if (!is_free) {  // used, or of unknown state: counted as used, as the core's statistics would
        if (block.kind == 0 || block.kind >= layout::kBlockKindCount) {
          problem("chain: used " + where + " has unknown kind " + std::to_string(block.kind));
        }
        if (block.requested > b.payload_bytes()) problem("chain: " + where + " asks for more than it holds");
        if (block.site > site_count_) {
          problem("sites: " + where + " names site " + std::to_string(block.site) + ", the table has " +
                  std::to_string(site_count_));
        }
        used_bytes_ += block.size;
        ++used_blocks_;
      } else {
        ++free_blocks_;
      }
      blocks_.emplace(at, BlockRecord{b});
      prev_offset = at;
      prev_free = is_free;
    });
    if (broken) problem("chain: block " + std::to_string(broken->offset) + " " + broken->what);
  }

  void check_bitmap() {
    const std::uint64_t bits = image_.bitmap_bits_set();
    if (bits != blocks_.size()) {
      problem("bitmap: " + std::to_string(bits) + " block-start bits for " + std::to_string(blocks_.size()) +
              " blocks");
    }
  }

  void check_free_lists() {
    std::uint64_t listed = 0;
    const auto mask = image_.copy<std::array<std::uint64_t, layout::kClassMaskWords>>(offsetof(ArenaHeader, class_mask));
    const auto heads = image_.copy<std::array<std::uint64_t, layout::kSizeClasses>>(offsetof(ArenaHeader, free_heads));
    for (std::uint32_t c = 0; c < layout::kSizeClasses; ++c) {
      const bool mask_bit = (mask[c / 64] >> (c % 64)) & 1u;
      if (mask_bit != (heads[c] != 0)) problem("free lists: class mask wrong for class " + std::to_string(c));
      std::uint64_t prev = 0;
      for (std::uint64_t at = heads[c]; at != 0;) {
        const auto found = blocks_.find(at);
        if (found == blocks_.end()) {
          problem("free lists: class " + std::to_string(c) + " links to " + std::to_string(at) +
                  ", which is not a block");
          break;
        }
        BlockRecord& record = found->second;
        if (!record.block.free()) {
          problem("free lists: used block " + std::to_string(at) + " is listed as free");
        }
        if (record.listed) {
          problem("free lists: block " + std::to_string(at) + " is listed twice (cycle?)");
          break;
        }
        record.listed = true;
        ++listed;
        if (BlockHeap::size_class(record.header().size) != c) {
          problem("free lists: block " + std::to_string(at) + " is in class " + std::to_string(c) +
                  " but belongs in " + std::to_string(BlockHeap::size_class(record.header().size)));
        }
        const FreeLinks links = image_.free_links(record.block);
        if (links.prev != prev) problem("free lists: block " + std::to_string(at) + " has a wrong back link");
        prev = at;
        at = links.next;
      }
    }
    if (listed != free_blocks_) {
      problem("free lists: " + std::to_string(listed) + " blocks listed, " + std::to_string(free_blocks_) +
              " free in the chain");
    }
  }

  void check_statistics() {
    const std::uint64_t used_bytes = SHOAL_HEADER_FIELD(image_, used_bytes);
    const std::uint64_t used_blocks = SHOAL_HEADER_FIELD(image_, used_blocks);
    const std::uint64_t free_blocks = SHOAL_HEADER_FIELD(image_, free_blocks);
    if (used_bytes != used_bytes_) {
      problem("statistics: used_bytes is " + std::to_string(used_bytes) + ", the chain holds " +
              std::to_string(used_bytes_));
    }
    if (used_blocks != used_blocks_ || free_blocks != free_blocks_) {
      problem("statistics: block counts " + std::to_string(used_blocks) + " used / " + std::to_string(free_blocks) +
              " free, the chain has " + std::to_string(used_blocks_) + " / " + std::to_string(free_blocks_));
    }
  }

  BlockRecord* used_block(std::uint64_t offset) {
    const auto found = blocks_.find(offset);
    if (found == blocks_.end()) return nullptr;
    if (!found->second.block.used()) return nullptr;
    return &found->second;
  }

  void check_holder_ledger(std::uint32_t index, const HolderSlot& slot) {
    const std::string who = "holder " + std::to_string(index) + " (pid " + std::to_string(slot.pid) + ")";
    std::uint64_t refs = 0;
    std::uint64_t bytes = 0;
    std::uint64_t at = slot.ledger_head;
    for (std::uint64_t hops = 0; at != 0; ++hops) {
      BlockRecord* record = used_block(at);
      if (record == nullptr || !record->block.is(BlockKind::ledger)) {
        problem(who + ": ledger link " + std::to_string(at) + " is not a ledger block");
        break;
      }
      if (record->ledger_owned || hops > blocks_.size()) {
        problem(who + ": ledger block " + std::to_string(at) + " is linked twice");
        break;
      }
      record->ledger_owned = true;
      const auto ledger = image_.ledger(record->block);  // a used ledger block: never empty
      if (!ledger->valid) {
        problem(who + ": ledger block " + std::to_string(at) + " claims more entries than it holds");
      }
      for (std::uint64_t i = 0; i < ledger->capacity; ++i) {
        const LedgerEntry entry = image_.ledger_entry(*ledger, i);
        if (entry.offset == 0) continue;
        BlockRecord* target = used_block(entry.offset);
        // A recyclable entry (generation 0) names a block this holder made,
        // whatever its generation, cached or not; any other entry names one
        // generation of a block that is not cached.
        const bool names_it =
            target != nullptr && !target->block.is(BlockKind::ledger) &&
            (entry.generation == 0 ? target->header().creator_slot == index
                                   : target->header().generation == entry.generation &&
                                         !target->block.is(BlockKind::cached));
        if (!names_it) {
          problem(who + ": ledger entry names no live block (" + std::to_string(entry.offset) + ":" +
                  std::to_string(entry.generation) + ")");
          continue;
        }
        ++target->owners;
        target->rooted = true;
        target->recyclable = target->recyclable || entry.generation == 0;
        ++refs;
        bytes += target->header().size;
      }
      at = ledger->chunk.next;
    }
    if (refs != slot.refs_held || bytes != slot.bytes_held) {
      problem(who + ": records " + std::to_string(slot.refs_held) + " references / " +
              std::to_string(slot.bytes_held) + " bytes, its ledger holds " + std::to_string(refs) + " / " +
              std::to_string(bytes));
    }
  }

  // The header fields a holder's recycling cache changes without the lock
  // (recycling.cpp: kind, requested, flags; generation is new each time a
  // block is cached), read atomically now. Neither the lock of
  // Arena::check nor the seqlock of `shoal check` sees those changes.
  struct LiveFields {
    std::uint64_t generation;
    std::uint64_t requested;
    std::uint32_t kind;
    std::uint16_t flags;
    bool operator==(const LiveFields&) const = default;
  };
  LiveFields live_fields(std::uint64_t at) const {
    const BlockHeader h = image_.copy<BlockHeader>(at);  // `at` began a block when walked
    return {h.generation, h.requested, h.kind, h.flags};
  }

  // A malformed array header would be refused by every receiver (and
  // shown as damage by `shoal dump`); here it is found before anyone
  // receives it. The flag on any other kind of block is damage too.
  void check_array_headers() {
    for (const auto& [at, record] : blocks_) {
      const BlockHeader& block = record.header();
      // A cached block keeps the flags of its last life until it is
      // handed out again (Holder clears them then): its payload means nothing.
      if (block.state != static_cast<std::uint32_t>(BlockState::used) || (block.flags & layout::kArrayBlob) == 0 ||
          block.kind == static_cast<std::uint32_t>(BlockKind::cached)) {
        continue;
      }
      // Recycled since the walk copied it, or while we read it: that is a
      // block changing hands, not damage, and it is not judged.
      const LiveFields seen{block.generation, block.requested, block.kind, block.flags};
      if (live_fields(at) != seen) continue;
      // The image bounds the payload by what the block holds (requested may lie).
      const bool sound = image_.array_blob(record.block).has_value();
      std::atomic_thread_fence(std::memory_order_acquire);
      if (live_fields(at) != seen || sound) continue;
      const std::string where = "block " + std::to_string(at);
      if (block.kind != static_cast<std::uint32_t>(BlockKind::blob)) {
        problem("arrays: " + where + " is flagged as an array blob but is of kind " + std::to_string(block.kind));
      } else {
        problem("arrays: " + where + " is flagged as an array blob, but its array header does not check out "
                "(a receiver would raise CorruptObject)");
      }
    }
  }

  // Counts the owners an object's child table or a channel's pending
  // slots add; reports a malformed table or an entry naming no live block.
  void count_owned_entries(std::uint64_t at, const BlockRecord& record) {
    if (record.block.is(BlockKind::channel_end)) return count_end_owner(at, record);
    const bool is_object = record.block.is(BlockKind::object);
    const std::string where = (is_object ? "object " : "channel ") + std::to_string(at);
    // The entries the block owns: a table's children, or a channel's
    // pending items (none once poisoned: layout::channel_pending).
    std::uint64_t count = 0;
    std::function<layout::ChildEntry(std::uint64_t)> entry_at;
    if (is_object) {
      const auto table = image_.child_table(record.block);
      // Beyond the table's own rule: its body lies within what was asked for.
      if (!table || !table->valid || table->table.body_offset > record.header().requested) {
        problem("ownership: " + where + " has a malformed child table");
        return;
      }
      count = table->count;
      entry_at = [this, table = *table](std::uint64_t i) { return image_.child(table, i); };
    } else {
      const auto channel = image_.channel(record.block);
      if (!channel || !channel->valid) {
        problem("ownership: " + where + " has inconsistent counters");
        return;
      }
      count = channel->pending;
      entry_at = [this, channel = *channel](std::uint64_t i) { return image_.channel_item(channel, i); };
    }
    for (std::uint64_t i = 0; i < count; ++i) {
      const layout::ChildEntry entry = entry_at(i);
      if (!is_object && layout::is_inline_item(entry)) {  // a value in the slot itself: owns nothing
        if (!layout::is_valid_inline_tag(entry.offset)) {
          problem("ownership: " + where + " entry " + std::to_string(i) + " is an inline item of unknown tag " +
                  std::to_string(entry.offset));
        }
        continue;
      }
      BlockRecord* child = used_block(entry.offset);
      if (child == nullptr || child->header().generation != entry.generation || entry.offset == at ||
          child->block.is(BlockKind::ledger) || child->block.is(BlockKind::cached)) {
        problem("ownership: " + where + " entry " + std::to_string(i) + " names no live block (" +
                std::to_string(entry.offset) + ":" + std::to_string(entry.generation) + ")");
        continue;
      }
      ++child->owners;
      owned_by_blocks_.emplace_back(at, entry.offset);
    }
  }

  // A channel end owns its channel; each end is counted for the channel's
  // senders or receivers (check_channel_ends).
  void count_end_owner(std::uint64_t at, const BlockRecord& record) {
    const std::string where = "channel end " + std::to_string(at);
    const auto end = image_.channel_end(record.block);
    if (!end) {
      problem("ownership: " + where + " is malformed");
      return;
    }
    BlockRecord* channel = used_block(end->channel.offset);
    if (channel == nullptr || channel->header().generation != end->channel.generation ||
        !channel->block.is(BlockKind::channel)) {
      problem("ownership: " + where + " names no live channel (" + std::to_string(end->channel.offset) + ":" +
              std::to_string(end->channel.generation) + ")");
      return;
    }
    ++channel->owners;
    owned_by_blocks_.emplace_back(at, end->channel.offset);
    auto& ends = end_counts_[end->channel.offset];
    (end->role == static_cast<std::uint32_t>(layout::EndRole::sender) ? ends.first : ends.second) += 1;
  }

  // Every channel's senders and receivers are its live ends; a channel
  // whose tracked role has none left is closed.
  void check_channel_ends() {
    for (const auto& [at, record] : blocks_) {
      if (record.header().state != static_cast<std::uint32_t>(BlockState::used) || !record.block.is(BlockKind::channel)) {
        continue;
      }
      const auto channel = image_.channel(record.block);
      if (!channel || !channel->valid) continue;  // reported by count_owned_entries
      const auto found = end_counts_.find(at);
      const std::pair<std::uint32_t, std::uint32_t> ends = found == end_counts_.end() ? std::pair<std::uint32_t, std::uint32_t>{} : found->second;
      const layout::ChannelHeader& h = channel->header;
      const std::string where = "channel " + std::to_string(at);
      if (h.senders != ends.first || h.receivers != ends.second) {
        problem("channel ends: " + where + " counts " + std::to_string(h.senders) + " senders and " +
                std::to_string(h.receivers) + " receivers, but " + std::to_string(ends.first) + " and " +
                std::to_string(ends.second) + " ends name it");
      }
      const bool open = h.state == static_cast<std::uint32_t>(layout::ChannelState::open);
      if (open && (((h.ends_tracked & layout::kSendersTracked) != 0 && ends.first == 0) ||
                   ((h.ends_tracked & layout::kReceiversTracked) != 0 && ends.second == 0))) {
        problem("channel ends: " + where + " is open, but its last sender or receiver end is gone");
      }
      if (h.closed_by > layout::kMaxChannelCloser) {
        problem("channel ends: " + where + " was closed by unknown reason " + std::to_string(h.closed_by));
      }
    }
  }

  // Blocks that no holder or in-flight reference reaches, through objects
  // and channels, yet are owned: only a ring of owners keeps them.
  void check_reachability() {
    std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> owned;
    for (const auto& [parent, child] : owned_by_blocks_) owned[parent].push_back(child);
    std::vector<std::uint64_t> work;
    std::unordered_set<std::uint64_t> reached;
    for (const auto& [at, record] : blocks_) {
      if (record.rooted) {
        reached.insert(at);
        work.push_back(at);
      }
    }
    while (!work.empty()) {
      const std::uint64_t at = work.back();
      work.pop_back();
      const auto children = owned.find(at);
      if (children == owned.end()) continue;
      for (const std::uint64_t child : children->second) {
        if (reached.insert(child).second) work.push_back(child);
      }
    }
    for (const auto& [at, record] : blocks_) {
      if (record.header().state != static_cast<std::uint32_t>(BlockState::used) || record.owners == 0 ||
          reached.contains(at)) {
        continue;
      }
      problem("ownership: block " + std::to_string(at) + " (" + kind_name(record.header().kind) +
              ") is owned only through a reference cycle (a channel holding itself): it can never be freed");
    }
  }

  static std::string kind_name(std::uint32_t kind) {
    switch (static_cast<BlockKind>(kind)) {
      case BlockKind::object: return "object";
      case BlockKind::channel: return "channel";
      case BlockKind::channel_end: return "channel end";
      case BlockKind::blob: return "blob";
      default: return "kind " + std::to_string(kind);
    }
  }

  // Every in-flight entry in use (a pickle's reference) names a live block
  // and owns one reference on it; `live` and `extent` agree with them.
  void check_in_flight() {
    const auto table = image_.in_flight_table();
    std::uint64_t live = 0;
    std::uint64_t extent = 0;
    for (std::uint64_t i = 0; i < layout::kInFlightEntries; ++i) {
      const layout::InFlightEntry entry = image_.in_flight_entry(i);
      if (entry.offset == 0) continue;
      ++live;
      extent = i + 1;
      BlockRecord* target = used_block(entry.offset);
      if (target == nullptr || target->header().generation != entry.generation ||
          target->header().kind == static_cast<std::uint32_t>(BlockKind::ledger) ||
          target->header().kind == static_cast<std::uint32_t>(BlockKind::cached)) {
        problem("in-flight entry " + std::to_string(i) + " names no live block (" + std::to_string(entry.offset) +
                ":" + std::to_string(entry.generation) + ")");
        continue;
      }
      ++target->owners;
      target->rooted = true;
      if (entry.expires_boot_ns < entry.created_boot_ns ||
          entry.expires_boot_ns - entry.created_boot_ns > layout::kMaxInFlightNs) {
        problem("in-flight entry " + std::to_string(i) + " has a deadline no lifetime allows");
      }
    }
    if (table.live != live || table.extent < extent || table.extent > layout::kInFlightEntries) {
      problem("in-flight table: records " + std::to_string(table.live) + " entries up to " +
              std::to_string(table.extent) + ", holds " + std::to_string(live) + " up to " + std::to_string(extent));
    }
  }

  void check_ownership() {
    check_in_flight();
    for (std::uint32_t i = 0; i < layout::kMaxHolders; ++i) {
      const HolderSlot slot = image_.holder(i);
      const std::uint32_t op = slot.intent.op;
      if (layout::intent_op_of(op) > layout::kMaxIntentOp) {
        problem("holder " + std::to_string(i) + ": intent of unknown operation " + std::to_string(op));
      } else if (op != 0 && slot.state == static_cast<std::uint32_t>(layout::SlotState::free)) {
        problem("holder " + std::to_string(i) + ": a free slot has an intent (operation " + std::to_string(op) + ")");
      }
      if (slot.state == static_cast<std::uint32_t>(layout::SlotState::active)) {
        check_holder_ledger(i, slot);
      } else if (slot.state != static_cast<std::uint32_t>(layout::SlotState::free)) {
        problem("holder " + std::to_string(i) + ": unknown state " + std::to_string(slot.state));
      }
    }
    for (const auto& [at, record] : blocks_) {
      if (record.header().state == static_cast<std::uint32_t>(BlockState::used) &&
          (record.header().kind == static_cast<std::uint32_t>(BlockKind::object) ||
           record.header().kind == static_cast<std::uint32_t>(BlockKind::channel) ||
           record.header().kind == static_cast<std::uint32_t>(BlockKind::channel_end))) {
        count_owned_entries(at, record);
      }
    }
    check_channel_ends();
    check_reachability();
    for (const auto& [at, record] : blocks_) {
      if (record.header().state != static_cast<std::uint32_t>(BlockState::used)) continue;
      const std::string where = "block " + std::to_string(at) + " (" + std::to_string(record.header().size) + " bytes)";
      if (record.header().kind == static_cast<std::uint32_t>(BlockKind::ledger)) {
        if (!record.ledger_owned) problem("ownership: ledger " + where + " belongs to no active holder (leaked)");
        continue;
      }
      if (record.owners == 0) {
        problem("ownership: " + where + " has no owner (leaked), refcount " + std::to_string(record.header().refcount));
      } else if (record.owners == 1 && record.recyclable && record.header().refcount == 0) {
        // Its owner thread is recycling it: the count is 0 from its claim
        // (CAS 1 -> 0) until the block is cached under a new generation.
      } else if (record.owners != record.header().refcount) {
        problem("ownership: " + where + " has refcount " + std::to_string(record.header().refcount) + " but " +
                std::to_string(record.owners) + " owners");
      }
    }
  }

  ArenaImage image_;
  std::map<std::uint64_t, BlockRecord> blocks_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> owned_by_blocks_;  // (owner, owned) from tables and slots
  std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::uint32_t>> end_counts_;  // channel -> (sender, receiver) ends
  std::uint64_t used_bytes_ = 0;
  std::uint64_t used_blocks_ = 0;
  std::uint64_t free_blocks_ = 0;
  std::uint64_t site_count_ = 0;  // sites in the table
  std::vector<std::string> problems_;
};

}  // namespace

std::vector<std::string> check_image(const std::byte* base, std::uint64_t bytes) {
  return Checker(base, bytes).run();
}

}  // namespace shoal
