// arena_session.hpp — everything one open shoal.Arena owns (no Python here).
//
// The Python object (arena_type.cpp) keeps a shared_ptr<ArenaSession>; a
// method copies it before releasing the GIL, so a close() from another
// thread cannot pull the holder out from under a call in progress. The
// session is torn down when the last of them lets go.
//
// Teardown order is the reverse of the member order below, and it matters:
// blocks (they point at the holder), then the holder (its slot and ledger),
// then the broker (its reaper thread uses the arena), then the arena mapping
// (which unlinks the segment if this session created it).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "shoal/arena.hpp"
#include "shoal/broker.hpp"
#include "shoal/holder.hpp"
#include "shoal/process_identity.hpp"

namespace shoal_py {

class ArenaSession {
 public:
  // Creates arena `name` of `size` bytes with an embedded broker. Throws the
  // core's errors (ArenaExists, InvalidArgument, ...).
  static std::shared_ptr<ArenaSession> create(const std::string& name, std::uint64_t size,
                                              std::int64_t interpreter_id);
  // Attaches to an existing arena (another user's only with
  // options.other_user). Throws ArenaNotFound, NotAnArena, ...
  static std::shared_ptr<ArenaSession> attach(const std::string& name, std::int64_t interpreter_id,
                                              const shoal::ArenaOptions& options = {});
  // Creates arena `name` (with an embedded broker) or, if it exists,
  // attaches it (Arena::open_or_create; an existing arena keeps its size).
  static std::shared_ptr<ArenaSession> open_or_create(const std::string& name, std::uint64_t size,
                                                      std::int64_t interpreter_id);
  // A holder of its own on an arena already mapped in this process (the
  // process-wide default arena, default_arena.hpp): sharing the mapping,
  // every interpreter sees its blocks at the same addresses.
  static std::shared_ptr<ArenaSession> join(std::shared_ptr<shoal::Arena> arena, std::int64_t interpreter_id);

  ~ArenaSession();
  ArenaSession(const ArenaSession&) = delete;
  ArenaSession& operator=(const ArenaSession&) = delete;

  shoal::Arena& arena() const { return *arena_; }
  // False in a fork() child: this session's holder is the parent's, and
  // unusable here (holder.hpp).
  // (cached_pid: getpid() is a system call, and this is asked on every
  // channel operation.)
  bool opened_here() const { return opened_by_ == shoal::cached_pid(); }
  // This session's holder: buffers and channels of this Arena object hold
  // their blocks through it. Its methods may wait for the arena lock.
  shoal::Holder& holder() const { return *holder_; }

  // Test/debug block API until shoal.Buffer exists: a block held by this
  // session's holder, named by a small id. allocate() may wait for the
  // arena lock; call it without the GIL. The table itself is changed only
  // with the GIL held (take_block/put_block), so it needs no lock of its own.
  shoal::HeldBlock allocate(std::uint64_t bytes);
  std::uint64_t put_block(shoal::HeldBlock block);
  // Moves the block out of the table (empty HeldBlock if `id` is unknown);
  // the caller releases it, without the GIL.
  shoal::HeldBlock take_block(std::uint64_t id);

  // Site ids already interned by this session, by (file, line)
  // (call_site.hpp). Used with the GIL held, like the block table.
  std::optional<std::uint32_t> cached_site(std::string_view file, std::uint32_t line) const {
    const auto it = sites_.find(SiteKeyView{file, line});
    if (it == sites_.end()) return std::nullopt;
    return it->second;
  }
  void remember_site(std::string file, std::uint32_t line, std::uint32_t id) {
    sites_.emplace(SiteKey{std::move(file), line}, id);
  }

 private:
  struct SiteKey {
    std::string file;
    std::uint32_t line;
  };
  struct SiteKeyView {
    std::string_view file;
    std::uint32_t line;
  };
  struct SiteKeyHash {  // transparent: a lookup by SiteKeyView copies nothing
    using is_transparent = void;
    std::size_t operator()(const SiteKeyView& k) const {
      return std::hash<std::string_view>{}(k.file) * 31 + k.line;
    }
    std::size_t operator()(const SiteKey& k) const { return (*this)(SiteKeyView{k.file, k.line}); }
  };
  struct SiteKeyEqual {
    using is_transparent = void;
    static SiteKeyView view(const SiteKey& k) { return {k.file, k.line}; }
    static SiteKeyView view(const SiteKeyView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return view(a).file == view(b).file && view(a).line == view(b).line;
    }
  };

  ArenaSession() = default;

  std::shared_ptr<shoal::Arena> arena_;
  // The creator's serving broker, or a standby that takes reaping over if
  // the arena's broker dies or stops (broker.hpp).
  std::unique_ptr<shoal::Broker> broker_;
  std::unique_ptr<shoal::Holder> holder_;
  std::unordered_map<std::uint64_t, shoal::HeldBlock> blocks_;
  std::uint64_t next_block_id_ = 1;
  pid_t opened_by_ = 0;  // to recognise a copy of this session in a fork() child
  std::unordered_map<SiteKey, std::uint32_t, SiteKeyHash, SiteKeyEqual> sites_;
};

}  // namespace shoal_py
