// arena_session.hpp — everything one open shoal.Arena owns (no Python here).
//
// The Python object (arena_type.cpp) keeps a shared_ptr<ArenaSession>; a
// method copies it before releasing the GIL, so a close() from another
// thread cannot pull the holder out from under a call in progress. The
// session is torn down when the last of them lets go, wherever that is:
// the shared_ptr's deleter releases the GIL around it (owned.hpp), since
// it takes the arena lock and joins the broker.
//
// Teardown order is the reverse of the member order below, and it matters:
// the holder (its slot and ledger; blocks held through it are gone by then,
// since each owner of one keeps the session alive), then the broker (its
// reaper thread uses the arena), then the arena mapping (which unlinks the
// segment if this session created it).
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
#include "process_identity.hpp"

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
  // The same, shared: for whoever must keep the mapping while it waits
  // without this session (async_waker.hpp).
  const std::shared_ptr<shoal::Arena>& shared_arena() const { return arena_; }
  // False in a fork() child: this session's holder is the parent's, and
  // unusable here (holder.hpp).
  // (cached_pid: getpid() is a system call, and this is asked on every
  // channel operation.)
  bool opened_here() const { return opened_by_ == shoal::cached_pid(); }
  // This session's holder: buffers and channels of this Arena object hold
  // their blocks through it. Its methods may wait for the arena lock.
  shoal::Holder& holder() const { return *holder_; }

  // Site ids already interned by this session, by (file, line)
  // (call_site.hpp). Used with the GIL held only, so it needs no lock of its own.
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
  // A new session, deleted by its last reference through an Owned.
  static std::shared_ptr<ArenaSession> make();

  std::shared_ptr<shoal::Arena> arena_;
  // The creator's serving broker, or a standby that takes reaping over if
  // the arena's broker dies or stops (broker.hpp).
  std::unique_ptr<shoal::Broker> broker_;
  std::unique_ptr<shoal::Holder> holder_;
  pid_t opened_by_ = 0;  // to recognise a copy of this session in a fork() child
  std::unordered_map<SiteKey, std::uint32_t, SiteKeyHash, SiteKeyEqual> sites_;
};

}  // namespace shoal_py
