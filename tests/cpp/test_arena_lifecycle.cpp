// test_arena_lifecycle.cpp — create, attach, detach, destroy, and every way
// attaching can fail, each with an error that names what was found.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using testing::ScopedName;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ArenaLifecycle, CreateAttachDestroy) {
  ScopedName n("life");
  auto created = Arena::create(n.name, 64ull << 20);
  EXPECT_EQ(created->size(), 64ull << 20);
  EXPECT_TRUE(created->is_creator());
  auto attached = Arena::attach(n.name);
  EXPECT_EQ(attached->size(), created->size());
  EXPECT_FALSE(attached->is_creator());

  // Both mappings see the same memory, at different addresses.
  auto holder = created->attach_holder();
  HeldBlock block = holder->allocate(100);
  std::memcpy(block.bytes().data(), "hello", 5);
  EXPECT_EQ(std::memcmp(attached->payload(block.handle()).data(), "hello", 5), 0);
  EXPECT_NE(created->base(), attached->base());

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

}  // namespace
}  // namespace shoal
