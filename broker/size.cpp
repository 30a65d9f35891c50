// size.cpp — parsing and formatting of human byte sizes.
#include "shoal/size.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "shoal/errors.hpp"

namespace shoal {
namespace {

struct Unit {
  std::string_view suffix;  // lower-case
  double multiplier;
};

constexpr double kKi = 1024.0;
constexpr std::array<Unit, 14> kUnits{{
    {"", 1.0},
    {"b", 1.0},
    {"k", kKi},
    {"kib", kKi},
    {"m", kKi * kKi},
    {"mib", kKi * kKi},
    {"g", kKi * kKi * kKi},
    {"gib", kKi * kKi * kKi},
    {"t", kKi * kKi * kKi * kKi},
    {"tib", kKi * kKi * kKi * kKi},
    {"kb", 1e3},
    {"mb", 1e6},
    {"gb", 1e9},
    {"tb", 1e12},
}};

[[noreturn]] void bad_size(std::string_view text, std::string_view why) {
  throw InvalidArgument("invalid size '" + std::string(text) + "': " +
                        std::string(why) +
                        " (examples: 4096, 64KiB, 64MiB, 4GiB, 1.5G)");
}

std::string trim_and_lower(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
  const std::string s = trim_and_lower(text);
  std::size_t number_end = 0;
  while (number_end < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[number_end])) || s[number_end] == '.')) {
    ++number_end;
  }
  if (number_end == 0) bad_size(text, "it does not start with a number");

  double number = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + number_end, number);
  if (ec != std::errc() || ptr != s.data() + number_end) bad_size(text, "the number is malformed");

  const std::string_view suffix = std::string_view(s).substr(number_end);
  for (const Unit& unit : kUnits) {
    if (unit.suffix != suffix) continue;
    const double bytes = number * unit.multiplier;
    if (!(bytes < 18446744073709551616.0)) bad_size(text, "it does not fit in 64 bits");
    if (bytes != std::floor(bytes)) bad_size(text, "it is not a whole number of bytes");
    return static_cast<std::uint64_t>(bytes);
  }
  bad_size(text, "unknown unit '" + std::string(suffix) + "'");
}

std::string format_size(std::uint64_t bytes) {
  constexpr std::array<const char*, 5> kNames{"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kNames.size()) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %s", value, kNames[unit]);
  return buffer;
}

}  // namespace shoal
