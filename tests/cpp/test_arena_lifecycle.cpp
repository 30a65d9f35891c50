// test_arena_lifecycle.cpp — create, attach, detach, destroy, and every way
// attaching can fail, each with an error that names what was found.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "mapping_registry.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using testing::ScopedName;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ArenaLifecycle, OneMappingPerFilePerProcess) {
  const std::size_t before = segment::live_mappings();
  ScopedName n("onemap");
  {
    auto created = Arena::create(n.name, 8ull << 20);
    auto first = Arena::attach(n.name);
    auto second = Arena::attach(n.name);
    EXPECT_EQ(first->base(), created->base());
    EXPECT_EQ(second->base(), created->base());
    // A read-only attach never shares a writable mapping: its own, read-only.
    auto reader = Arena::attach(n.name, Access::read_only);
    EXPECT_NE(reader->base(), created->base());
    EXPECT_EQ(segment::live_mappings(), before + 2);

    // The mapping lives while any attach does, whoever goes first.
    created->set_unlink_on_close(false);
    created.reset();
    first.reset();
    auto holder = second->attach_holder();
    std::memcpy(holder->allocate(64).bytes().data(), "still", 5);
    EXPECT_EQ(segment::live_mappings(), before + 2);
  }
  EXPECT_EQ(segment::live_mappings(), before);
}

TEST(ArenaLifecycle, ANewArenaUnderAnOldNameIsMappedAfresh) {
  // The old arena's mapping is still alive in this process when another
  // arena takes its name: attaching the name must map the new file.
  ScopedName n("remade");
  auto old_arena = Arena::create(n.name, 8ull << 20);
  old_arena->set_unlink_on_close(false);
  ASSERT_TRUE(Arena::destroy(n.name));
  auto new_arena = Arena::create(n.name, 16ull << 20);
  auto attached = Arena::attach(n.name);
  EXPECT_EQ(attached->base(), new_arena->base());
  EXPECT_NE(attached->base(), old_arena->base());
  EXPECT_EQ(attached->size(), 16ull << 20);
  EXPECT_EQ(attached->identity(), new_arena->identity());
}

TEST(ArenaLifecycle, CreateAttachDestroy) {
  ScopedName n("life");
  auto created = Arena::create(n.name, 64ull << 20);
  EXPECT_EQ(created->size(), 64ull << 20);
  EXPECT_TRUE(created->is_creator());
  auto attached = Arena::attach(n.name);
  EXPECT_EQ(attached->size(), created->size());
  EXPECT_FALSE(attached->is_creator());

  // Both see the same memory, through this process's one mapping of it.
  auto holder = created->attach_holder();
  HeldBlock block = holder->allocate(100);
  std::memcpy(block.bytes().data(), "hello", 5);
  EXPECT_EQ(std::memcmp(attached->payload(block.handle()).data(), "hello", 5), 0);
  EXPECT_EQ(created->base(), attached->base());

  block.reset();
  holder.reset();
  attached.reset();
  created.reset();  // the creator unlinks
  EXPECT_THROW(Arena::attach(n.name), ArenaNotFound);
}

