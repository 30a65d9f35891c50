// mapping_registry.hpp — one mapping of an arena per process.
//
// Every interpreter of a process attaches the arenas it uses on its own
// (each has its own module state and sessions), and each attach used to
// map the file again: three mappings of one arena were seen in one
// process, and each paid its own page faults for the same memory (a first
// read of 1 GiB through a fresh mapping costs ~100 ms of faults; through
// the mapping another interpreter already touched, none). The registry
// hands every attach of the same file the same mapping, shared by
// reference count and unmapped when its last user goes.
//
// The key is the file itself (device and inode, as fstat tells on the
// descriptor just opened) and the access: a live mapping keeps its file's
// inode referenced, so the number cannot name another file while the
// entry can still be found. A read-only attach gets a read-only mapping of
// its own, never a writable one; a mapping whose size no longer matches
// the file (someone truncated it) is not reused.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "segment_file.hpp"

namespace shoal::segment {

struct MappingKey {
  dev_t device = 0;
  ino_t inode = 0;
  bool writable = false;
  std::uint64_t bytes = 0;  // the file's size: a mapping of another size is not reused
};

// The process's mapping of the file `key` names, or a new one made by
// `map` and registered. Thread-safe; `map` runs outside the registry's
// lock (it may be slow) and may throw, leaving nothing registered.
std::shared_ptr<const Mapping> shared_mapping(const MappingKey& key, const std::function<Mapping()>& map);

// How many registered mappings are alive (tests).
std::size_t live_mappings();

}  // namespace shoal::segment
