// quiescence.hpp — intents, the lock-free gate, and waiting until no live
// holder is halfway through a lock-free operation (internal).
//
// A holder's owner thread announces each lock-free operation that moves
// ownership in its slot's intent (layout_holder.hpp, Intent) before the
// first step and clears it after the last. Some lock holders need a
// picture in which no live holder is halfway: repair's recount, the
// consistency check, and later closing or poisoning a channel. They wait
// until no live holder's intent names the structure they need (quiescence),
// holding the lock, so no new locked operation starts meanwhile. For the
// whole arena they also close ArenaHeader::lf_gate, so that no new lock-free
// operation starts either: a fast path stores its intent, then loads the
// gate (the same Dekker pair as the channels' sleepers), and backs out to
// the locked path when it is closed.
//
// Every wait is bounded. Intents are short and never wait on anything, so
// an intent set for more than kStaleIntent is looked at: a holder whose
// process has died is handed back to the caller, whose lock lets it resolve
// what that holder left halfway; a live one (stopped, or starved) is waited
// for up to the arena's lock timeout, then LockTimeout names its pid.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "shoal/layout.hpp"

namespace shoal {

class Arena;

// How long an intent may stay set before its holder's process is looked
// up in /proc.
inline constexpr std::chrono::microseconds kStaleIntent{20};

// ---- The owner thread's side (no lock) ----

// Announces `intent` (its op nonzero): the fields, then the op (seq_cst).
inline void publish_intent(layout::HolderSlot& slot, const layout::Intent& intent) {
  std::atomic_ref(slot.intent.ledger_index).store(intent.ledger_index, std::memory_order_relaxed);
  std::atomic_ref(slot.intent.target_offset).store(intent.target_offset, std::memory_order_relaxed);
  std::atomic_ref(slot.intent.target_generation).store(intent.target_generation, std::memory_order_relaxed);
  std::atomic_ref(slot.intent.item_offset).store(intent.item_offset, std::memory_order_relaxed);
  std::atomic_ref(slot.intent.item_generation).store(intent.item_generation, std::memory_order_relaxed);
  std::atomic_ref(slot.intent.op).exchange(intent.op, std::memory_order_seq_cst);  // commit
}

// The operation is done (or backed out): the holder is idle again.
inline void clear_intent(layout::HolderSlot& slot) {
  std::atomic_ref(slot.intent.op).exchange(0, std::memory_order_seq_cst);
}

// Whether a fast path may go on without the lock: call after
// publish_intent (the seq_cst pair). False: clear the intent, take the lock.
inline bool gate_open(const layout::ArenaHeader& header) {
  return std::atomic_ref(const_cast<std::uint32_t&>(header.lf_gate)).load(std::memory_order_seq_cst) == 0;
}

// ---- The lock holder's side ----

// A holder slot whose owner died with its intent set: the caller, holding
// the lock, resolves what it left halfway, then its reaping clears it.
struct DeadIntent {
  std::uint32_t slot;
  layout::Intent intent;
};

// Waits, holding the arena lock, until no live holder's intent names the
// structure at `target` (any structure when `target` is 0). Returns the
// dead holders whose intents still name it. Throws LockTimeout, naming the
// pid, when a live holder stays inside longer than the arena's lock
// timeout (a stopped process).
std::vector<DeadIntent> wait_for_quiescence_locked(Arena& arena, std::uint64_t target = 0);

// Closes the gate for as long as it lives, then waits for quiescence of the
// whole arena (wait_for_quiescence_locked); opens the gate when it goes.
// Under the arena lock, which must outlive it.
class LockFreeGate {
 public:
  explicit LockFreeGate(Arena& arena);  // throws LockTimeout (the gate is open again then)
  ~LockFreeGate();
  LockFreeGate(const LockFreeGate&) = delete;
  LockFreeGate& operator=(const LockFreeGate&) = delete;
  // Holders that died inside a lock-free operation, as found when it closed.
  const std::vector<DeadIntent>& dead() const { return dead_; }

 private:
  Arena& arena_;
  std::vector<DeadIntent> dead_;
};

}  // namespace shoal
