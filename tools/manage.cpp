// manage.cpp — the two commands that change an arena: reap and destroy.
//
// reap maps the arena read-write and goes through the core
// (Arena::reap_dead_holders, which takes the arena lock), exactly as a
// broker would. destroy only reads the holder slots (read-only mapping, no
// lock) to decide whether it may unlink the segment.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "report.hpp"
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

int run_destroy(const std::string& name, bool force, const ArenaOptions& open, bool as_json) {
  const DestroyPlan plan = plan_destroy(name, force, open);
  const bool refuse = !plan.live_holders.empty() && !force;
  // Arena::destroy throws PermissionDenied when the system refuses.
  const bool destroyed = !refuse && Arena::destroy(name);
  if (!refuse && !destroyed) {
    throw ArenaNotFound("no arena '" + name + "' (" + plan.path + "): it vanished before it could be unlinked");
  }

  if (as_json) {
    Json doc = json_document();
    doc["arena"] = name;
    doc["path"] = plan.path;
    doc["destroyed"] = destroyed;
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
    std::cout << "destroyed arena '" << name << "' (" << plan.path << ")\n";
    if (!plan.unread_reason.empty()) {
      std::cout << "note: its holders could not be read (" << plan.unread_reason << ")\n";
    }
    if (!plan.live_holders.empty()) {
      std::cout << "note: still attached, keeping their mappings until they detach: "
                << describe_holders(plan.live_holders) << "\n";
    }
    if (plan.snapshot && plan.snapshot->creator_alive) {
      std::cout << "note: its creator, pid " << plan.snapshot->creator_pid
                << ", still runs and keeps its mapping until it exits\n";
    }
  }
  return kExitOk;
}

}  // namespace shoal::cli
