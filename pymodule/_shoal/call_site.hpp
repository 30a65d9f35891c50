// call_site.hpp — where in Python a block is being made, for `shoal objects`.
//
// calling_site() returns the site id (shoal::Arena::intern_site) of the
// Python frame that called into the extension — the line of `shoal.empty`,
// `arena.empty` or `Channel.send` — in the session's arena, or 0 when there
// is no Python frame or the arena's site table is full. Needs the GIL;
// never leaves a Python error set.
//
// Two caches keep this off the hot path. CPython finds a frame's line by
// walking its code object's line table from the start, which costs in
// proportion to how far into the function the call is (16 µs per call at
// the end of a 5,000-line module loop, measured); so each interpreter
// remembers the line of every (code object, instruction) it has seen, in a
// LineCache holding a reference on each code object, so that no other code
// object can take its address while it is a key. Then the session's cache
// (ArenaSession::cached_site) maps (file, line) to the arena's site id; a
// new one is interned, which takes the arena lock without the GIL.
#pragma once

#include <Python.h>

#include <cstdint>
#include <unordered_map>

#include "arena_session.hpp"

namespace shoal_py {

struct ModuleState;

class LineCache {
 public:
  LineCache() = default;
  LineCache(const LineCache&) = delete;
  LineCache& operator=(const LineCache&) = delete;
  ~LineCache() { clear(); }

  // The line of `frame`'s current instruction (-1 if unknown). GIL held.
  int line_of(PyFrameObject* frame);
  // Drops every entry and its code object's reference. GIL held.
  void clear();

 private:
  // A program that keeps making code objects (exec in a loop) would keep
  // them all alive through us: past this many entries the cache starts over.
  static constexpr std::size_t kMaxEntries = 4096;

  struct Key {
    PyCodeObject* code;
    int lasti;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<const void*>()(k.code) ^ (static_cast<std::size_t>(k.lasti) * 0x9E3779B97F4A7C15ull);
    }
  };
  std::unordered_map<Key, int, KeyHash> lines_;
};

std::uint32_t calling_site(ModuleState* state, ArenaSession& session);

}  // namespace shoal_py
