// segment_list.cpp — see segment_list.hpp.
#include "segment_list.hpp"

#include <algorithm>
#include <filesystem>
#include <string_view>

#include "shoal/errors.hpp"

namespace shoal::cli {

std::vector<SegmentEntry> list_segments() {
  constexpr std::string_view kSegmentPrefix = "shoal.";
  std::vector<SegmentEntry> entries;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kShmDirectory, ec)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with(kSegmentPrefix)) continue;
    std::error_code type_ec;
    entries.push_back({file.substr(kSegmentPrefix.size()), entry.path().string(), entry.is_regular_file(type_ec)});
  }
  if (ec) throw SystemError(std::string("cannot list ") + kShmDirectory + ": " + ec.message());
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return entries;
}

}  // namespace shoal::cli
