// call_site.hpp — where in Python a block is being made, for `shoal objects`.
//
// calling_site() returns the site id (shoal::Arena::intern_site) of the
// Python frame that called into the extension — the line of `shoal.empty`,
// `arena.empty` or `Channel.send` — in the session's arena, or 0 when there
// is no Python frame or the arena's site table is full. The common case is
// one hash lookup in the session's cache (ArenaSession::cached_site); a new
// (file, line) interns it, which takes the arena lock without the GIL.
// Needs the GIL; never leaves a Python error set.
#pragma once

#include <cstdint>

#include "arena_session.hpp"

namespace shoal_py {

std::uint32_t calling_site(ArenaSession& session);

}  // namespace shoal_py
