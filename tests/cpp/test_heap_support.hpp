// test_heap_support.hpp — a fixture for the heap's tests (an arena and a
// holder, with a baseline of used bytes to return to) and helpers that
// forge object blocks from raw bytes, the way corruption would.
#pragma once

#include <gtest/gtest.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/heap.hpp"
#include "shoal/holder.hpp"
#include "test_heap_tree.hpp"
#include "test_support.hpp"

namespace shoal::testing {

class HeapTest : public ::testing::Test {
 protected:
  explicit HeapTest(std::uint64_t arena_bytes = 512ull << 20) : name_("heap") {
    arena_ = Arena::create(name_.name, arena_bytes);
    holder_ = arena_->attach_holder();
    baseline_ = arena_->stats().used_bytes;
  }

  // Every test ends with a sound arena; one that released everything it
  // made ends back at the baseline (checked where a test says so).
  void TearDown() override { EXPECT_TRUE(arena_->check().empty()); }

  std::uint64_t used() { return arena_->stats().used_bytes; }

  Tree round_trip(const Tree& t) {
    HeldBlock object = freeze_tree(*holder_, t);
    heap::FrozenObject frozen(*arena_, object.handle());
    return thaw(frozen.root());
  }

  ScopedName name_;
  std::shared_ptr<Arena> arena_;
  std::unique_ptr<Holder> holder_;
  std::uint64_t baseline_ = 0;
};

// An object block holding `body` as it is, with `children` as its child
// table: what a reader would find if the body had been corrupted.
inline HeldBlock forge(Holder& holder, std::span<const std::byte> body, std::span<const Handle> children = {}) {
  HeldBlock object = holder.allocate_object(children, body.size());
  if (!body.empty()) std::memcpy(object.bytes().data(), body.data(), body.size());
  return object;
}

// A message built with Cap'n Proto directly (no checks of ours), framed.
inline std::vector<std::byte> framed(capnp::MessageBuilder& message) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  const kj::ArrayPtr<const kj::byte> bytes = words.asBytes();
  const auto* begin = reinterpret_cast<const std::byte*>(bytes.begin());
  return {begin, begin + bytes.size()};
}

// Reads every part of object `h`; returns normally or throws what the
// reader throws.
inline Tree read_all(Arena& arena, Handle h) {
  heap::FrozenObject frozen(arena, h);
  return thaw(frozen.root());
}

}  // namespace shoal::testing
