// views.hpp — the rows `objects` and `channels` show, shared with `watch`.
//
// Built from a Census (census.hpp) and a Snapshot (snapshot.hpp, for the
// holders' pids and liveness); formatted as JSON (shapes in
// tools/README.md) or as table rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "census.hpp"
#include "report.hpp"
#include "snapshot.hpp"
#include "table.hpp"

namespace shoal::cli {

enum class SortKey { size, refs, age };
enum class GroupKey { none, kind, holder, site };

struct ObjectQuery {
  SortKey sort = SortKey::size;
  std::uint64_t top = 0;  // 0: all
  GroupKey group = GroupKey::none;
};

// Used blocks (all kinds but ledgers), sorted and cut to `top`.
std::vector<const BlockEntry*> select_objects(const Census& census, const ObjectQuery& query);

const char* block_kind_name(std::uint32_t kind);
// "3.2 s", "5 min 12 s", "2 h 03 min"
std::string format_age(std::uint64_t now_ns, std::uint64_t created_ns);
std::uint64_t realtime_now_ns();

Json object_json(const BlockEntry& b, const Census& census, const Snapshot& holders, std::uint64_t now_ns);
Json channel_json(const ChannelEntry& c, const Census& census);
Json site_json(const Census& census, std::uint32_t site);

// Tables, ready to print.
Table objects_table(const std::vector<const BlockEntry*>& rows, const Census& census, const Snapshot& holders,
                    std::uint64_t now_ns, const SizeText& size);
Table channels_table(const Census& census, const SizeText& size);

// "holder 0 (pid 12)", "channel 1234:5", "object 1234:6", "in-flight #3"
std::string owner_text(const Owner& owner, const Snapshot& holders);

}  // namespace shoal::cli
