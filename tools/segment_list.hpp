// segment_list.hpp — the arena files in /dev/shm, for `ls` and `reap --abandoned`.
#pragma once

#include <string>
#include <vector>

namespace shoal::cli {

inline constexpr const char* kShmDirectory = "/dev/shm";

struct SegmentEntry {
  std::string name;  // without the "shoal." prefix
  std::string path;
  bool regular_file = true;  // from the directory entry alone: nothing is opened
};

// Every /dev/shm entry named shoal.*, sorted by name. Throws SystemError
// when the directory cannot be read.
std::vector<SegmentEntry> list_segments();

}  // namespace shoal::cli
