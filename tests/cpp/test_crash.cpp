// test_crash.cpp — processes dying on purpose: with live references, and
// inside every step of the arena's critical sections. After each death the
// survivors proceed within a second, a full consistency check passes, and
// used bytes return exactly to their baseline.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using Clock = std::chrono::steady_clock;
using test_hooks::Point;
using testing::Signal;

std::string describe(const std::vector<std::string>& problems) {
  std::string text;
  for (const auto& p : problems) text += "\n  " + p;
  return text;
}

TEST(Crash, KilledHolderIsReapedBackToBaseline) {
  testing::ScopedName n("reap");
  auto arena = Arena::create(n.name, 64ull << 20);
  auto holder = arena->attach_holder();
  HeldBlock mine = holder->allocate(5000);
  const std::uint64_t baseline = arena->stats().used_bytes;

  Signal ready;
  const pid_t child = testing::fork_child([&]() -> int {
    auto a = Arena::attach(n.name);
    auto h = a->attach_holder();
    std::vector<HeldBlock> held;
    for (int i = 0; i < 3000; ++i) held.push_back(h->allocate(static_cast<std::uint64_t>(i % 50) * 100));
    held.push_back(h->allocate(8ull << 20));
    for (int i = 0; i < 5; ++i) held.push_back(h->retain(mine.handle()));
    ready.post('r');
    for (;;) pause();
  });
  ASSERT_EQ(ready.wait(), 'r');
  EXPECT_GT(arena->stats().used_bytes, baseline + (8ull << 20));
  EXPECT_EQ(arena->block_info(mine.handle()).refcount, 6u);

  kill(child, SIGKILL);
  // Reap before waitpid: a zombie already counts as dead.
  for (int i = 0; i < 100 && arena->reap_dead_holders() == 0; ++i) usleep(10'000);
  testing::wait_child(child);

  EXPECT_EQ(arena->stats().used_bytes, baseline);
  EXPECT_EQ(arena->stats().holders, 1u);
  EXPECT_EQ(arena->block_info(mine.handle()).refcount, 1u);
  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << describe(problems);
}

TEST(Crash, AReusedPidDoesNotMakeADeadHolderLookAlive) {
  testing::ScopedName n("pidreuse");
  auto arena = Arena::create(n.name, 16ull << 20);
  auto survivor = arena->attach_holder();
  const std::uint64_t baseline = arena->stats().used_bytes;
  // A holder whose slot records a live pid (ours) but another start time:
  // exactly what a dead holder looks like once the kernel hands its pid to
  // a new process. The HeldBlocks are leaked on purpose: only the reaper
  // may release them.
  auto ghost = arena->attach_holder();
  static auto* kept = new std::vector<HeldBlock>;
  for (int i = 0; i < 20; ++i) kept->push_back(ghost->allocate(4096));
  auto* slot = &reinterpret_cast<layout::ArenaHeader*>(arena->base())->holders[ghost->slot()];
  ASSERT_EQ(slot->pid, getpid());
  slot->start_time -= 1;
  static Holder* never_destroyed = ghost.release();  // nor may its destructor
  (void)never_destroyed;

  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  EXPECT_EQ(arena->reap_dead_holders(), 0u);  // the survivor (same pid, right start time) lives
  EXPECT_TRUE(arena->check().empty());
}

// A process paused inside a critical section at `point`, killed there.
class DeathInside : public ::testing::TestWithParam<Point> {};

TEST_P(DeathInside, OthersProceedWithinASecondAndTheArenaIsSound) {
  testing::ScopedName n("inside");
  auto arena = Arena::create(n.name, 64ull << 20);
  auto holder = arena->attach_holder();
  HeldBlock mine = holder->allocate(777);
  const std::uint64_t baseline = arena->stats().used_bytes;

  Signal reached;
  const pid_t victim = testing::fork_child([&] {
    auto a = Arena::attach(n.name);
    auto h = a->attach_holder();
    std::vector<HeldBlock> held;
    for (int i = 0; i < 50; ++i) held.push_back(h->allocate(100 + static_cast<std::uint64_t>(i)));
    testing::pause_at(GetParam(), reached);
    // A sequence that passes every allocation, ledger and free point.
    HeldBlock x = h->allocate(3000);
    HeldBlock y = h->retain(mine.handle());
    y.reset();
    x.reset();
    HeldBlock blob = h->allocate(500, layout::BlockKind::blob);
    const Handle child = blob.handle();
    HeldBlock parent = h->allocate_object({&child, 1}, 64);
    blob.reset();
    parent.reset();  // frees the parent, then its child
    held.clear();
    return 50;  // the hook never fired
  });
  ASSERT_EQ(reached.wait(), 'p') << "the victim never reached its hook point";

  // Another process now blocks on the lock the victim holds.
  Signal waiter_done;
  const pid_t waiter = testing::fork_child([&] {
    auto a = Arena::attach(n.name);
    auto h = a->attach_holder();
    HeldBlock b = h->allocate(1234);
    waiter_done.post('w');
    return 0;
  });
  usleep(100'000);
  const auto killed_at = Clock::now();
  kill(victim, SIGKILL);
  ASSERT_EQ(waiter_done.wait(), 'w');
  const auto waited = Clock::now() - killed_at;
  EXPECT_LT(waited, std::chrono::seconds(1));
  EXPECT_EQ(testing::wait_child(waiter), 0);
  EXPECT_EQ(testing::wait_child(victim), -SIGKILL);

  EXPECT_NO_THROW(holder->allocate(100));  // this process proceeds too
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  EXPECT_EQ(arena->stats().repairs, 1u);
  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << describe(problems);
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  EXPECT_EQ(arena->block_info(mine.handle()).refcount, 1u);
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, DeathInside,
                         ::testing::Values(Point::alloc_after_split_header, Point::alloc_after_mark_used,
                                           Point::free_after_mark_free, Point::free_after_merge,
                                           Point::ledger_after_add, Point::ledger_after_clear,
                                           Point::object_after_table, Point::drop_after_free_parent));

TEST(Crash, AReaperKilledHalfwayIsFinishedByTheNext) {
  testing::ScopedName n("reaper");
  auto arena = Arena::create(n.name, 64ull << 20);
  auto holder = arena->attach_holder();
  const std::uint64_t baseline = arena->stats().used_bytes;

  Signal ready;
  const pid_t dead = testing::fork_child([&]() -> int {
    auto a = Arena::attach(n.name);
    auto h = a->attach_holder();
    std::vector<HeldBlock> held;
    for (int i = 0; i < 900; ++i) held.push_back(h->allocate(64));
    ready.post('r');
    for (;;) pause();
  });
  ASSERT_EQ(ready.wait(), 'r');
  kill(dead, SIGKILL);
  testing::wait_child(dead);

  Signal reached;
  const pid_t reaper = testing::fork_child([&] {
    auto a = Arena::attach(n.name);
    testing::pause_at(Point::reap_mid_holder, reached);
    a->reap_dead_holders();
    return 60;
  });
  ASSERT_EQ(reached.wait(), 'p');
  kill(reaper, SIGKILL);
  testing::wait_child(reaper);

  const auto started = Clock::now();
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(1));
  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << describe(problems);
  EXPECT_EQ(arena->stats().used_bytes, baseline);
}

TEST(Crash, ALiveButStuckLockOwnerMakesOthersTimeOutNotHang) {
  testing::ScopedName n("stuck");
  auto arena = Arena::create(n.name, 16ull << 20, ArenaOptions{std::chrono::milliseconds(300)});
  auto holder = arena->attach_holder();
  Signal reached;
  const pid_t stuck = testing::fork_child([&] {
    auto a = Arena::attach(n.name);
    auto h = a->attach_holder();
    testing::pause_at(Point::alloc_after_mark_used, reached);
    HeldBlock b = h->allocate(10);
    return 70;
  });
  ASSERT_EQ(reached.wait(), 'p');
  const auto started = Clock::now();
  try {
    holder->allocate(10);
    ADD_FAILURE() << "allocated while another process held the lock";
  } catch (const LockTimeout& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(stuck)), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(2));
  kill(stuck, SIGKILL);
  testing::wait_child(stuck);
  EXPECT_NO_THROW(holder->allocate(10));
  arena->reap_dead_holders();
  EXPECT_TRUE(arena->check().empty());
}

