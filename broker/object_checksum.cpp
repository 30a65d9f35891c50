// object_checksum.cpp — a frozen object's opt-in checksum.
//
// `check` validates structure: a byte altered inside a value's body or a
// blob's data is still a well-formed arena, and the receiver would read the
// altered value without a word. An object sent through a channel made with
// the checksum option carries the CRC-32 (zlib's) of everything a receiver
// reads from it: its body, its child entries and each blob child's payload.
// Its creator seals it before anyone can see it; every reader (Arena::object)
// recomputes it and refuses a mismatch as CorruptObject. The cost is one
// pass over those bytes at each end, which is why it is opt-in.
#include <zlib.h>

#include <atomic>
#include <cstring>

#include "block_heap.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"

namespace shoal {

namespace {

std::uint32_t crc_of(std::uint32_t crc, const std::byte* data, std::uint64_t bytes) {
  return static_cast<std::uint32_t>(crc32_z(crc, reinterpret_cast<const Bytef*>(data), static_cast<z_size_t>(bytes)));
}

}  // namespace

std::uint32_t Arena::object_checksum(Handle object, const ObjectView& view) const {
  std::uint32_t crc = crc_of(static_cast<std::uint32_t>(crc32_z(0, nullptr, 0)), view.body.data(), view.body.size());
  for (const Handle& child : view.children) {
    const layout::ChildEntry entry{child.offset, child.generation};
    crc = crc_of(crc, reinterpret_cast<const std::byte*>(&entry), sizeof entry);
    const layout::BlockHeader* block = heap_->resolve(child);
    if (block == nullptr) {
      throw CorruptObject("arena '" + name_ + "': object " + to_string(object) + ": child " + to_string(child) +
                          " names no live block");
    }
    if (block->kind == static_cast<std::uint32_t>(layout::BlockKind::blob)) {
      crc = crc_of(crc, base_ + child.offset + layout::kBlockHeaderBytes, heap_->payload_bytes(child.offset));
    }
  }
  return crc;
}

void Arena::seal_checksum(Handle object) {
  const ObjectView view = this->object(object);
  const std::uint32_t crc = object_checksum(object, view);
  auto* table = reinterpret_cast<layout::ChildTable*>(base_ + object.offset + layout::kBlockHeaderBytes);
  table->checksum = crc;
  std::atomic_ref<std::uint16_t>(heap_->header_at(object.offset)->flags)
      .fetch_or(layout::kChecksummed, std::memory_order_release);
}

void Arena::verify_checksum(Handle object, const ObjectView& view, std::uint32_t recorded) const {
  const std::uint32_t computed = object_checksum(object, view);
  if (computed != recorded) {
    char detail[64];
    std::snprintf(detail, sizeof detail, "%08x, recorded %08x", computed, recorded);
    throw CorruptObject("arena '" + name_ + "': object " + to_string(object) +
                        ": its bytes were altered after it was sent (checksum " + detail + ")");
  }
}

}  // namespace shoal
