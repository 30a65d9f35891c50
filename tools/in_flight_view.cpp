// in_flight_view.cpp — see in_flight_view.hpp.
#include "in_flight_view.hpp"

#include <time.h>

#include <algorithm>
#include <limits>

#include "shoal/in_flight.hpp"
#include "shoal/layout.hpp"

namespace shoal::cli {
namespace {

using layout::InFlightEntry;
using layout::InFlightTableHeader;

// now + delta, kept inside [0, UINT64_MAX]: a garbage deadline gives a
// garbage time, never a wrapped one.
std::uint64_t shifted(std::uint64_t now, std::int64_t delta) {
  if (delta >= 0) {
    const auto up = static_cast<std::uint64_t>(delta);
    return up > std::numeric_limits<std::uint64_t>::max() - now ? std::numeric_limits<std::uint64_t>::max() : now + up;
  }
  const std::uint64_t down = 0 - static_cast<std::uint64_t>(delta);  // |delta|, also for INT64_MIN
  return down > now ? 0 : now - down;
}

// a - b as a signed count of nanoseconds, saturated: both are untrusted
// (a deadline read from the arena) or far apart.
std::int64_t difference(std::uint64_t a, std::uint64_t b) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (a >= b) return a - b > kMax ? std::numeric_limits<std::int64_t>::max() : static_cast<std::int64_t>(a - b);
  return b - a > kMax ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(b - a);
}

}  // namespace

Clocks Clocks::now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const std::uint64_t realtime =
      static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
  return {realtime, InFlight::boot_ns()};
}

std::vector<InFlightView> read_in_flight(const ArenaImage& image, const Clocks& clocks) {
  std::vector<InFlightView> entries;
  if (!image.has_header()) return entries;
  const InFlightTableHeader table = image.in_flight_table();
  // `extent` is derived (repair recomputes it) and may be anything after a
  // stray write: bounded once, here, and only this value is used. Entries
  // past it are unused by the table's own rule; `shoal check` scans them all
  // and reports an extent that hides one.
  const std::uint64_t extent = std::min(table.extent, layout::kInFlightEntries);
  for (std::uint64_t i = 0; i < extent; ++i) {
    const InFlightEntry entry = image.in_flight_entry(i);
    if (entry.offset == 0) continue;
    InFlightView view;
    view.index = i;
    view.block = {entry.offset, entry.generation};
    view.ticket = entry.ticket;
    view.created_ns = entry.created_ns;
    view.left_ns = difference(entry.expires_boot_ns, clocks.boot_ns);
    view.expires_ns = shifted(clocks.realtime_ns, view.left_ns);
    view.creator_pid = entry.creator_pid;
    entries.push_back(view);
  }
  return entries;
}

}  // namespace shoal::cli
