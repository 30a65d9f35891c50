// block_owner.hpp — one held block shared by several Python objects.
//
// Two-level counting (holder.hpp): the arena sees one reference per holder,
// and counting the Python objects that use the block is ours. A BlockOwner
// is that one reference; the Buffers that view the block share it through
// a shared_ptr, and the last to go releases it. It also keeps the session
// (the holder) alive, so the block can always be released.
//
// Dropping the last shared_ptr is safe anywhere: the block is an Owned
// (owned.hpp), back to the recycling cache with the GIL held if it can be,
// else released without it, and the session's last reference deletes it
// through an Owned too (arena_session.cpp). Copies are made and dropped
// with the GIL held (every Python object sharing one lives in the
// interpreter of its session).
#pragma once

#include <memory>
#include <utility>

#include "arena_session.hpp"
#include "owned.hpp"
#include "shoal/holder.hpp"

namespace shoal_py {

struct BlockOwner {
  BlockOwner(std::shared_ptr<ArenaSession> s, shoal::HeldBlock b) : session(std::move(s)), block(std::move(b)) {}

  std::shared_ptr<ArenaSession> session;
  OwnedBlock block;  // declared after the session: goes before the holder it points at
};

}  // namespace shoal_py
