// inspect.cpp — the read-only commands: ls, stat, holders, check.
//
// Each maps the arena with Access::read_only (PROT_READ: the kernel itself
// stops us from writing) and reads it through take_snapshot() (holders also
// through take_census(), for the in-flight references and their blocks) or,
// for check, check_image() under the same seqlock. None takes the arena lock,
// so a stuck or dead process cannot make them wait.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "census.hpp"
#include "commands.hpp"
#include "report.hpp"
#include "snapshot.hpp"
#include "table.hpp"
#include "views.hpp"
#include "segment_list.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"

namespace shoal::cli {
namespace {


std::shared_ptr<Arena> attach_read_only(const std::string& name, const ArenaOptions& open) {
  return Arena::attach(name, Access::read_only, open);
}

std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }

// 1 - largest_free / free: 0 when all free space is one block, near 1 when
// it is scattered in small pieces.
double fragmentation(std::uint64_t largest_free, std::uint64_t free_bytes) {
  if (free_bytes == 0) return 0.0;
  return 1.0 - static_cast<double>(std::min(largest_free, free_bytes)) / static_cast<double>(free_bytes);
}

// A short remark on an unstable read, for a table cell.
std::string short_read_note(const ReadOutcome& read) {
  switch (read.stability) {
    case Stability::stable: return "";
    case Stability::changing: return "changing: figures approximate";
    case Stability::held:
      return read.lock_owner_pid > 0 ? "locked by live pid " + std::to_string(read.lock_owner_pid) : "locked";
    case Stability::abandoned: return "lock abandoned by dead pid " + std::to_string(read.lock_owner_pid);
  }
  return "";
}

Json holder_counts_json(const Snapshot& s) { return {{"alive", s.holders_alive()}, {"dead", s.holders_dead()}}; }

Json creator_json(const Snapshot& s) { return {{"pid", s.creator_pid}, {"alive", s.creator_alive}}; }

// ------------------------------------------------------------------ ls ----

// What `ls` learned about one entry: a snapshot, or why there is none.
struct ListedArena {
  SegmentEntry entry;
  std::unique_ptr<Snapshot> snapshot;
  std::string error_code;
  std::string error;
};

ListedArena inspect_entry(const SegmentEntry& entry, const ArenaOptions& open) {
  ListedArena listed{entry, nullptr, "", ""};
  if (!entry.regular_file) {
    listed.error_code = "not_an_arena";
    listed.error = entry.path + " is not a shoal arena: it is not a regular file";
    return listed;
  }
  try {
    const auto arena = attach_read_only(entry.name, open);
    listed.snapshot = std::make_unique<Snapshot>(take_snapshot(*arena, Depth::header));
  } catch (const Error& e) {
    listed.error_code = error_code_name(e.code());
    listed.error = e.what();
  }
  return listed;
}

Json reaper_json(const Snapshot& s) {
  if (s.reaper_pid == 0) return nullptr;
  return {{"pid", s.reaper_pid}, {"alive", s.reaper_alive}};
}

// "abandoned" (nobody left to clean it up: `shoal reap --abandoned`),
// "closing" (being destroyed: unlinked when its last holder leaves) or "open".
std::string arena_state(const Snapshot& s) {
  if (s.abandoned()) return "abandoned";
  return s.closing() ? "closing" : "open";
}

void print_ls_json(const std::vector<ListedArena>& listed) {
  Json arenas = Json::array();
  Json unreadable = Json::array();
  for (const ListedArena& a : listed) {
    if (a.snapshot == nullptr) {
      unreadable.push_back({{"name", a.entry.name},
                            {"path", a.entry.path},
                            {"error", {{"code", a.error_code}, {"message", a.error}}}});
      continue;
    }
    const Snapshot& s = *a.snapshot;
    arenas.push_back({{"name", s.name},
                      {"path", s.path},
                      {"size", s.size},
                      {"used_bytes", s.used_bytes},
                      {"holders", holder_counts_json(s)},
                      {"creator", creator_json(s)},
                      {"reaper", reaper_json(s)},
                      {"state", arena_state(s)},
                      {"created_ns", s.created_ns},
                      {"read", read_json(s.read, s.name)}});
  }
  Json doc = json_document();
  doc["directory"] = kShmDirectory;
  doc["arenas"] = arenas;
  doc["unreadable"] = unreadable;
  print_json(doc);
}

void print_ls_table(const std::vector<ListedArena>& listed, const SizeText& size) {
  if (listed.empty()) {
    std::cout << "no shoal arenas in " << kShmDirectory << '\n';
    return;
  }
  Table table({{"NAME"},
               {"SIZE", Align::right},
               {"USED", Align::right},
               {"HOLDERS", Align::right},
               {"DEAD", Align::right},
               {"CREATOR"},
               {"STATE"},
               {"NOTE"}});
  for (const ListedArena& a : listed) {
    if (a.snapshot == nullptr) {
      table.add_row({a.entry.name, "-", "-", "-", "-", "-", "-", a.error});
      continue;
    }
    const Snapshot& s = *a.snapshot;
    table.add_row({s.name, size(s.size), size(s.used_bytes), std::to_string(s.holders_alive()),
                   std::to_string(s.holders_dead()), format_pid(s.creator_pid, s.creator_alive), arena_state(s),
                   short_read_note(s.read)});
  }
  table.print(std::cout);
}

// ---------------------------------------------------------------- stat ----

const char* kind_name(std::size_t kind) { return block_kind_name(static_cast<std::uint32_t>(kind)); }

Json tally_json(const Tally& t) { return {{"count", t.count}, {"bytes", t.bytes}}; }

Json blocks_json(const BlockWalk& walk) {
  Json blocks = Json::object();
  for (std::size_t kind = 1; kind < layout::kBlockKindCount; ++kind) {
    blocks[kind_name(kind)] = tally_json(walk.used_by_kind[kind]);
  }
  blocks["free"] = tally_json(walk.free);
  blocks["unknown"] = tally_json(walk.unknown);
  return blocks;
}

void print_stat_json(const Snapshot& s) {
  const std::uint64_t free_bytes = saturating_sub(s.heap_bytes, s.used_bytes);
  Json doc = json_document();
  doc["arena"] = s.name;
  doc["path"] = s.path;
  doc["size"] = s.size;
  doc["heap_bytes"] = s.heap_bytes;
  doc["used_bytes"] = s.used_bytes;
  doc["free_bytes"] = free_bytes;
  doc["largest_free_block"] = s.blocks.largest_free;
  doc["fragmentation"] = fragmentation(s.blocks.largest_free, free_bytes);
  doc["blocks"] = blocks_json(s.blocks);
  doc["holders"] = holder_counts_json(s);
  doc["repairs"] = s.repairs;
  doc["reaped_holders"] = s.reaped_holders;
  doc["creator"] = creator_json(s);
  doc["created_ns"] = s.created_ns;
  doc["walk_error"] = s.blocks.error.empty() ? Json(nullptr) : Json(s.blocks.error);
  doc["read"] = read_json(s.read, s.name);
  print_json(doc);
}

void print_stat_table(const Snapshot& s, const SizeText& size) {
  const std::uint64_t free_bytes = saturating_sub(s.heap_bytes, s.used_bytes);
  const double used_share = s.heap_bytes == 0 ? 0.0 : static_cast<double>(s.used_bytes) / static_cast<double>(s.heap_bytes);
  Table fields({{""}, {""}});
  fields.add_row({"arena", s.name + "  (" + s.path + ")"});
  fields.add_row({"size", size(s.size)});
  fields.add_row({"heap", size(s.heap_bytes)});
  fields.add_row({"used", size(s.used_bytes) + "  (" + format_percent(used_share) + " of heap)"});
  fields.add_row({"free", size(free_bytes)});
  fields.add_row({"largest free block", size(s.blocks.largest_free)});
  fields.add_row({"fragmentation", format_percent(fragmentation(s.blocks.largest_free, free_bytes))});
  fields.add_row({"holders", std::to_string(s.holders_alive()) + " alive, " + std::to_string(s.holders_dead()) + " dead"});
  fields.add_row({"repairs", std::to_string(s.repairs)});
  fields.add_row({"reaped holders", std::to_string(s.reaped_holders)});
  // Only when there are some: each pins a block for a pickle (`holders` lists them).
  if (s.in_flight != 0) fields.add_row({"in-flight refs", std::to_string(s.in_flight) + " (held for pickles)"});
  fields.add_row({"created", format_time(s.created_ns) + " by pid " + format_pid(s.creator_pid, s.creator_alive)});
  fields.print(std::cout);

  std::cout << '\n';
  Table kinds({{"KIND"}, {"BLOCKS", Align::right}, {"BYTES", Align::right}});
  for (std::size_t kind = 1; kind < layout::kBlockKindCount; ++kind) {
    const Tally& t = s.blocks.used_by_kind[kind];
    kinds.add_row({kind_name(kind), std::to_string(t.count), size(t.bytes)});
  }
  kinds.add_row({"free", std::to_string(s.blocks.free.count), size(s.blocks.free.bytes)});
  if (s.blocks.unknown.count != 0) {
    kinds.add_row({"unknown", std::to_string(s.blocks.unknown.count), size(s.blocks.unknown.bytes)});
  }
  kinds.print(std::cout);
  if (!s.blocks.error.empty()) {
    std::cout << "problem: the block walk stopped early: " << s.blocks.error << " (run `shoal check " << s.name
              << "`)\n";
  }
  print_read_note(std::cout, s.read, s.name);
}

// ------------------------------------------------------------- holders ----

Json holders_json(const Snapshot& s) {
  Json holders = Json::array();
  for (const HolderView& h : s.holders) {
    holders.push_back({{"slot", h.slot},
                       {"pid", h.pid},
                       {"start_time", h.start_time},
                       {"interpreter_id", h.interpreter_id < 0 ? Json(nullptr) : Json(h.interpreter_id)},
                       {"alive", h.alive},
                       {"refs_held", h.refs_held},
                       {"bytes_held", h.bytes_held},
                       {"attached_ns", h.attached_ns}});
  }
  return holders;
}

void print_holders_table(const Snapshot& s, const SizeText& size) {
  if (s.holders.empty()) {
    std::cout << "arena '" << s.name << "' has no holders\n";
  } else {
    Table table({{"SLOT", Align::right},
                 {"PID", Align::right},
                 {"INTERP", Align::right},
                 {"STATE"},
                 {"REFS", Align::right},
                 {"HELD", Align::right},
                 {"ATTACHED"}});
    for (const HolderView& h : s.holders) {
      table.add_row({std::to_string(h.slot), std::to_string(h.pid),
                     h.interpreter_id < 0 ? "-" : std::to_string(h.interpreter_id), h.alive ? "alive" : "dead",
                     std::to_string(h.refs_held), size(h.bytes_held), format_time(h.attached_ns)});
    }
    table.print(std::cout);
  }
  if (s.holders_dead() != 0) {
    std::cout << "dead holders keep their references until reaped: `shoal reap " << s.name
              << "` (a broker does it on its own)\n";
  }
}

// ----------------------------------------------------------- in-flight ----
//
// References the arena itself holds for pickles (in_flight_view.hpp), shown
// after the holders: each pins its block until its deadline, whoever made it.

Json in_flight_json(const Census& census) {
  const std::uint64_t now = census.clocks.realtime_ns;
  Json list = Json::array();
  for (const InFlightView& e : census.in_flight) {
    // Null when the entry names no live block (or one past a broken chain).
    const BlockEntry* b = census.find(e.block);
    list.push_back({{"entry", e.index},
                    {"ticket", e.ticket},
                    {"handle", to_string(e.block)},
                    {"offset", e.block.offset},
                    {"generation", e.block.generation},
                    {"kind", b == nullptr ? Json(nullptr) : Json(block_kind_name(b->kind))},
                    {"size", b == nullptr ? Json(nullptr) : Json(b->size)},
                    {"created_ns", e.created_ns},
                    {"age_ns", now > e.created_ns ? now - e.created_ns : 0},
                    {"expires_ns", e.expires_ns},
                    {"left_ns", e.left_ns},
                    {"pid", e.creator_pid}});
  }
  return list;
}

// Nothing at all when there are none: most arenas have no pickles in flight.
void print_in_flight_table(const Census& census, const std::string& arena, const SizeText& size) {
  if (census.in_flight.empty()) return;
  const std::uint64_t now = census.clocks.realtime_ns;
  bool any_due = false;
  bool any_unnamed = false;
  for (const InFlightView& e : census.in_flight) {
    any_due = any_due || e.left_ns <= 0;
    any_unnamed = any_unnamed || census.find(e.block) == nullptr;
  }
  std::vector<Column> columns{{"ENTRY", Align::right},
                              {"BLOCK"},
                              {"KIND"},
                              {"SIZE", Align::right},
                              {"AGE", Align::right},
                              {"LEFT", Align::right},
                              {"PID", Align::right}};
  if (any_unnamed) columns.push_back({"NOTE"});
  Table table(std::move(columns));
  for (const InFlightView& e : census.in_flight) {
    const BlockEntry* b = census.find(e.block);
    table.add_row({std::to_string(e.index), to_string(e.block), b == nullptr ? "-" : block_kind_name(b->kind),
                   b == nullptr ? "-" : size(b->requested), format_age(now, e.created_ns),
                   e.left_ns <= 0 ? "due" : format_age(e.expires_ns, now), std::to_string(e.creator_pid),
                   b != nullptr ? "" : census.walk_error.empty() ? "names no live block" : "block not found"});
  }
  std::cout << "\nin-flight references (held by the arena for pickles until LEFT runs out)\n";
  table.print(std::cout);
  if (any_due) {
    std::cout << "due: past its deadline, it still holds its block until the arena's broker ends it (every "
                 "round)\n";
  }
  if (any_unnamed && !census.walk_error.empty()) {
    std::cout << "problem: the block walk stopped early: " << census.walk_error << " (run `shoal check "
              << arena << "`)\n";
  }
}

}  // namespace

