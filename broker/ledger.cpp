// ledger.cpp — a holder's ledger: the chain of ledger blocks in the arena
// whose entries name every block the holder holds a reference to, and this
// process's index of their unused entries (holder.hpp, "Ledger blocks").
//
// A new ledger block is committed by linking it at the end of the chain;
// an empty one (never the first) is unlinked, then freed. A death between
// leaves a used ledger block that no holder links, which repair frees.
#include <algorithm>
#include <cstring>

#include "block_heap.hpp"
#include "core_internals.hpp"
#include "ledger.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::HolderSlot;
using layout::LedgerChunk;
using layout::LedgerEntry;
using layout::SlotState;

namespace {
constexpr auto kActive = static_cast<std::uint32_t>(SlotState::active);
}  // namespace

LedgerChunk* Arena::ledger_chunk_locked(std::uint64_t offset) const {
  if (!heap_->is_block_start(offset)) return nullptr;
  const BlockHeader* block = heap_->header_at(offset);
  if (block->state != static_cast<std::uint32_t>(layout::BlockState::used) ||
      block->kind != static_cast<std::uint32_t>(BlockKind::ledger)) {
    return nullptr;
  }
  auto* chunk = ledger::chunk_at(base_, offset);
  const std::uint64_t room = (block->size - layout::kBlockHeaderBytes - sizeof(LedgerChunk)) / sizeof(LedgerEntry);
  return chunk->capacity <= room ? chunk : nullptr;
}

LedgerEntry* Holder::entry_at(std::uint32_t index) const {
  const std::uint64_t chunk = chunks_[index / layout::kLedgerChunkEntries];
  return ledger::entries_of(ledger::chunk_at(base_, chunk)) + index % layout::kLedgerChunkEntries;
}

void Holder::ensure_free_entry_locked() {
  HolderSlot& slot = *slot_header_;
  if (slot.state != kActive || slot.epoch != epoch_) {
    throw InvalidArgument("arena '" + arena_->name() + "': holder slot " + std::to_string(slot_) +
                          " was reaped (was this process thought dead?)");
  }
  while (lowest_with_room_ < chunks_.size() && unused_[lowest_with_room_].empty()) ++lowest_with_room_;
  if (lowest_with_room_ < chunks_.size()) return;

  const std::uint64_t offset = blocks_->allocate(ledger::kPayloadBytes, BlockKind::ledger, slot_);
  LedgerChunk* chunk = ledger::chunk_at(base_, offset);
  std::memset(static_cast<void*>(chunk), 0, ledger::kPayloadBytes);
  chunk->capacity = layout::kLedgerChunkEntries;
  chunk->owner_slot = slot_;
  // Commit: link it at the end of the chain. Until here a death leaves an
  // unowned ledger block, which repair frees.
  if (chain_.empty()) {
    slot.ledger_head = offset;
    first_entries_ = ledger::entries_of(chunk);  // never given back while the holder lives
  } else {
    ledger::chunk_at(base_, chunks_[chain_.back()])->next = offset;
  }
  // Its number: the lowest hole, else a new one.
  const auto hole = std::find(chunks_.begin() + (chunks_.empty() ? 0 : 1), chunks_.end(), std::uint64_t{0});
  const auto number = static_cast<std::size_t>(hole - chunks_.begin());
  if (hole == chunks_.end()) {
    chunks_.push_back(offset);
    unused_.emplace_back();
  } else {
    *hole = offset;
  }
  chain_.push_back(static_cast<std::uint32_t>(number));
  auto& unused = unused_[number];
  unused.reserve(layout::kLedgerChunkEntries);
  for (std::uint32_t i = layout::kLedgerChunkEntries; i-- > 0;) unused.push_back(i);  // lowest on top
  unused_total_ += layout::kLedgerChunkEntries;
  lowest_with_room_ = number;
}

void Holder::give_back_chunk_locked(std::size_t number) {
  const auto at = std::find(chain_.begin(), chain_.end(), static_cast<std::uint32_t>(number));
  if (number == 0 || at == chain_.end()) return;  // the first block stays; (never unlinked twice)
  const std::uint64_t offset = chunks_[number];
  LedgerChunk* before = ledger::chunk_at(base_, chunks_[*(at - 1)]);
  before->next = ledger::chunk_at(base_, offset)->next;  // commit: unlinked, owned by no one
  // A death here leaves a used ledger block no holder links: repair frees it.
  test_hooks::reach(test_hooks::Point::ledger_after_unlink);
  blocks_->free(offset);
  chain_.erase(at);
  chunks_[number] = 0;
  unused_total_ -= unused_[number].size();
  unused_[number].clear();
  unused_[number].shrink_to_fit();
  if (spare_ == number) spare_ = kNoSpare;
  while (chunks_.back() == 0) {  // no trailing holes: the first block is never one
    chunks_.pop_back();
    unused_.pop_back();
  }
  lowest_with_room_ = std::min(lowest_with_room_, chunks_.size() - 1);
}

void Holder::give_back_spare_locked() {
  if (spare_ == kNoSpare || unused_[spare_].size() != layout::kLedgerChunkEntries) return;
  if (room_besides(spare_) >= layout::kLedgerChunkEntries / 2) give_back_chunk_locked(spare_);
}

void Holder::entry_unused_locked(std::uint32_t index) {
  const std::size_t number = index / layout::kLedgerChunkEntries;
  unused_[number].push_back(index % layout::kLedgerChunkEntries);
  ++unused_total_;
  lowest_with_room_ = std::min(lowest_with_room_, number);
  if (number != 0 && unused_[number].size() == layout::kLedgerChunkEntries) {
    if (room_besides(number) >= layout::kLedgerChunkEntries / 2) {
      give_back_chunk_locked(number);
    } else {
      spare_ = number;  // too little room elsewhere: kept for the next allocation
    }
  }
  give_back_spare_locked();
}

void Holder::shrink_ledger_locked() {
  for (std::size_t number = chunks_.size(); number-- > 1;) {
    if (chunks_[number] != 0 && unused_[number].size() == layout::kLedgerChunkEntries) give_back_chunk_locked(number);
  }
}

}  // namespace shoal