TEST(ArenaLifecycle, SegmentIsMode0600) {
  ScopedName n("mode");
  const mode_t old_umask = umask(0);  // a permissive umask must not widen it
  auto arena = Arena::create(n.name, 8ull << 20);
  umask(old_umask);
  struct stat st {};
  ASSERT_EQ(stat(("/dev/shm/" + Arena::segment_name(n.name)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(ArenaLifecycle, CreatingAnExistingNameFails) {
  ScopedName n("exists");
  auto arena = Arena::create(n.name, 8ull << 20);
  try {
    Arena::create(n.name, 8ull << 20);
    FAIL() << "second create succeeded";
  } catch (const ArenaExists& e) {
    EXPECT_TRUE(contains(e.what(), n.name)) << e.what();
  }
}

TEST(ArenaLifecycle, AttachingAMissingNameFails) {
  try {
    Arena::attach("test-no-such-arena-xyz");
    FAIL();
  } catch (const ArenaNotFound& e) {
    EXPECT_TRUE(contains(e.what(), "test-no-such-arena-xyz")) << e.what();
  }
}

TEST(ArenaLifecycle, BadNamesAndSizesAreRejected) {
  EXPECT_THROW(Arena::create("", 8ull << 20), InvalidArgument);
  EXPECT_THROW(Arena::create("a/b", 8ull << 20), InvalidArgument);
  EXPECT_THROW(Arena::create(testing::unique_name("tiny"), 1000), InvalidArgument);
  // More than /dev/shm can back would end in SIGBUS later: refused now.
  EXPECT_THROW(Arena::create(testing::unique_name("huge"), 1ull << 45), InvalidArgument);
}

TEST(ArenaLifecycle, ATooSmallSizeIsShownAsAskedWithTheMinimum) {
  ScopedName n("small");
  try {
    Arena::create(n.name, 1);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_TRUE(contains(e.what(), "size 1 B is outside 1.0 MiB")) << e.what();
  }
}

TEST(ArenaLifecycle, NamesWithControlCharactersAreRefused) {
  const std::string names[] = {"a\nb", "tab\t", std::string("nul\0x", 5), "del\x7f", "esc\x1b[31m"};
  for (const std::string& name : names) {
    try {
      Arena::create(name, 8ull << 20);
      FAIL() << "created " << name;
    } catch (const InvalidArgument& e) {
      const std::string what = e.what();
      EXPECT_TRUE(contains(what, "control character")) << what;
      // The message itself shows them escaped.
      EXPECT_EQ(std::find_if(what.begin(), what.end(), [](char c) { return c >= 0 && c < 0x20; }), what.end())
          << what;
    }
    EXPECT_THROW(Arena::attach(name), InvalidArgument);
  }
}

void write_segment(const std::string& name, const std::string& content) {
  const int fd = open(("/dev/shm/" + Arena::segment_name(name)).c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
}

TEST(ArenaLifecycle, SomethingElseIsNotAnArena) {
  ScopedName n("junk");
  write_segment(n.name, "GARBAGE!" + std::string(layout::kHeaderBytes + 1024, 'z'));
  try {
    Arena::attach(n.name);
    FAIL();
  } catch (const NotAnArena& e) {
    EXPECT_TRUE(contains(e.what(), "GARBAGE!")) << e.what();
    EXPECT_TRUE(contains(e.what(), "not a shoal arena")) << e.what();
  }
  write_segment(n.name, "tiny");
  try {
    Arena::attach(n.name);
    FAIL();
  } catch (const NotAnArena& e) {
    EXPECT_TRUE(contains(e.what(), "4 bytes")) << e.what();
  }
}

// A FIFO under an arena's name once made every reader wait for a writer.
TEST(ArenaLifecycle, AFifoIsNotAnArenaAndNobodyWaitsOnIt) {
  ScopedName n("fifo");
  ASSERT_EQ(mkfifo(("/dev/shm/" + Arena::segment_name(n.name)).c_str(), 0600), 0);
  for (const Access access : {Access::read_only, Access::read_write}) {
    const pid_t child = testing::fork_child([&] {
      alarm(30);  // a hang ends the child, and fails the test, instead of the run
      try {
        Arena::attach(n.name, access);
        return 1;
      } catch (const NotAnArena& e) {
        return contains(e.what(), "it is a FIFO") ? 0 : 2;
      }
    });
    EXPECT_EQ(testing::wait_child(child), 0) << "1: attached; 2: wrong message; -14: hung";
  }
}

TEST(ArenaLifecycle, ASymbolicLinkIsRefusedEvenToAnArena) {
  ScopedName real("real");
  ScopedName link("link");
  auto arena = Arena::create(real.name, 8ull << 20);
  ASSERT_EQ(symlink(("/dev/shm/" + Arena::segment_name(real.name)).c_str(),
                    ("/dev/shm/" + Arena::segment_name(link.name)).c_str()),
            0);
  try {
    Arena::attach(link.name);
    FAIL();
  } catch (const NotAnArena& e) {
    EXPECT_TRUE(contains(e.what(), "symbolic link")) << e.what();
  }
}

TEST(ArenaLifecycle, AnotherLayoutVersionIsNamed) {
  ScopedName n("version");
  auto arena = Arena::create(n.name, 8ull << 20);
  auto* header = reinterpret_cast<layout::ArenaHeader*>(arena->base());
  header->layout_version = 77;
  try {
    Arena::attach(n.name);
    FAIL();
  } catch (const LayoutMismatch& e) {
    EXPECT_TRUE(contains(e.what(), "77")) << e.what();
    EXPECT_TRUE(contains(e.what(), n.name)) << e.what();
  }
  header->layout_version = layout::kLayoutVersion;
  EXPECT_NO_THROW(Arena::attach(n.name));
}

TEST(ArenaLifecycle, ReadOnlyAttachSeesTheArena) {
  ScopedName n("ro");
  auto arena = Arena::create(n.name, 8ull << 20);
  auto reader = Arena::attach(n.name, Access::read_only);
  EXPECT_TRUE(check_image(reader->base(), reader->size()).empty());
}

// Attachers racing a creator must see either no arena (and try again) or a
// complete one: never a half-built header, never an empty file. Many
// rounds, because the window is short.
TEST(ArenaRace, AttachersRacingACreatorSeeNoArenaOrAWholeOne) {
  constexpr int kRounds = 40;
  constexpr int kAttachers = 4;
  for (int round = 0; round < kRounds; ++round) {
    ScopedName n("race");
    testing::Signal started;
    std::vector<pid_t> children;
    for (int i = 0; i < kAttachers; ++i) {
      children.push_back(testing::fork_child([&] {
        started.post();
        // A way out if the creator never comes: not a timing assertion.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < give_up) {
          try {
            auto arena = Arena::attach(n.name);
            return arena->size() == (64ull << 20) ? 0 : 2;
          } catch (const ArenaNotFound&) {
            // not there yet: the only acceptable failure
          } catch (const Error& e) {
            std::fprintf(stderr, "attach failed: %s\n", e.what());
            return 1;
          }
        }
        return 3;
      }));
    }
    for (int i = 0; i < kAttachers; ++i) started.wait();
    auto arena = Arena::create(n.name, 64ull << 20);
    for (pid_t child : children) {
      ASSERT_EQ(testing::wait_child(child), 0)
          << "round " << round << ": 1 an attach failed, 2 wrong size, 3 the arena never appeared";
    }
  }
}

// "Create it, or attach it if it exists", from several processes at once:
// exactly one creates, every other one attaches, nobody fails.
TEST(ArenaRace, OpenOrCreateFromSeveralProcesses) {
  constexpr int kRounds = 20;
  constexpr int kProcesses = 5;
  for (int round = 0; round < kRounds; ++round) {
    ScopedName n("either");
    testing::Signal opened;  // each child: 'c' created, 'a' attached, 'x' failed
    testing::Signal leave;   // the parent lets them go once all have opened
    std::vector<pid_t> children;
    for (int i = 0; i < kProcesses; ++i) {
      children.push_back(testing::fork_child([&] {
        char outcome = 'x';
        std::shared_ptr<Arena> arena;
        try {
          arena = Arena::open_or_create(n.name, 16ull << 20);
          outcome = arena->is_creator() ? 'c' : 'a';
        } catch (const Error& e) {
          std::fprintf(stderr, "open_or_create failed: %s\n", e.what());
        }
        opened.post(outcome);
        leave.wait();  // the creator must not unlink before everyone is in
        return 0;
      }));
    }
    int created = 0;
    int attached = 0;
    for (int i = 0; i < kProcesses; ++i) {
      const char outcome = opened.wait();
      created += outcome == 'c';
      attached += outcome == 'a';
    }
    for (int i = 0; i < kProcesses; ++i) leave.post();
    for (pid_t child : children) EXPECT_EQ(testing::wait_child(child), 0);
    ASSERT_EQ(created, 1) << "round " << round;
    ASSERT_EQ(attached, kProcesses - 1) << "round " << round;
  }
}

// With an arena of that name in place, open_or_create attaches it, keeping
// its size: the size asked for is used only to create.
TEST(ArenaRace, OpenOrCreateKeepsAnExistingArenasSize) {
  ScopedName n("keep");
  auto first = Arena::open_or_create(n.name, 8ull << 20);
  EXPECT_TRUE(first->is_creator());
  auto second = Arena::open_or_create(n.name, 32ull << 20);
  EXPECT_FALSE(second->is_creator());
  EXPECT_EQ(second->size(), 8ull << 20);
  EXPECT_THROW(Arena::open_or_create(n.name, 1000), InvalidArgument);  // a bad size is refused either way
}

TEST(ArenaPermissions, AnotherUserCannotAttach) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to start a process as user 'nobody'";
  ScopedName n("perm");
  auto arena = Arena::create(n.name, 8ull << 20);
  testing::Signal report;
  const pid_t child = testing::fork_child([&] {
    if (setgid(65534) != 0 || setuid(65534) != 0) return 10;  // nobody
    try {
      Arena::attach(n.name);
      return 11;  // must not get in
    } catch (const PermissionDenied& e) {
      const std::string what = e.what();
      return what.find(n.name) != std::string::npos ? 0 : 12;
    } catch (...) {
      return 13;
    }
  });
  EXPECT_EQ(testing::wait_child(child), 0) << "10: could not become nobody; 11: attached; 12: message lacks the name";
}

// Root can open any file: it must still not take another user's arena for
// its own unless it says so.
TEST(ArenaPermissions, AnotherUsersArenaNeedsOtherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the file to user 'nobody'";
  ScopedName n("theirs");
  auto arena = Arena::create(n.name, 8ull << 20);
  ASSERT_EQ(chown(("/dev/shm/" + Arena::segment_name(n.name)).c_str(), 65534, 65534), 0);
  for (const Access access : {Access::read_only, Access::read_write}) {
    try {
      Arena::attach(n.name, access);
      FAIL();
    } catch (const PermissionDenied& e) {
      EXPECT_TRUE(contains(e.what(), "uid 65534")) << e.what();
      EXPECT_TRUE(contains(e.what(), n.name)) << e.what();
    }
    ArenaOptions options;
    options.other_user = true;
    EXPECT_EQ(Arena::attach(n.name, access, options)->size(), 8ull << 20);
  }
}

}  // namespace
}  // namespace shoal
