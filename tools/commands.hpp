// commands.hpp — the `shoal` subcommands.
//
// Each prints its result to stdout, as aligned tables or, with json=true,
// as one JSON object (shapes in tools/README.md), and returns the exit
// status. Failures of the core (no such arena, permission denied, not a
// shoal arena, ...) propagate as shoal::Error; main() reports them.
//
// inspect.cpp holds the read-only commands (ls, stat, holders, check),
// objects.cpp `objects` and `channels`, dump.cpp `dump`, watch.cpp `watch`:
// they map the arena read-only and never lock it. manage.cpp holds the two
// that change things (reap, destroy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "shoal/arena.hpp"

namespace shoal::cli {

inline constexpr int kExitOk = 0;       // done; the arena is sound
inline constexpr int kExitProblem = 1;  // a problem found, a refusal, or an arena error
inline constexpr int kExitUsage = 2;    // bad command line or arena name

// `open` is how each command attaches: with --other-user, its other_user
// is set and root may open an arena another user owns (never needed for
// one's own; without it such a file is refused, see Arena::attach).
// `size` is how the table commands (ls, stat, holders, objects, channels,
// watch) show sizes: human units, or exact bytes with --bytes.
class SizeText;  // report.hpp
int run_ls(const ArenaOptions& open, bool as_json, const SizeText& size);
int run_stat(const std::string& name, const ArenaOptions& open, bool as_json, const SizeText& size);
int run_holders(const std::string& name, const ArenaOptions& open, bool as_json, const SizeText& size);
int run_check(const std::string& name, const ArenaOptions& open, bool as_json);
struct ObjectQuery;  // views.hpp
int run_objects(const std::string& name, const ObjectQuery& query, const ArenaOptions& open, bool as_json,
                const SizeText& size);
int run_channels(const std::string& name, const ArenaOptions& open, bool as_json, const SizeText& size);
int run_dump(const std::string& name, const std::string& handle, std::size_t max_items, const ArenaOptions& open,
             bool as_json);
// count 0: until stopped; top: how many blocks each refresh lists.
int run_watch(const std::string& name, double interval, std::uint64_t count, std::uint64_t top,
              const ArenaOptions& open, bool as_json, const SizeText& size);
int run_reap(const std::string& name, const ArenaOptions& open, bool as_json);
// Every arena nobody is left to clean up (`ls` shows it abandoned), removed;
// only arena `only` if it is not empty.
int run_reap_abandoned(const std::string& only, const ArenaOptions& open, bool as_json);
int run_destroy(const std::string& name, bool force, const ArenaOptions& open, bool as_json);

}  // namespace shoal::cli
