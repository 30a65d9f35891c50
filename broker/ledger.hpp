// ledger.hpp — reading a ledger block's entries (internal).
//
// A ledger block's payload is a LedgerChunk followed by its entries
// (layout.hpp). These name them at a block's offset; the callers have
// checked the block is a ledger (Arena::ledger_chunk_locked) or made it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shoal/layout.hpp"

namespace shoal::ledger {

inline layout::LedgerChunk* chunk_at(std::byte* base, std::uint64_t block_offset) {
  return reinterpret_cast<layout::LedgerChunk*>(base + block_offset + layout::kBlockHeaderBytes);
}

inline layout::LedgerEntry* entries_of(layout::LedgerChunk* chunk) {
  return reinterpret_cast<layout::LedgerEntry*>(chunk + 1);
}

// The payload of a ledger block: its chunk header and a full set of entries.
inline constexpr std::uint64_t kPayloadBytes =
    sizeof(layout::LedgerChunk) + std::uint64_t{layout::kLedgerChunkEntries} * sizeof(layout::LedgerEntry);

}  // namespace shoal::ledger
