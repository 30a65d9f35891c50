// test_sites.cpp — the site table: interning, blocks recording their site,
// sharing between processes, a full log, and a decoder that trusts nothing.
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/freezer.hpp"
#include "shoal/holder.hpp"
#include "shoal/sites.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using testing::ScopedName;

std::uint32_t site_of(const Arena& arena, Handle h) {
  layout::BlockHeader header;
  std::memcpy(&header, arena.base() + h.offset, sizeof header);
  return header.site;
}

std::span<std::byte> region_of(Arena& arena) {
  return {arena.base() + layout::kSiteTableOffset, layout::kSiteTableBytes};
}

TEST(Sites, InternIsStableAndShared) {
  ScopedName name("sites");
  auto arena = Arena::create(name.name, 4 << 20);
  const std::uint32_t a = arena->intern_site("app.py", 10);
  const std::uint32_t b = arena->intern_site("app.py", 11);
  const std::uint32_t c = arena->intern_site("lib/other.py", 10);
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(c, 3u);
  EXPECT_EQ(arena->intern_site("app.py", 10), a);

  const SiteTable table = arena->sites();
  EXPECT_TRUE(table.error.empty()) << table.error;
  ASSERT_EQ(table.files.size(), 2u);  // app.py once
  EXPECT_EQ(table.describe(a), "app.py:10");
  EXPECT_EQ(table.describe(b), "app.py:11");
  EXPECT_EQ(table.describe(c), "lib/other.py:10");
  EXPECT_EQ(table.describe(0), "");
  EXPECT_EQ(table.describe(99), "");

  // Another mapping (another process, as far as the arena knows) sees the
  // same ids and adds to the same log.
  auto other = Arena::attach(name.name);
  EXPECT_EQ(other->intern_site("app.py", 11), b);
  EXPECT_EQ(other->intern_site("app.py", 12), 4u);
  EXPECT_EQ(arena->intern_site("app.py", 12), 4u);
  EXPECT_TRUE(arena->check().empty());
}

TEST(Sites, BlocksRecordTheirSite) {
  ScopedName name("sites-blocks");
  auto arena = Arena::create(name.name, 4 << 20);
  auto holder = arena->attach_holder();
  const std::uint32_t site = arena->intern_site("make.py", 7);
  HeldBlock blob = holder->allocate(100, layout::BlockKind::blob, site);
  HeldBlock plain = holder->allocate(100);
  EXPECT_EQ(site_of(*arena, blob.handle()), site);
  EXPECT_EQ(site_of(*arena, plain.handle()), 0u);

  heap::Freezer freezer(*holder);
  freezer.root().set_int(5);
  HeldBlock object = freezer.publish(arena->intern_site("make.py", 8));
  EXPECT_EQ(arena->sites().describe(site_of(*arena, object.handle())), "make.py:8");
  EXPECT_TRUE(arena->check().empty());
}

TEST(Sites, BadInputIsUnknown) {
  ScopedName name("sites-bad");
  auto arena = Arena::create(name.name, 4 << 20);
  EXPECT_EQ(arena->intern_site("", 1), 0u);
  EXPECT_EQ(arena->intern_site(std::string("a\0b", 3), 1), 0u);
  EXPECT_EQ(arena->intern_site("\xff\xfe", 1), 0u);
  // A long path keeps its end (the file name).
  const std::string longer = std::string(5000, 'd') + "/end.py";
  const std::uint32_t id = arena->intern_site(longer, 3);
  ASSERT_NE(id, 0u);
  const std::string file = arena->sites().file_of(id);
  EXPECT_EQ(file.size(), layout::kMaxSiteFileBytes);
  EXPECT_TRUE(file.ends_with("/end.py"));
}

TEST(Sites, FullLogGivesUnknownAndStaysSound) {
  ScopedName name("sites-full");
  auto arena = Arena::create(name.name, 4 << 20);
  std::uint32_t last = 0;
  std::uint32_t line = 0;
  for (; line < 100000; ++line) {
    const std::uint32_t id = arena->intern_site("f.py", line);
    if (id == 0) break;
    last = id;
  }
  EXPECT_LT(line, 100000u);
  EXPECT_EQ(last, line);  // every site before the full one got an id
  EXPECT_EQ(arena->intern_site("f.py", 0), 1u);  // known ones still resolve
  const SiteTable table = arena->sites();
  EXPECT_TRUE(table.error.empty()) << table.error;
  EXPECT_EQ(table.sites.size(), last);
  // A fresh mapping learns it is full too.
  auto other = Arena::attach(name.name);
  EXPECT_EQ(other->intern_site("g.py", 1), 0u);
}

