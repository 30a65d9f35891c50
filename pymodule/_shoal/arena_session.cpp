// arena_session.cpp — opening and closing an arena for one Python object.
#include "arena_session.hpp"

#include <unistd.h>

#include <utility>

#include "owned.hpp"

namespace shoal_py {

namespace {

// A reaper on standby (broker.hpp): should the arena's broker die or stop,
// this process takes the reaping over.
std::unique_ptr<shoal::Broker> standby_for(const std::shared_ptr<shoal::Arena>& arena) {
  return std::make_unique<shoal::Broker>(arena, shoal::Broker::kDefaultInterval, shoal::Broker::Role::standby);
}

}  // namespace

std::shared_ptr<ArenaSession> ArenaSession::make() {
  // Tearing a session down takes the arena lock (the holder) and joins the
  // broker's thread: the last reference hands it to an Owned, which does
  // that without the GIL, wherever the reference goes.
  return std::shared_ptr<ArenaSession>(new ArenaSession(), [](ArenaSession* last) {
    Owned<std::unique_ptr<ArenaSession>> going{std::unique_ptr<ArenaSession>(last)};
  });
}

std::shared_ptr<ArenaSession> ArenaSession::create(const std::string& name, std::uint64_t size,
                                                   std::int64_t interpreter_id) {
  std::shared_ptr<ArenaSession> session = make();
  session->opened_by_ = getpid();
  session->arena_ = shoal::Arena::create(name, size);
  session->broker_ = std::make_unique<shoal::Broker>(session->arena_);
  session->holder_ = session->arena_->attach_holder(interpreter_id);
  return session;
}

std::shared_ptr<ArenaSession> ArenaSession::attach(const std::string& name, std::int64_t interpreter_id,
                                                   const shoal::ArenaOptions& options) {
  std::shared_ptr<ArenaSession> session = make();
  session->opened_by_ = getpid();
  session->arena_ = shoal::Arena::attach(name, shoal::Access::read_write, options);
  session->holder_ = session->arena_->attach_holder(interpreter_id);
  session->broker_ = standby_for(session->arena_);
  return session;
}

std::shared_ptr<ArenaSession> ArenaSession::open_or_create(const std::string& name, std::uint64_t size,
                                                           std::int64_t interpreter_id) {
  std::shared_ptr<ArenaSession> session = make();
  session->opened_by_ = getpid();
  session->arena_ = shoal::Arena::open_or_create(name, size);
  // The arena's creator serves it, as in create(): the broker goes with it.
  if (session->arena_->is_creator()) session->broker_ = std::make_unique<shoal::Broker>(session->arena_);
  session->holder_ = session->arena_->attach_holder(interpreter_id);
  if (!session->broker_) session->broker_ = standby_for(session->arena_);
  return session;
}

std::shared_ptr<ArenaSession> ArenaSession::join(std::shared_ptr<shoal::Arena> arena, std::int64_t interpreter_id) {
  std::shared_ptr<ArenaSession> session = make();
  session->opened_by_ = getpid();
  session->arena_ = std::move(arena);
  session->holder_ = session->arena_->attach_holder(interpreter_id);
  // The process that created the default arena serves it already.
  if (!session->arena_->is_creator()) session->broker_ = standby_for(session->arena_);
  return session;
}

ArenaSession::~ArenaSession() {
  if (opened_by_ != 0 && getpid() != opened_by_) {
    // We are a fork() child tearing down its copy of the parent's session
    // (multiprocessing's default start method does this at exit). The
    // segment is the parent's to unlink, and the broker's reaper thread
    // exists only in the parent: joining it here would wait forever. Leak
    // the broker object on purpose. The holder and blocks already do
    // nothing in a child (holder.hpp).
    if (arena_) arena_->set_unlink_on_close(false);
    (void)broker_.release();
  }
  // Members now go in reverse order: holder, broker, arena.
}

}  // namespace shoal_py
