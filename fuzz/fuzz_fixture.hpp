// fuzz_fixture.hpp — the arena the frozen-reader fuzzer reads in, shared
// with the seed corpus writer so that seeds name children the fuzzer has.
//
// The fuzzer publishes each input as the body of an object block whose
// child table lists kChildren, in this order: blobs of several sizes (so
// blob references, array extents and pickle buffers can be valid or not),
// a raw block and a channel (wrong kinds for a blob reference; the channel
// right for a channel reference).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/holder.hpp"

namespace shoal::fuzzing {

class Fixture {
 public:
  Fixture() : name_("fuzz-reader-" + std::to_string(getpid())) {
    Arena::destroy(name_);
    arena_ = Arena::create(name_, 256ull << 20);
    holder_ = arena_->attach_holder();
    for (std::uint64_t bytes : {std::uint64_t{65536}, std::uint64_t{16}, std::uint64_t{0}, std::uint64_t{10000}}) {
      blocks_.push_back(holder_->allocate(bytes, layout::BlockKind::blob));
      for (std::size_t i = 0; i < bytes; ++i) blocks_.back().bytes()[i] = static_cast<std::byte>(i * 7);
    }
    blocks_.push_back(holder_->allocate(64, layout::BlockKind::raw));
    channel_.emplace(Channel::create(*holder_, 2));
    for (const HeldBlock& b : blocks_) children_.push_back(b.handle());
    children_.push_back(channel_->handle());
  }

  Arena& arena() { return *arena_; }
  Holder& holder() { return *holder_; }
  const std::vector<Handle>& children() const { return children_; }

 private:
  std::string name_;
  std::shared_ptr<Arena> arena_;  // the creator: unlinks the segment when the fuzzer exits
  std::unique_ptr<Holder> holder_;
  std::vector<HeldBlock> blocks_;
  std::optional<Channel> channel_;
  std::vector<Handle> children_;
};

}  // namespace shoal::fuzzing