// The header of arena `name`, mapped writable apart from the Arena: where
// a stray write would land.
class StrayWriter {
 public:
  explicit StrayWriter(const std::string& name) {
    const int fd = open(("/dev/shm/" + Arena::segment_name(name)).c_str(), O_RDWR);
    EXPECT_GE(fd, 0);
    map_ = mmap(nullptr, layout::kHeaderBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    EXPECT_NE(map_, MAP_FAILED);
  }
  ~StrayWriter() { munmap(map_, layout::kHeaderBytes); }
  layout::ArenaHeader* header() { return static_cast<layout::ArenaHeader*>(map_); }

 private:
  void* map_;
};

// A stray write over the lock's bytes: reported as the damage it is, not as
// a system error with a bare number.
TEST(Crash, ADamagedLockIsACorruptArena) {
  testing::ScopedName n("damagedlock");
  auto arena = Arena::create(n.name, 16ull << 20);
  auto holder = arena->attach_holder();
  StrayWriter stray(n.name);
  // glibc's mutex type lives in __data.__kind: a type no mutex has.
  stray.header()->lock.__data.__kind = 0x7fff;
  try {
    holder->allocate(10);
    ADD_FAILURE() << "allocated under a damaged lock";
  } catch (const CorruptArena& e) {
    EXPECT_NE(std::string(e.what()).find("lock is damaged"), std::string::npos) << e.what();
  }
}

// Damage to the header's geometry or free-list index makes every block
// look taken: that is CorruptArena, not a full arena.
TEST(Crash, ADamagedHeaderIsACorruptArenaNotAFullOne) {
  testing::ScopedName n("damagedheader");
  auto arena = Arena::create(n.name, 16ull << 20);
  auto holder = arena->attach_holder();
  StrayWriter stray(n.name);
  layout::ArenaHeader* header = stray.header();
  auto expect_corrupt = [&](const char* what, const char* says) {
    try {
      holder->allocate(1 << 20);
      ADD_FAILURE() << what << ": allocated";
    } catch (const CorruptArena& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << what << ": " << e.what();
    } catch (const ArenaFull& e) {
      ADD_FAILURE() << what << ": ArenaFull: " << e.what();
    }
  };
  std::uint64_t mask[layout::kClassMaskWords];
  std::memcpy(mask, header->class_mask, sizeof mask);
  std::memset(header->class_mask, 0, sizeof mask);
  expect_corrupt("class mask zeroed", "free-list index is damaged");
  std::memcpy(header->class_mask, mask, sizeof mask);
  const std::uint64_t end = header->heap_end;
  header->heap_end = header->heap_begin + 4096;
  expect_corrupt("heap end moved", "geometry was overwritten");
  header->heap_end = end;
  EXPECT_NO_THROW(holder->allocate(1 << 20));  // undamaged again: allocates
}

}  // namespace
}  // namespace shoal
