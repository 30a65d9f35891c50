// in_flight.hpp — references the arena holds on behalf of pickles.
//
// A pickle of a shoal value must keep its block alive after the sender
// drops everything, for whoever unpickles it, in any process of the host,
// any number of times; and nothing may leak whatever happens to the pickle
// (it may be unpickled never, or once a day). So the reference belongs to
// neither side: the arena owns it, in an entry of its in-flight table
// (layout.hpp, InFlightEntry), for a bounded time. The pickle carries a
// Ticket naming the entry. Redeeming the ticket gives the redeemer's
// holder a reference of its own; the entry lives on until its deadline
// (anyone attached expires it: the broker every round) or until it is
// cancelled (a sender that knows its pickle was used once).
//
// Tickets are checked whole under the lock: the entry, the ticket number
// written with it (entries are reused), the block's handle and the
// deadline. A ticket from a pickle of another arena or host is caught
// before this, by the arena's identity (Arena::identity).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "shoal/handle.hpp"

namespace shoal {

class Arena;
class Holder;
class HeldBlock;

struct Ticket {
  std::uint64_t entry = 0;   // index in the in-flight table
  std::uint64_t number = 0;  // InFlightEntry::ticket
  Handle block;
  std::uint64_t expires_boot_ns = 0;  // CLOCK_BOOTTIME
};

// One entry, as `shoal objects`/`shoal holders` and tests see it.
struct InFlightInfo {
  Ticket ticket;
  std::uint64_t created_ns = 0;  // CLOCK_REALTIME
  std::uint64_t expires_ns = 0;  // CLOCK_REALTIME, derived from the boot-time deadline
  std::int32_t creator_pid = 0;
};

class InFlight {
 public:
  // Writes an entry holding a reference on the block `block` names for
  // `lifetime`, and marks the block frozen (a pickled block is published:
  // its bytes are final). A `shared` ticket reuses a shared entry of the
  // same block if there is one, extending its deadline (plain pickles:
  // nobody cancels them, and a thousand pickles of one buffer's rows take
  // one entry); a private one (shared = false) has its entry to itself,
  // for an owner that cancels it. The caller holds a reference on `block`
  // (a lock-free recycler relies on refcounts rising only from a reference
  // someone has). Throws InvalidHandle (no live block, or one that cannot
  // travel: a ledger), InvalidArgument (a bad lifetime) or ArenaFull
  // (every entry in use; the message says when the first ends).
  static Ticket issue(Arena& arena, Handle block, std::chrono::nanoseconds lifetime, bool shared = true);

  // Whether redeeming also ends the entry, in the same critical section:
  // a channel end's pickle is used once (the end then lives exactly as long
  // as its users), everything else's any number of times.
  enum class Redeem { reusable, channel_end_once };
  // A new reference of `holder` on the ticket's block. Throws
  // TicketExpired (the entry ended or was reused: the deadline passed, or it
  // was cancelled) or InvalidHandle (an entry index out of range).
  static HeldBlock redeem(Holder& holder, const Ticket& ticket, Redeem how = Redeem::reusable);

  // Ends the entry now if it is still this ticket's; false if it had ended.
  // (A shared entry ends for every pickle using it.)
  static bool cancel(Arena& arena, const Ticket& ticket);

  // Ends every entry whose deadline has passed; returns how many. Takes the
  // lock only when one has (a lock-free scan finds out first).
  static std::size_t expire(Arena& arena);

  // Every entry in use now, read under the lock.
  static std::vector<InFlightInfo> list(Arena& arena);

  // CLOCK_BOOTTIME now, in nanoseconds.
  static std::uint64_t boot_ns();
};

}  // namespace shoal
