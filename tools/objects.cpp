// objects.cpp — `shoal objects` and `shoal channels`: every block, who holds
// it and where it was made; every channel and what waits on it. Read-only
// and lock-free (census.hpp).
#include <algorithm>
#include <ctime>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "views.hpp"

namespace shoal::cli {

std::uint64_t realtime_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

const char* block_kind_name(std::uint32_t kind) {
  switch (static_cast<layout::BlockKind>(kind)) {
    case layout::BlockKind::none: return "none";
    case layout::BlockKind::raw: return "raw";
    case layout::BlockKind::blob: return "blob";
    case layout::BlockKind::object: return "object";
    case layout::BlockKind::channel: return "channel";
    case layout::BlockKind::ledger: return "ledger";
    case layout::BlockKind::cached: return "cached";
    case layout::BlockKind::channel_end: return "channel_end";
  }
  return "unknown";
}

std::string format_age(std::uint64_t now_ns, std::uint64_t created_ns) {
  if (created_ns == 0 || created_ns > now_ns) return "0 s";
  const std::uint64_t ms = (now_ns - created_ns) / 1'000'000;
  char text[64];
  if (ms < 60'000) {
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(text, sizeof text, "%llu min %02llu s", static_cast<unsigned long long>(ms / 60'000),
                  static_cast<unsigned long long>(ms / 1000 % 60));
  } else {
    std::snprintf(text, sizeof text, "%llu h %02llu min", static_cast<unsigned long long>(ms / 3'600'000),
                  static_cast<unsigned long long>(ms / 60'000 % 60));
  }
  return text;
}

namespace {

const HolderView* holder_at(const Snapshot& holders, std::uint32_t slot) {
  for (const HolderView& h : holders.holders) {
    if (h.slot == slot) return &h;
  }
  return nullptr;
}

std::string group_key(const BlockEntry& b, GroupKey key, const Census& census, const Owner* owner,
                      const Snapshot& holders) {
  switch (key) {
    case GroupKey::kind: return block_kind_name(b.kind);
    case GroupKey::site: {
      const std::string site = census.sites.describe(b.site);
      return site.empty() ? "unknown" : site;
    }
    case GroupKey::holder:
      if (owner == nullptr) return "nobody";
      // One group for every pickle: each entry lives only until its
      // deadline, and the question is how much they pin together.
      if (owner->kind == Owner::Kind::in_flight) return "in-flight";
      return owner_text(*owner, holders);
    case GroupKey::none: break;
  }
  return "";
}

struct Group {
  std::string key;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

// By bytes, largest first. With --group-by holder a block counts once for
// each of its owners.
std::vector<Group> make_groups(const Census& census, GroupKey key, const Snapshot& holders) {
  std::map<std::string, Group> groups;
  auto add = [&](const std::string& k, const BlockEntry& b) {
    Group& g = groups[k];
    g.key = k;
    ++g.count;
    g.bytes += b.size;
  };
  for (const BlockEntry& b : census.blocks) {
    if (key == GroupKey::holder && !b.owners.empty()) {
      for (const Owner& o : b.owners) add(group_key(b, key, census, &o, holders), b);
    } else {
      add(group_key(b, key, census, nullptr, holders), b);
    }
  }
  std::vector<Group> sorted;
  for (auto& [k, g] : groups) sorted.push_back(g);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Group& a, const Group& b) { return a.bytes > b.bytes; });
  return sorted;
}

const char* sort_name(SortKey key) {
  switch (key) {
    case SortKey::size: return "size";
    case SortKey::refs: return "refs";
    case SortKey::age: return "age";
  }
  return "size";
}

const char* group_name(GroupKey key) {
  switch (key) {
    case GroupKey::kind: return "kind";
    case GroupKey::holder: return "holder";
    case GroupKey::site: return "site";
    case GroupKey::none: break;
  }
  return nullptr;
}

void print_walk_problems(const Census& census, const std::string& name) {
  if (!census.walk_error.empty()) {
    std::cout << "problem: the block walk stopped early: " << census.walk_error << " (run `shoal check " << name
              << "`)\n";
  }
  if (!census.sites.error.empty()) std::cout << "problem: site table: " << census.sites.error << '\n';
  print_read_note(std::cout, census.read, name);
}

Json problems_json(Json& doc, const Census& census, const std::string& name) {
  doc["sites_error"] = census.sites.error.empty() ? Json(nullptr) : Json(census.sites.error);
  doc["walk_error"] = census.walk_error.empty() ? Json(nullptr) : Json(census.walk_error);
  doc["read"] = read_json(census.read, name);
  return doc;
}

}  // namespace

std::string owner_text(const Owner& owner, const Snapshot& holders) {
  switch (owner.kind) {
    case Owner::Kind::holder: {
      const HolderView* h = holder_at(holders, owner.slot);
      std::string text = "holder " + std::to_string(owner.slot);
      if (h != nullptr) text += " (pid " + std::to_string(h->pid) + (h->alive ? "" : ", dead") + ")";
      return text;
    }
    case Owner::Kind::channel: return "channel " + to_string(owner.block);
    case Owner::Kind::object: return "object " + to_string(owner.block);
    case Owner::Kind::in_flight: return "in-flight #" + std::to_string(owner.entry);
    case Owner::Kind::channel_end: return "channel end " + to_string(owner.block);
  }
  return "";
}

std::vector<const BlockEntry*> select_objects(const Census& census, const ObjectQuery& query) {
  std::vector<const BlockEntry*> rows;
  for (const BlockEntry& b : census.blocks) rows.push_back(&b);
  auto key = [&](const BlockEntry* b) -> std::uint64_t {
    switch (query.sort) {
      case SortKey::size: return b->size;
      case SortKey::refs: return b->refcount;
      case SortKey::age: return ~b->created_ns;  // oldest first
    }
    return 0;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const BlockEntry* a, const BlockEntry* b) { return key(a) > key(b); });
  if (query.top != 0 && rows.size() > query.top) rows.resize(query.top);
  return rows;
}

Json site_json(const Census& census, std::uint32_t site) {
  const SiteEntry* entry = census.sites.find(site);
  if (entry == nullptr) return nullptr;
  return {{"id", site}, {"file", census.sites.files[entry->file_id - 1]}, {"line", entry->line}};
}

namespace {

// An in-flight owner in `held_by` (a pickle's reference): which entry, and
// its times, so a reader sees how long the block stays pinned.
Json in_flight_owner_json(std::uint64_t entry, const Census& census) {
  // The census attributes an owner only from an entry it read, so the
  // lookup finds it; null times would only mean a census built otherwise.
  const InFlightView* e = census.find_in_flight(entry);
  return {{"type", "in_flight"},
          {"entry", entry},
          {"ticket", e == nullptr ? Json(nullptr) : Json(e->ticket)},
          {"pid", e == nullptr ? Json(nullptr) : Json(e->creator_pid)},
          {"created_ns", e == nullptr ? Json(nullptr) : Json(e->created_ns)},
          {"expires_ns", e == nullptr ? Json(nullptr) : Json(e->expires_ns)}};
}

}  // namespace

Json object_json(const BlockEntry& b, const Census& census, const Snapshot& holders, std::uint64_t now_ns) {
  Json held = Json::array();
  for (const Owner& o : b.owners) {
    switch (o.kind) {
      case Owner::Kind::holder: {
        const HolderView* h = holder_at(holders, o.slot);
        held.push_back({{"type", "holder"},
                        {"slot", o.slot},
                        {"pid", h == nullptr ? Json(nullptr) : Json(h->pid)},
                        {"alive", h == nullptr ? Json(nullptr) : Json(h->alive)}});
        break;
      }
      case Owner::Kind::channel: held.push_back({{"type", "channel"}, {"handle", to_string(o.block)}}); break;
      case Owner::Kind::object: held.push_back({{"type", "object"}, {"handle", to_string(o.block)}}); break;
      case Owner::Kind::in_flight: held.push_back(in_flight_owner_json(o.entry, census)); break;
      case Owner::Kind::channel_end: held.push_back({{"type", "channel_end"}, {"handle", to_string(o.block)}}); break;
    }
  }
  return {{"handle", to_string(b.handle)},
          {"offset", b.handle.offset},
          {"generation", b.handle.generation},
          {"kind", block_kind_name(b.kind)},
          {"size", b.size},
          {"requested", b.requested},
          {"refcount", b.refcount},
          {"frozen", (b.flags & layout::kFrozen) != 0},
          {"created_ns", b.created_ns},
          {"age_ns", now_ns > b.created_ns ? now_ns - b.created_ns : 0},
          {"creator_slot", b.creator_slot == layout::kNoHolder ? Json(nullptr) : Json(b.creator_slot)},
          {"site", site_json(census, b.site)},
          {"held_by", held}};
}

Table objects_table(const std::vector<const BlockEntry*>& rows, const Census& census, const Snapshot& holders,
                    std::uint64_t now_ns, const SizeText& size) {
  Table table({{"HANDLE"},
               {"KIND"},
               {"SIZE", Align::right},
               {"REFS", Align::right},
               {"AGE", Align::right},
               {"SITE"},
               {"HELD BY"}});
  for (const BlockEntry* b : rows) {
    std::string held;
    for (const Owner& o : b->owners) held += (held.empty() ? "" : ", ") + owner_text(o, holders);
    const std::string site = census.sites.describe(b->site);
    table.add_row({to_string(b->handle), block_kind_name(b->kind), size(b->requested),
                   std::to_string(b->refcount), format_age(now_ns, b->created_ns), site.empty() ? "-" : site,
                   held.empty() ? "nobody" : held});
  }
  return table;
}

Json channel_json(const ChannelEntry& c, const Census& census) {
  const BlockEntry* block = census.find(c.handle.offset);
  return {{"handle", to_string(c.handle)},
          {"name", c.name.empty() ? Json(nullptr) : Json(c.name)},
          {"offset", c.handle.offset},
          {"generation", c.handle.generation},
          {"capacity", c.capacity},
          {"state", channel_state_name(c.state)},
          {"pending_items", c.pending_items()},
          {"pending_bytes", c.pending_bytes},
          {"pending_inline", c.pending_inline},
          {"blocked_senders", c.blocked_senders},
          {"blocked_receivers", c.blocked_receivers},
          // Live ends, or null while no end of that role was ever made.
          {"senders", (c.ends_tracked & layout::kSendersTracked) != 0 ? Json(c.senders) : Json(nullptr)},
          {"receivers", (c.ends_tracked & layout::kReceiversTracked) != 0 ? Json(c.receivers) : Json(nullptr)},
          {"closed_by", c.state == static_cast<std::uint32_t>(layout::ChannelState::open) ? Json(nullptr)
                                                                                          : Json(channel_closer_name(c.closed_by))},
          {"sleepers", c.sleepers},
          {"refcount", c.refcount},
          {"site", block == nullptr ? Json(nullptr) : site_json(census, block->site)},
          {"sane", c.sane}};
}

// "2 send, 1 recv"; a role no end was made of is left out; "-" for neither.
std::string ends_text(const ChannelEntry& c) {
  std::string text;
  if ((c.ends_tracked & layout::kSendersTracked) != 0) text = std::to_string(c.senders) + " send";
  if ((c.ends_tracked & layout::kReceiversTracked) != 0) {
    text += (text.empty() ? "" : ", ") + std::to_string(c.receivers) + " recv";
  }
  return text.empty() ? "-" : text;
}

Table channels_table(const Census& census, const SizeText& size) {
  Table table({{"HANDLE"},
               {"NAME"},
               {"STATE"},
               {"CAPACITY", Align::right},
               {"PENDING", Align::right},
               {"BYTES", Align::right},
               {"BLOCKED SEND", Align::right},
               {"BLOCKED RECV", Align::right},
               {"ENDS"},
               {"REFS", Align::right},
               {"SITE"},
               {"NOTE"}});
  for (const ChannelEntry& c : census.channels) {
    const BlockEntry* block = census.find(c.handle.offset);
    const std::string site = block == nullptr ? "" : census.sites.describe(block->site);
    std::string state = channel_state_name(c.state);
    if (c.state == static_cast<std::uint32_t>(layout::ChannelState::closed) && c.closed_by != 0) {
      state += " (" + channel_closer_name(c.closed_by) + ")";
    }
    table.add_row({to_string(c.handle), c.name.empty() ? "-" : c.name, state,
                   std::to_string(c.capacity), std::to_string(c.pending_items()), size(c.pending_bytes),
                   std::to_string(c.blocked_senders), std::to_string(c.blocked_receivers), ends_text(c),
                   std::to_string(c.refcount),
                   site.empty() ? "-" : site, c.sane ? "" : "malformed header: counters not trusted"});
  }
  return table;
}

int run_objects(const std::string& name, const ObjectQuery& query, const ArenaOptions& open, bool as_json,
                const SizeText& size) {
  const auto arena = Arena::attach(name, Access::read_only, open);
  const Snapshot holders = take_snapshot(*arena, Depth::header);
  const Census census = take_census(*arena);
  const std::uint64_t now = realtime_now_ns();
  const auto rows = select_objects(census, query);
  std::uint64_t total_bytes = 0;
  for (const BlockEntry& b : census.blocks) total_bytes += b.size;

  if (as_json) {
    Json doc = json_document();
    doc["arena"] = arena->name();
    doc["now_ns"] = now;
    doc["sort"] = sort_name(query.sort);
    doc["top"] = query.top == 0 ? Json(nullptr) : Json(query.top);
    doc["total"] = {{"count", census.blocks.size()}, {"bytes", total_bytes}};
    Json objects = Json::array();
    for (const BlockEntry* b : rows) objects.push_back(object_json(*b, census, holders, now));
    doc["objects"] = objects;
    doc["group_by"] = group_name(query.group) == nullptr ? Json(nullptr) : Json(group_name(query.group));
    Json groups = nullptr;
    if (query.group != GroupKey::none) {
      groups = Json::array();
      for (const Group& g : make_groups(census, query.group, holders)) {
        groups.push_back({{"key", g.key}, {"count", g.count}, {"bytes", g.bytes}});
      }
    }
    doc["groups"] = groups;
    print_json(problems_json(doc, census, arena->name()));
  } else if (query.group != GroupKey::none) {
    Table table({{query.group == GroupKey::site ? "SITE" : query.group == GroupKey::kind ? "KIND" : "HOLDER"},
                 {"BLOCKS", Align::right},
                 {"BYTES", Align::right}});
    auto groups = make_groups(census, query.group, holders);
    if (query.top != 0 && groups.size() > query.top) groups.resize(query.top);
    for (const Group& g : groups) table.add_row({g.key, std::to_string(g.count), size(g.bytes)});
    table.print(std::cout);
    print_walk_problems(census, arena->name());
  } else {
    if (rows.empty()) {
      std::cout << "arena '" << arena->name() << "' holds no blocks\n";
    } else {
      objects_table(rows, census, holders, now, size).print(std::cout);
      std::cout << rows.size() << " of " << census.blocks.size() << " blocks shown, " << size(total_bytes)
                << " in all (sizes are payload bytes; sorted by " << sort_name(query.sort) << ")\n";
    }
    print_walk_problems(census, arena->name());
  }
  return census.walk_error.empty() ? kExitOk : kExitProblem;
}

int run_channels(const std::string& name, const ArenaOptions& open, bool as_json, const SizeText& size) {
  const auto arena = Arena::attach(name, Access::read_only, open);
  const Census census = take_census(*arena);
  if (as_json) {
    Json doc = json_document();
    doc["arena"] = arena->name();
    Json channels = Json::array();
    for (const ChannelEntry& c : census.channels) channels.push_back(channel_json(c, census));
    doc["channels"] = channels;
    print_json(problems_json(doc, census, arena->name()));
  } else {
    if (census.channels.empty()) {
      std::cout << "arena '" << arena->name() << "' has no channels\n";
    } else {
      channels_table(census, size).print(std::cout);
    }
    print_walk_problems(census, arena->name());
  }
  return census.walk_error.empty() ? kExitOk : kExitProblem;
}

}  // namespace shoal::cli
