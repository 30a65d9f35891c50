// test_backing.cpp — the arena's pages in tmpfs (broker/backing.cpp): a
// full /dev/shm is ArenaFull at allocation, never a SIGBUS later; creation
// checks the space actually free; freed pages go back, so resident memory
// follows use.
//
// A full /dev/shm is staged on a small tmpfs mounted over /dev/shm in a
// private mount namespace (a child process: unshare(CLONE_NEWNS), needs
// root or CAP_SYS_ADMIN); where that is not allowed the tests say so and
// skip.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/broker.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

constexpr std::uint64_t MiB = 1ull << 20;
constexpr int kNoNamespace = 77;  // a child's exit status: the small tmpfs could not be mounted

// Bytes of tmpfs backing the arena's segment (st_blocks: what it costs).
std::uint64_t resident_bytes(const std::string& name) {
  struct stat st {};
  if (stat(("/dev/shm/" + Arena::segment_name(name)).c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

// Runs `body` in a child whose /dev/shm is a fresh tmpfs of `tmpfs_bytes`.
// Returns the child's exit status (-signal if killed); kNoNamespace if the
// mount was not allowed.
int with_small_dev_shm(std::uint64_t tmpfs_bytes, const std::function<int()>& body) {
  const pid_t pid = testing::fork_child([&]() -> int {
    if (unshare(CLONE_NEWNS) != 0) return kNoNamespace;
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return kNoNamespace;
    const std::string options = "size=" + std::to_string(tmpfs_bytes) + ",mode=1777";
    if (mount("tmpfs", "/dev/shm", "tmpfs", 0, options.c_str()) != 0) return kNoNamespace;
    return body();
  });
  return testing::wait_child(pid);
}

// Fills /dev/shm with a file of `bytes` (really backed: fallocate).
bool fill(const std::string& path, std::uint64_t bytes) {
  const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
  if (fd < 0) return false;
  const bool ok = posix_fallocate(fd, 0, static_cast<off_t>(bytes)) == 0;
  close(fd);
  return ok;
}

TEST(Backing, AFullDevShmIsArenaFullNotSigbus) {
  // 16 MiB of tmpfs; an arena of 12 MiB fits when created; then another
  // file takes 10 MiB of it, and the arena's allocations must fail cleanly.
  const int status = with_small_dev_shm(16 * MiB, [] {
    auto arena = Arena::create("backing-full", 12 * MiB);
    auto holder = arena->attach_holder();
    HeldBlock small = holder->allocate(1000);
    std::memset(small.bytes().data(), 1, small.bytes().size());
    if (!fill("/dev/shm/filler", 10 * MiB)) return 10;
    try {
      HeldBlock big = holder->allocate(8 * MiB);
      std::memset(big.bytes().data(), 1, big.bytes().size());  // SIGBUS here without the reservation
      return 11;                                               // it fit?
    } catch (const ArenaFull& e) {
      if (std::string(e.what()).find("/dev/shm") == std::string::npos) return 12;
    }
    if (!arena->check().empty()) return 13;
    // Room again: the same allocation succeeds and can be written.
    unlink("/dev/shm/filler");
    HeldBlock big = holder->allocate(8 * MiB);
    std::memset(big.bytes().data(), 1, big.bytes().size());
    return arena->check().empty() ? 0 : 14;
  });
  if (status == kNoNamespace) GTEST_SKIP() << "cannot mount a small tmpfs over /dev/shm here (needs root)";
  EXPECT_EQ(status, 0) << "(-7 is SIGBUS)";
}

TEST(Backing, CreationChecksTheSpaceActuallyFree) {
  const int status = with_small_dev_shm(16 * MiB, [] {
    if (!fill("/dev/shm/filler", 12 * MiB)) return 10;
    try {
      Arena::create("backing-create", 8 * MiB);
      return 11;
    } catch (const InvalidArgument& e) {
      if (std::string(e.what()).find("free") == std::string::npos) return 12;
    }
    return 0;
  });
  if (status == kNoNamespace) GTEST_SKIP() << "cannot mount a small tmpfs over /dev/shm here (needs root)";
  EXPECT_EQ(status, 0);
}

// A soak of varied sizes, in phases that grow and shrink what is live,
// writing every block whole: tmpfs's pages for the segment never exceed
// what is used by more than 64 MiB.
TEST(Backing, ResidentMemoryFollowsUse) {
  testing::ScopedName n("resident");
  auto arena = Arena::create(n.name, 1ull << 30);
  auto holder = arena->attach_holder();
  std::mt19937_64 random(22);
  std::vector<HeldBlock> live;
  std::uint64_t live_bytes = 0;
  std::uint64_t worst_excess = 0;
  auto sample = [&] {
    const std::uint64_t used = arena->stats().used_bytes;
    const std::uint64_t resident = resident_bytes(n.name);
    if (resident > used) worst_excess = std::max(worst_excess, resident - used);
  };
  auto allocate = [&] {
    const int kind = static_cast<int>(random() % 10);
    const std::uint64_t bytes = kind < 6 ? 64 + random() % 8192 : kind < 9 ? 64 * 1024 + random() % (4 * MiB) : 8 * MiB + random() % (24 * MiB);
    try {
      live.push_back(holder->allocate(bytes));
    } catch (const ArenaFull&) {
      return;  // fragmentation at the peak: the next step frees
    }
    for (std::uint64_t at = 0; at < bytes; at += 4096) live.back().bytes()[at] = std::byte{0x5a};  // every page
    live_bytes += bytes;
  };
  auto free_one = [&] {
    const std::size_t i = random() % live.size();
    live_bytes -= live[i].bytes().size();
    std::swap(live[i], live.back());
    live.pop_back();
  };
  for (const std::uint64_t target : {400 * MiB, 40 * MiB, 250 * MiB, 10 * MiB, 300 * MiB, 0 * MiB}) {
    for (int step = 0; step < 1000; ++step) {
      const bool grow = live_bytes < target ? random() % 4 != 0 : random() % 4 == 0;
      if (grow || live.empty()) {
        allocate();
      } else {
        free_one();
      }
      if (step % 25 == 0) sample();
    }
    sample();
  }
  live.clear();
  sample();
  EXPECT_LE(worst_excess, 64 * MiB) << "resident exceeded used by " << worst_excess / MiB << " MiB";
  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST(Backing, FreedPagesGoBackWithinTwoRoundsAndALoopKeepsItsOwn) {
  testing::ScopedName n("broker-trim");
  auto arena = Arena::create(n.name, 256 * MiB);
  auto holder = arena->attach_holder();
  {
    std::vector<HeldBlock> blocks;
    for (int i = 0; i < 10; ++i) {
      blocks.push_back(holder->allocate(2 * MiB));
      for (std::uint64_t at = 0; at < 2 * MiB; at += 4096) blocks.back().bytes()[at] = std::byte{1};
    }
    EXPECT_GE(resident_bytes(n.name), 20 * MiB);
  }
  // Two broker rounds: the first marks what lies free, the second returns it.
  arena->return_free_memory();
  arena->return_free_memory();
  EXPECT_LE(resident_bytes(n.name), 4 * MiB);
  EXPECT_EQ(arena->return_free_memory(), 0u);  // nothing left: no lock taken

  // A loop allocating and freeing 64 MiB, with a round while it is in use:
  // each free makes a pass that marks its pages idle, the next allocation
  // takes them back, so no round returns them and no allocation
  // repopulates them.
  for (int i = 0; i < 5; ++i) {
    HeldBlock big = holder->allocate(64 * MiB);
    big.bytes()[0] = std::byte{2};
    EXPECT_EQ(arena->return_free_memory(), 0u) << "round " << i;
    big.reset();
  }
  EXPECT_GE(resident_bytes(n.name), 64 * MiB);
  EXPECT_TRUE(arena->check().empty());
}

}  // namespace
}  // namespace shoal
