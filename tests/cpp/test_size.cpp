// test_size.cpp — human sizes in and out.
#include <gtest/gtest.h>

#include "shoal/errors.hpp"
#include "shoal/size.hpp"

namespace shoal {

TEST(ParseSize, AcceptsPlainBytesAndBinaryUnits) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
  EXPECT_EQ(parse_size("64MiB"), 64u * 1024 * 1024);
  EXPECT_EQ(parse_size("4GiB"), 4ull << 30);
  EXPECT_EQ(parse_size("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_size("2 tib"), 2ull << 40);
  EXPECT_EQ(parse_size("10MB"), 10'000'000u);
  EXPECT_EQ(parse_size("7B"), 7u);
}

TEST(ParseSize, RejectsMalformedTextNamingIt) {
  for (const char* bad : {"", "MiB", "12XB", "-5", "0.5", "1.2.3G", "99999999999TiB"}) {
    try {
      parse_size(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(FormatSize, PicksTheLargestUnit) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(1024), "1.0 KiB");
  EXPECT_EQ(format_size(64ull << 20), "64.0 MiB");
  EXPECT_EQ(format_size(3ull << 29), "1.5 GiB");
}

}  // namespace shoal
