// manage.cpp — the commands that change arenas: reap and destroy.
//
// reap maps the arena read-write and goes through the core
// (Arena::reap_dead_holders, which takes the arena lock), exactly as a
// broker would; `reap --abandoned` removes every arena nobody is left to
// clean up (Arena::remove_if_abandoned). destroy reads the holder slots
// (read-only mapping, no lock) to decide whether it may go on, then retires
// the arena through the core (Arena::retire): unlinked at once when no
// holder is left, otherwise (--force) closing: new holders are refused and
// the last holder to leave unlinks it, so its name never names two arenas.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "report.hpp"
#include "segment_list.hpp"
#include "snapshot.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/in_flight.hpp"
#include "shoal/size.hpp"

namespace shoal::cli {
namespace {

std::string plural(std::uint64_t count, const std::string& word) {
  return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

std::string describe_holders(const std::vector<HolderView>& holders) {
  std::string text;
  for (const HolderView& h : holders) {
    if (!text.empty()) text += ", ";
    text += "pid " + std::to_string(h.pid) + " (slot " + std::to_string(h.slot) + ")";
  }
  return text;
}

Json holders_brief_json(const std::vector<HolderView>& holders) {
  Json list = Json::array();
  for (const HolderView& h : holders) list.push_back({{"slot", h.slot}, {"pid", h.pid}});
  return list;
}

// What destroy knows before unlinking.
struct DestroyPlan {
  std::string path;
  std::vector<HolderView> live_holders;
  std::optional<Snapshot> snapshot;  // none when the arena could not be read
  std::string unread_reason;         // why not (only with --force)
};

// Reads the holders without locking. With --force, an arena too damaged
// to read (corrupt, other layout version) may still be destroyed; a file
// that is not a shoal arena, or is not ours, never is.
DestroyPlan plan_destroy(const std::string& name, bool force, const ArenaOptions& open) {
  DestroyPlan plan;
  plan.path = "/dev/shm/" + Arena::segment_name(name);
  try {
    const auto arena = Arena::attach(name, Access::read_only, open);
    plan.snapshot = take_snapshot(*arena, Depth::header);
    for (const HolderView& h : plan.snapshot->holders) {
      if (h.alive) plan.live_holders.push_back(h);
    }
  } catch (const Error& e) {
    const bool unreadable_arena = e.code() == ErrorCode::corrupt_arena || e.code() == ErrorCode::layout_mismatch;
    if (!force || !unreadable_arena) throw;
    plan.unread_reason = e.what();
  }
  return plan;
}

}  // namespace

int run_reap(const std::string& name, const ArenaOptions& open, bool as_json) {
  const auto arena = Arena::attach(name, Access::read_write, open);
  const std::uint64_t used_before = arena->stats().used_bytes;
  const std::size_t reaped = arena->reap_dead_holders();
  // Pickles' references past their lifetime too: a broker does both each
  // round, but an arena whose broker died has nobody else to do it.
  const std::size_t expired = InFlight::expire(*arena);
  const std::uint64_t used_after = arena->stats().used_bytes;
  if (as_json) {
    Json doc = json_document();
    doc["arena"] = name;
    doc["reaped"] = reaped;
    doc["expired_in_flight"] = expired;
    doc["used_before"] = used_before;
    doc["used_after"] = used_after;
    print_json(doc);
  } else {
    std::cout << "arena '" << name << "': reaped " << plural(reaped, "dead holder") << ", ended "
              << plural(expired, "expired in-flight reference") << "; used "
              << format_size(used_before) << " before, " << format_size(used_after) << " after\n";
  }
  return kExitOk;
}

int run_reap_abandoned(const std::string& only, const ArenaOptions& open, bool as_json) {
  if (!only.empty()) Arena::validate_name(only);
  Json removed = Json::array();
  std::vector<std::string> names;
  for (const SegmentEntry& entry : list_segments()) {
    if (!entry.regular_file || (!only.empty() && entry.name != only)) continue;
    try {
      // Opened without blocking, our own regular files only (Arena::attach).
      const auto arena = Arena::attach(entry.name, Access::read_write, open);
      if (!take_snapshot(*arena, Depth::header).abandoned()) continue;  // cheap first look, no lock
      if (arena->remove_if_abandoned()) names.push_back(entry.name);
    } catch (const Error&) {
      // Not a shoal arena, another user's, another layout version, a lock
      // held by a live process: not ours to judge.
    }
  }
  if (as_json) {
    Json doc = json_document();
    for (const std::string& n : names) removed.push_back(n);
    doc["removed"] = removed;
    print_json(doc);
  } else {
    std::cout << "removed " << plural(names.size(), "abandoned arena") << (names.empty() ? "" : ":") << "\n";
    for (const std::string& n : names) std::cout << "  " << n << "\n";
  }
  return kExitOk;
}

int run_destroy(const std::string& name, bool force, const ArenaOptions& open, bool as_json) {
  const DestroyPlan plan = plan_destroy(name, force, open);
  bool refuse = !plan.live_holders.empty() && !force;
  bool destroyed = false;
  bool closing = false;
  if (!refuse && !plan.snapshot) {
    // Unreadable (--force only): nobody can attach it anyway. Arena::destroy
    // throws PermissionDenied when the system refuses.
    destroyed = Arena::destroy(name);
    if (!destroyed) {
      throw ArenaNotFound("no arena '" + name + "' (" + plan.path + "): it vanished before it could be unlinked");
    }
  } else if (!refuse) {
    const auto arena = Arena::attach(name, Access::read_write, open);
    switch (arena->retire(force)) {
      case Arena::RetireOutcome::unlinked: destroyed = true; break;
      case Arena::RetireOutcome::closing: closing = true; break;
      case Arena::RetireOutcome::refused: refuse = true; break;  // a holder attached meanwhile
    }
  }

  if (as_json) {
    Json doc = json_document();
    doc["arena"] = name;
    doc["path"] = plan.path;
    doc["destroyed"] = destroyed;
    doc["closing"] = closing;
    doc["forced"] = force;
    doc["live_holders"] = holders_brief_json(plan.live_holders);
    doc["creator"] = plan.snapshot ? Json{{"pid", plan.snapshot->creator_pid}, {"alive", plan.snapshot->creator_alive}}
                                   : Json(nullptr);
    doc["unread_reason"] = plan.unread_reason.empty() ? Json(nullptr) : Json(plan.unread_reason);
    print_json(doc);
  }
  if (refuse) {
    std::cerr << "shoal: arena '" << name << "' has " << plural(plan.live_holders.size(), "live holder") << ": "
              << describe_holders(plan.live_holders) << "; refusing to destroy it (--force destroys it anyway)\n";
    return kExitProblem;
  }
  if (!as_json) {
    if (closing) {
      std::cout << "arena '" << name << "' is closing: it has " << plural(plan.live_holders.size(), "live holder")
                << " (" << describe_holders(plan.live_holders)
                << "); new holders are refused, and the last to leave unlinks it (" << plan.path << ")\n";
    } else {
      std::cout << "destroyed arena '" << name << "' (" << plan.path << ")\n";
    }
    if (!plan.unread_reason.empty()) {
      std::cout << "note: its holders could not be read (" << plan.unread_reason << ")\n";
    }
    if (plan.snapshot && plan.snapshot->creator_alive) {
      std::cout << "note: its creator, pid " << plan.snapshot->creator_pid
                << ", still runs and keeps its mapping until it exits\n";
    }
  }
  return kExitOk;
}

}  // namespace shoal::cli
