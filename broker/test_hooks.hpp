// test_hooks.hpp — named points inside the arena's critical sections where a
// test can stage a death (iceoryx2's idea: die on purpose, then count what
// was repaired).
//
// With no hook installed, a hook point costs one relaxed atomic load. The
// hook runs with the arena lock held; a test typically signals its parent
// and waits there to be killed with SIGKILL.
//
// Internal: not part of the public headers. Tests and the test fixture of
// the CLI include it through the core's include directories (broker/).
#pragma once

#include <atomic>

namespace shoal::test_hooks {

enum class Point {
  alloc_after_split_header,  // remainder header written, block size not yet committed
  alloc_after_mark_used,     // block marked used, not yet in any ledger
  free_after_mark_free,      // block marked free, not yet merged or listed
  free_after_merge,          // merged with a neighbour, free lists not yet updated
  ledger_after_add,          // ledger entry written, refcount not yet raised
  ledger_after_clear,        // ledger entry cleared, refcount not yet lowered
  reap_mid_holder,           // releasing a dead holder's references, halfway
  object_after_table,        // child table committed, children's refcounts not yet raised
  drop_after_free_parent,    // a parent freed, its children's refcounts not yet lowered
  send_after_commit,         // a channel slot published, the item's refcount not yet raised
  poison_mid_drop,           // a channel poisoned (committed), one pending item dropped, the rest not yet
  in_flight_after_commit,    // an in-flight entry committed, the block's refcount not yet raised
  in_flight_after_end,       // an in-flight entry cleared, the block's reference not yet dropped
  ledger_after_unlink,       // an empty ledger block unlinked from its holder's chain, not yet freed
  end_after_count,           // a channel end counted out of its channel, the channel not yet closed
  ends_mid_drop,             // a channel's last receiver end gone, its pending items disowned, one dropped
  // Not in a critical section: where a stray write (or a reuse of the
  // block, seen by a lock-free reader) may land between two reads.
  object_after_resolve,      // Arena::object resolved the block, its payload's length not yet read
  // Holder::retain(Handle) resolved the handle under the lock, the block's
  // refcount not yet raised (a recycler of another thread may run here).
  retain_after_resolve,
  // The owner thread's recycler (recycling.hpp) found its reference the
  // only one, the block's generation not yet renewed (lock-free).
  recycle_after_claim,
  // Not in a critical section, for counting only: a channel waiter starts
  // spinning before it sleeps (the lock is not held here).
  wait_spins,
};

using Hook = void (*)(Point);

// Installs `hook` for this process (nullptr removes it).
void install(Hook hook);

// The installed hook (test_hooks.cpp).
extern std::atomic<Hook> g_hook;

// Called by the core at each point. Inline: the recycler's lock-free path
// reaches one, and a call into another file there cost more than the load.
inline void reach(Point point) {
  if (Hook hook = g_hook.load(std::memory_order_relaxed)) hook(point);
}

}  // namespace shoal::test_hooks
