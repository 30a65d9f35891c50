// block_owner.hpp — one held block shared by several Python objects.
//
// Two-level counting (holder.hpp): the arena sees one reference per holder,
// and counting the Python objects that use the block is ours. A BlockOwner
// is that one reference; the Buffers that view the block share it through
// a shared_ptr, and the last to go releases it. It also keeps the session
// (the holder) alive, so the block can always be released.
//
// Dropping the last shared_ptr takes the arena lock: do it without the GIL.
#pragma once

#include <memory>
#include <utility>

#include "arena_session.hpp"
#include "shoal/holder.hpp"

namespace shoal_py {

struct BlockOwner {
  BlockOwner(std::shared_ptr<ArenaSession> s, shoal::HeldBlock b) : session(std::move(s)), block(std::move(b)) {}
  ~BlockOwner() { block.reset(); }  // the block before the holder it points at

  std::shared_ptr<ArenaSession> session;
  shoal::HeldBlock block;
};

}  // namespace shoal_py