int run_ls(const ArenaOptions& open, bool as_json, const SizeText& size) {
  std::vector<ListedArena> listed;
  for (const SegmentEntry& entry : list_segments()) listed.push_back(inspect_entry(entry, open));
  if (as_json) {
    print_ls_json(listed);
  } else {
    print_ls_table(listed, size);
  }
  return kExitOk;
}

int run_stat(const std::string& name, const ArenaOptions& open, bool as_json, const SizeText& size) {
  const auto arena = attach_read_only(name, open);
  const Snapshot s = take_snapshot(*arena, Depth::blocks);
  if (as_json) {
    print_stat_json(s);
  } else {
    print_stat_table(s, size);
  }
  return s.blocks.error.empty() ? kExitOk : kExitProblem;
}

int run_holders(const std::string& name, const ArenaOptions& open, bool as_json, const SizeText& size) {
  const auto arena = attach_read_only(name, open);
  const Snapshot s = take_snapshot(*arena, Depth::header);
  // A second read, for the in-flight entries and the blocks they name: the
  // two may straddle a change, like `objects`' holders and blocks.
  const Census census = take_census(*arena);
  // The note of whichever read was less stable.
  const ReadOutcome& read = s.read.consistent() ? census.read : s.read;
  if (as_json) {
    Json doc = json_document();
    doc["arena"] = s.name;
    doc["holders"] = holders_json(s);
    doc["in_flight"] = in_flight_json(census);
    doc["read"] = read_json(read, s.name);
    print_json(doc);
  } else {
    print_holders_table(s, size);
    print_in_flight_table(census, s.name, size);
    print_read_note(std::cout, read, s.name);
  }
  return kExitOk;
}

int run_check(const std::string& name, const ArenaOptions& open, bool as_json) {
  const auto arena = attach_read_only(name, open);
  std::vector<std::string> problems;
  // check_image() bounds everything it reads; the seqlock only tells
  // whether the arena held still while it ran.
  const ReadOutcome read =
      read_consistently(arena->base(), [&] { problems = check_image(arena->base(), arena->size()); });
  const bool sound = problems.empty();
  if (as_json) {
    Json doc = json_document();
    doc["arena"] = arena->name();
    doc["sound"] = sound;
    doc["problems"] = problems;
    doc["read"] = read_json(read, arena->name());
    print_json(doc);
  } else if (sound) {
    std::cout << "arena '" << arena->name() << "' is sound\n";
  } else {
    std::cout << "arena '" << arena->name() << "' has " << problems.size()
              << (problems.size() == 1 ? " problem:\n" : " problems:\n");
    for (const std::string& p : problems) std::cout << "  - " << p << '\n';
  }
  if (!as_json) print_read_note(std::cout, read, arena->name());
  return sound ? kExitOk : kExitProblem;
}

}  // namespace shoal::cli
