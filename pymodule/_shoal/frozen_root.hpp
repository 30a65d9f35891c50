// frozen_root.hpp — one frozen object opened for views (shoal.freeze()).
//
// Every view of an object (the FrozenDict shoal.freeze() returned and each
// nested view taken from it) shares one FrozenRoot: the object's block,
// held (a BlockOwner, which also keeps the arena session), and one
// FrozenObject over it whose Cap'n Proto readers the views keep. The
// FrozenObject reads without a traversal limit (a view is read a little at
// a time, as often as its user asks: frozen.hpp); a whole-value read
// through it bounds its own work (value_thaw.cpp counts the values it
// builds).
//
// Lifetime: shared by the views, all in the interpreter of the session;
// copied and dropped with the GIL held. The last view's going releases the
// block as every BlockOwner does.
#pragma once

#include <memory>
#include <utility>

#include "block_owner.hpp"
#include "shoal/frozen.hpp"

namespace shoal_py {

struct FrozenRoot {
  explicit FrozenRoot(std::shared_ptr<BlockOwner> o)
      : owner(std::move(o)),
        object(owner->session->arena(), owner->block->handle(), shoal::heap::Traversal::unlimited) {}

  std::shared_ptr<BlockOwner> owner;  // declared first: outlives the reader over its block
  shoal::heap::FrozenObject object;   // InvalidHandle or CorruptObject if the block is not a readable object
};

}  // namespace shoal_py
