// handle.hpp — a reference to a block, as it travels between processes.
//
// A Handle is a value: copy it, compare it, put it in a message. It owns
// nothing (ownership is HeldBlock's job). Following one always goes through
// Arena::resolve(), which rejects an offset that is out of range, not the
// start of a block, or whose block has since been freed and reused (the
// generation no longer matches).
#pragma once

#include <cstdint>
#include <string>

namespace shoal {

struct Handle {
  std::uint64_t offset = 0;      // of the block header, from the segment start
  std::uint64_t generation = 0;  // unique per allocation

  explicit operator bool() const { return offset != 0; }
  friend bool operator==(const Handle&, const Handle&) = default;
};

inline std::string to_string(const Handle& h) {
  return std::to_string(h.offset) + ":" + std::to_string(h.generation);
}

}  // namespace shoal
