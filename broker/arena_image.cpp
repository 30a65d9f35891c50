// arena_image.cpp — see shoal/arena_image.hpp.
#include "shoal/arena_image.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <span>
#include <vector>

#include "debug_assert.hpp"
#include "shoal/array_blob.hpp"
#include "shoal/heap_format.hpp"

namespace shoal {

using layout::ArenaHeader;
using layout::BlockHeader;
using layout::BlockKind;
using layout::BlockState;

// ------------------------------------------------------------ geometry --

bool ArenaGeometry::is_valid(std::uint64_t mapped) const {
  return arena_size == mapped && bitmap_offset == layout::kHeaderBytes && bitmap_offset <= mapped &&
         bitmap_bytes <= mapped - bitmap_offset && heap_begin == bitmap_offset + bitmap_bytes &&
         heap_begin % layout::kAlign == 0 && heap_begin < heap_end && heap_end <= mapped &&
         (heap_end - heap_begin) / layout::kAlign <= bitmap_bytes * 8;
}

bool ArenaGeometry::may_start_block(std::uint64_t offset) const {
  return offset >= heap_begin && offset < heap_end && offset % layout::kAlign == 0 &&
         heap_end - offset >= layout::kMinBlockBytes;
}

bool ArenaGeometry::holds(const BlockHeader& block, std::uint64_t offset) const {
  return may_start_block(offset) && block.tag == layout::kBlockTag && block.size >= layout::kMinBlockBytes &&
         block.size % layout::kAlign == 0 && block.size <= heap_end - offset;
}

bool block_is_valid(const BlockHeader& block) {
  if (block.state == static_cast<std::uint32_t>(BlockState::free)) return true;
  if (block.state != static_cast<std::uint32_t>(BlockState::used)) return false;
  return block.kind != 0 && block.kind < layout::kBlockKindCount && block.size >= layout::kBlockHeaderBytes &&
         block.requested <= block.size - layout::kBlockHeaderBytes;
}

// --------------------------------------------------------------- image --

ArenaImage::ArenaImage(const std::byte* base, std::uint64_t bytes) : base_(base), bytes_(bytes) {
  if (!has_header()) {
    error_ = "image of " + std::to_string(bytes_) + " bytes is smaller than an arena header";
    return;
  }
  char magic[sizeof layout::kMagic];
  copy_words(magic, offsetof(ArenaHeader, magic), sizeof magic);
  if (std::memcmp(magic, layout::kMagic, sizeof magic) != 0) {
    error_ = "header: wrong magic (not a shoal arena)";
    return;
  }
  const auto version = SHOAL_HEADER_FIELD(*this, layout_version);
  if (version != layout::kLayoutVersion) {
    error_ = "header: layout version " + std::to_string(version) + ", expected " +
             std::to_string(layout::kLayoutVersion);
    return;
  }
  geometry_ = {SHOAL_HEADER_FIELD(*this, arena_size), SHOAL_HEADER_FIELD(*this, bitmap_offset),
               SHOAL_HEADER_FIELD(*this, bitmap_bytes), SHOAL_HEADER_FIELD(*this, heap_begin),
               SHOAL_HEADER_FIELD(*this, heap_end)};
  if (!geometry_.is_valid(bytes_)) {
    error_ = "header: inconsistent geometry (size " + std::to_string(geometry_.arena_size) + ", heap " +
             std::to_string(geometry_.heap_begin) + ".." + std::to_string(geometry_.heap_end) + ")";
    geometry_ = {};  // nothing may be bounded by it: every block lookup fails
  }
}

bool ArenaImage::in_image(std::uint64_t offset, std::uint64_t size, std::uint64_t align) const {
  return offset % align == 0 && offset <= bytes_ && size <= bytes_ - offset &&
         reinterpret_cast<std::uintptr_t>(base_ + offset) % align == 0;
}

void ArenaImage::copy_words(void* out, std::uint64_t offset, std::uint64_t size) const {
  // Callers bound offsets before asking; a miss is a bug here, not damage there.
  const bool inside = in_image(offset, size, 8) && size % 8 == 0;
  SHOAL_DEBUG_ASSERT(inside);
  if (!inside) {
    std::memset(out, 0, size);
    return;
  }
  const auto* words = reinterpret_cast<const std::uint64_t*>(base_ + offset);
  auto* to = static_cast<std::byte*>(out);
  for (std::uint64_t i = 0; i < size / 8; ++i) {
    const std::uint64_t word = __atomic_load_n(&words[i], __ATOMIC_RELAXED);
    std::memcpy(to + i * 8, &word, 8);
  }
}

layout::HolderSlot ArenaImage::holder(std::uint32_t index) const {
  SHOAL_DEBUG_ASSERT(index < layout::kMaxHolders);
  if (index >= layout::kMaxHolders || !has_header()) return {};
  return copy<layout::HolderSlot>(offsetof(ArenaHeader, holders) + std::uint64_t{index} * sizeof(layout::HolderSlot));
}

// --------------------------------------------------------------- blocks --

std::optional<ArenaImage::Block> ArenaImage::block(std::uint64_t offset) const {
  if (!geometry_.may_start_block(offset)) return std::nullopt;
  Block block{offset, copy<BlockHeader>(offset)};
  if (!geometry_.holds(block.header, offset)) return std::nullopt;
  return block;
}

std::optional<ArenaImage::ChainBreak> ArenaImage::walk(const std::function<void(const Block&)>& visit) const {
  for (std::uint64_t at = geometry_.heap_begin; at < geometry_.heap_end;) {
    if (!geometry_.may_start_block(at)) return ChainBreak{at, "leaves too little room for a block"};
    const Block block{at, copy<BlockHeader>(at)};
    if (block.header.tag != layout::kBlockTag) return ChainBreak{at, "has no block tag; the chain is broken here"};
    if (!geometry_.holds(block.header, at)) {
      return ChainBreak{at, "has impossible size " + std::to_string(block.header.size)};
    }
    visit(block);
    at += block.header.size;
  }
  return std::nullopt;
}

bool ArenaImage::bitmap_bit(std::uint64_t offset) const {
  if (!geometry_.may_start_block(offset)) return false;
  const std::uint64_t unit = (offset - geometry_.heap_begin) / layout::kAlign;
  const auto byte = load<std::uint8_t>(geometry_.bitmap_offset + unit / 8);
  return (byte >> (unit % 8)) & 1u;
}

std::uint64_t ArenaImage::bitmap_bits_set() const {
  const std::uint64_t units = (geometry_.heap_end - geometry_.heap_begin) / layout::kAlign;
  std::uint64_t bits = 0;
  for (std::uint64_t byte = 0; byte < (units + 7) / 8; ++byte) {
    bits += static_cast<std::uint64_t>(std::popcount(load<std::uint8_t>(geometry_.bitmap_offset + byte)));
  }
  return bits;
}

layout::FreeLinks ArenaImage::free_links(const Block& block) const {
  return copy<layout::FreeLinks>(block.payload_offset());  // a block holds at least its header and 64 bytes
}

// -------------------------------------------------------------- ledgers --

std::optional<ArenaImage::Ledger> ArenaImage::ledger(const Block& block) const {
  if (!block.is(BlockKind::ledger) || block.payload_bytes() < sizeof(layout::LedgerChunk)) return std::nullopt;
  Ledger ledger{block, copy<layout::LedgerChunk>(block.payload_offset())};
  const std::uint64_t room = (block.payload_bytes() - sizeof(layout::LedgerChunk)) / sizeof(layout::LedgerEntry);
  ledger.valid = ledger.chunk.capacity <= room;
  ledger.capacity = std::min<std::uint64_t>(ledger.chunk.capacity, room);
  return ledger;
}

layout::LedgerEntry ArenaImage::ledger_entry(const Ledger& ledger, std::uint64_t i) const {
  SHOAL_DEBUG_ASSERT(i < ledger.capacity);
  if (i >= ledger.capacity) return {};
  return copy<layout::LedgerEntry>(ledger.block.payload_offset() + sizeof(layout::LedgerChunk) +
                                   i * sizeof(layout::LedgerEntry));
}

// ------------------------------------------------------------- channels --

std::optional<ArenaImage::Channel> ArenaImage::channel(const Block& block) const {
  if (!block.is(BlockKind::channel) || block.payload_bytes() < sizeof(layout::ChannelHeader)) return std::nullopt;
  Channel channel{block, copy<layout::ChannelHeader>(block.payload_offset()), false, 0, {}};
  channel.owned = owned_entries(channel.header, block.payload_bytes());
  channel.valid = channel.owned.valid;
  channel.pending = channel.owned.count;
  return channel;
}

std::optional<layout::ChannelEnd> ArenaImage::channel_end(const Block& block) const {
  if (!block.is(BlockKind::channel_end) || block.payload_bytes() < sizeof(layout::ChannelEnd)) return std::nullopt;
  const auto end = copy<layout::ChannelEnd>(block.payload_offset());
  if (!layout::channel_end_is_sane(end, block.payload_bytes())) return std::nullopt;
  return end;
}

layout::ChildEntry ArenaImage::channel_item(const Channel& channel, std::uint64_t i) const {
  SHOAL_DEBUG_ASSERT(i < channel.pending);
  if (i >= channel.pending) return {};
  return copy<layout::ChildEntry>(channel.block.payload_offset() + channel.owned.entry_at(i));
}

std::string ArenaImage::channel_name(const Channel& channel) const {
  const std::uint32_t bytes = channel.header.name_bytes;
  const std::uint64_t payload = channel.block.payload_bytes();
  if (!channel.valid || bytes == 0 || !layout::channel_name_fits(channel.header.capacity, bytes, payload)) return {};
  // Whole words (the name starts on one: slots are 16 bytes), inside the
  // block: payloads are multiples of 64.
  const std::uint64_t at = layout::channel_name_offset(channel.header.capacity);
  const std::uint64_t words = (std::uint64_t{bytes} + 7) / 8 * 8;
  if (at + words > payload) return {};
  std::string name(words, '\0');
  copy_words(name.data(), channel.block.payload_offset() + at, words);
  name.resize(bytes);
  return heap::is_valid_utf8(name) ? name : std::string{};
}

// --------------------------------------------------------- child tables --

std::optional<ArenaImage::ChildTable> ArenaImage::child_table(const Block& block) const {
  if (!block.is(BlockKind::object) || block.payload_bytes() < sizeof(layout::ChildTable)) return std::nullopt;
  ChildTable table{block, copy<layout::ChildTable>(block.payload_offset()), false, 0, {}};
  // The rule drop_reference_locked and repair's recount use (owned_children_locked).
  table.owned = owned_entries(table.table, block.payload_bytes());
  table.valid = table.owned.valid;
  table.count = table.owned.count;
  return table;
}

layout::ChildEntry ArenaImage::child(const ChildTable& table, std::uint64_t i) const {
  SHOAL_DEBUG_ASSERT(i < table.count);
  if (i >= table.count) return {};
  return copy<layout::ChildEntry>(table.block.payload_offset() + table.owned.entry_at(i));
}

// ---------------------------------------------------------- array blobs --

std::optional<heap::ArrayBlob> ArenaImage::array_blob(const Block& block) const {
  if (!block.is(BlockKind::blob) || (block.header.flags & layout::kArrayBlob) == 0) return std::nullopt;
  // The payload a receiver is handed: what was asked for, within what the
  // block holds. The head is copied from the block's own bytes (a whole
  // number of words: payloads are multiples of 64), then cut to that.
  const std::uint64_t payload = std::min(block.header.requested, block.payload_bytes());
  constexpr std::uint64_t kHeadWords = (heap::kArrayBlobHeadBytes + 7) / 8;
  std::array<std::uint64_t, kHeadWords> head{};
  const std::uint64_t copied = std::min<std::uint64_t>(sizeof head, block.payload_bytes()) / 8 * 8;
  copy_words(head.data(), block.payload_offset(), copied);
  const auto bytes = std::as_bytes(std::span(head)).first(std::min(copied, payload));
  return heap::parse_array_blob(bytes, payload);
}

// ------------------------------------------------- in-flight and sites --

layout::InFlightTableHeader ArenaImage::in_flight_table() const {
  if (!has_header()) return {};
  return copy<layout::InFlightTableHeader>(layout::kInFlightOffset);
}

layout::InFlightEntry ArenaImage::in_flight_entry(std::uint64_t i) const {
  SHOAL_DEBUG_ASSERT(i < layout::kInFlightEntries);
  if (!has_header() || i >= layout::kInFlightEntries) return {};
  return copy<layout::InFlightEntry>(layout::kInFlightOffset + sizeof(layout::InFlightTableHeader) +
                                     i * sizeof(layout::InFlightEntry));
}

SiteTable ArenaImage::sites() const {
  if (!has_header()) return decode_site_table({});
  // Copied first (the decoder reads `used` and the records more than once),
  // and only up to `used`: records are written before `used` grows past
  // them (its release store, our acquire load) and never after, while the
  // bytes beyond may be a record being written right now.
  const auto used = __atomic_load_n(reinterpret_cast<const std::uint64_t*>(base_ + layout::kSiteTableOffset),
                                    __ATOMIC_ACQUIRE);
  constexpr std::uint64_t kRoom = layout::kSiteTableBytes - sizeof(layout::SiteTableHeader);
  const std::uint64_t committed = (std::min(used, kRoom) + 7) / 8 * 8;  // records are 8-aligned
  std::vector<std::byte> region(layout::kSiteTableBytes);
  copy_words(region.data(), layout::kSiteTableOffset, sizeof(layout::SiteTableHeader) + committed);
  // The copy read `used` again, and a writer may have moved it on since:
  // the copy holds the records up to the value loaded first, so that is
  // the one the decoder is given.
  std::memcpy(region.data() + offsetof(layout::SiteTableHeader, used), &used, sizeof used);
  return decode_site_table(region);
}

}  // namespace shoal
