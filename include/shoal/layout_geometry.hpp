// layout_geometry.hpp — where things lie in an arena segment, and the
// units everything in it is cut to (part of layout.hpp).
#pragma once

#include <cstdint>

namespace shoal::layout {

inline constexpr std::uint64_t kAlign = 64;                 // block and payload alignment
inline constexpr std::uint64_t kBlockHeaderBytes = 64;
inline constexpr std::uint64_t kMinBlockBytes = 2 * kAlign;  // header + 64-byte payload
// ArenaHeader, padded, then the backing map, the site table and the in-flight
// table (layout_header_tables.hpp).
inline constexpr std::uint64_t kHeaderBytes = 512 * 1024;
inline constexpr std::uint64_t kMinArenaBytes = 1024 * 1024;

// The bitmap's size in an arena of `arena_size` bytes: one bit per 64-byte
// unit after the header, rounded up to whole 64-byte units. The geometry
// (bitmap at kHeaderBytes, heap right after it, to the end) follows from
// the size alone, so anyone holding the mapping can tell a header whose
// geometry was overwritten.
inline constexpr std::uint64_t bitmap_bytes_for(std::uint64_t arena_size) {
  const std::uint64_t units = (arena_size - kHeaderBytes) / kAlign;
  return ((units + 63) / 64 * 8 + kAlign - 1) / kAlign * kAlign;
}

inline constexpr std::uint32_t kMaxHolders = 1024;
inline constexpr std::uint16_t kNoHolder = 0xFFFF;
inline constexpr std::uint32_t kSizeClasses = 192;
inline constexpr std::uint32_t kClassMaskWords = kSizeClasses / 64;

}  // namespace shoal::layout