TEST(Sites, UncommittedRecordIsIgnoredAndOverwritten) {
  ScopedName name("sites-torn");
  auto arena = Arena::create(name.name, 4 << 20);
  ASSERT_EQ(arena->intern_site("a.py", 1), 1u);
  const SiteTable before = arena->sites();
  // A writer that died after writing a record but before committing `used`.
  std::byte* tail = region_of(*arena).data() + sizeof(layout::SiteTableHeader) + before.valid;
  const layout::SiteRecord torn{static_cast<std::uint8_t>(layout::SiteRecordType::site), 0, 8, 2};
  std::memcpy(tail, &torn, sizeof torn);
  std::memset(tail + sizeof torn, 0xEE, 8);
  EXPECT_EQ(arena->sites().sites.size(), 1u);
  EXPECT_TRUE(arena->sites().error.empty());
  auto other = Arena::attach(name.name);  // no cache: reads the log
  EXPECT_EQ(other->intern_site("a.py", 2), 2u);
  EXPECT_EQ(other->sites().describe(2), "a.py:2");
  EXPECT_TRUE(arena->check().empty());
}

TEST(Sites, DecoderRejectsDamage) {
  ScopedName name("sites-damage");
  auto arena = Arena::create(name.name, 4 << 20);
  arena->intern_site("a.py", 1);
  arena->intern_site("b.py", 2);
  const std::vector<std::byte> good(region_of(*arena).begin(), region_of(*arena).end());
  auto decode = [](std::vector<std::byte> bytes) { return decode_site_table(bytes); };
  auto header = [](std::vector<std::byte>& bytes) { return reinterpret_cast<layout::SiteTableHeader*>(bytes.data()); };
  auto record = [](std::vector<std::byte>& bytes, std::uint64_t at) {
    return reinterpret_cast<layout::SiteRecord*>(bytes.data() + sizeof(layout::SiteTableHeader) + at);
  };

  EXPECT_EQ(decode(good).sites.size(), 2u);
  {  // `used` past the region
    auto bytes = good;
    header(bytes)->used = ~std::uint64_t{0};
    const SiteTable t = decode(bytes);
    EXPECT_FALSE(t.error.empty());
    EXPECT_EQ(t.sites.size(), 2u);  // what decodes before the damage is kept
  }
  {  // a site naming a file that does not exist
    auto bytes = good;
    layout::SitePayload bad{7, 1};
    std::memcpy(bytes.data() + sizeof(layout::SiteTableHeader) + 16, &bad, sizeof bad);  // after "a.py" (8+8)
    const SiteTable t = decode(bytes);
    EXPECT_FALSE(t.error.empty());
    EXPECT_EQ(t.sites.size(), 0u);
  }
  {  // a record claiming more bytes than the log has
    auto bytes = good;
    record(bytes, 0)->length = 60000;
    EXPECT_FALSE(decode(bytes).error.empty());
  }
  {  // ids out of order, unknown type
    auto bytes = good;
    record(bytes, 0)->id = 5;
    EXPECT_FALSE(decode(bytes).error.empty());
    bytes = good;
    record(bytes, 0)->type = 9;
    EXPECT_FALSE(decode(bytes).error.empty());
  }
  // Short and empty regions decode as empty tables.
  EXPECT_TRUE(decode_site_table({}).sites.empty());
  EXPECT_TRUE(decode_site_table(std::span(good).first(10)).sites.empty());

  // The checker reports a damaged log and a block naming a site it lacks.
  reinterpret_cast<layout::SiteTableHeader*>(region_of(*arena).data())->used = 1;
  const auto problems = arena->check();
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems.front().find("sites:"), std::string::npos) << problems.front();
}

}  // namespace
}  // namespace shoal
