// frozen_ndarray.cpp — NumPy arrays in frozen objects: which dtypes shoal
// accepts (dtype_itemsize) and which bytes an array touches (array_extent).
// The freezer uses both to refuse an array that does not fit its blob; the
// reader uses them again, on what it reads, before handing out a pointer.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "shoal/heap_format.hpp"

namespace shoal::heap {

namespace {

constexpr std::size_t kMaxDtypeChars = 32;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A decimal count without leading zeros, of at most 12 digits; nothing else.
std::optional<std::uint64_t> parse_count(std::string_view digits) {
  if (digits.empty() || digits.size() > 12 || digits[0] == '0') return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// The "[unit]" of a datetime or timedelta: an optional multiplier, then one
// of NumPy's units ("[ns]", "[10ms]", "[D]").
bool is_time_unit(std::string_view unit) {
  if (unit.size() < 3 || unit.front() != '[' || unit.back() != ']') return false;
  unit = unit.substr(1, unit.size() - 2);
  std::size_t digits = 0;
  while (digits < unit.size() && is_digit(unit[digits])) ++digits;
  if (digits > 0 && !parse_count(unit.substr(0, digits))) return false;
  unit = unit.substr(digits);
  for (std::string_view known : {"Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"}) {
    if (unit == known) return true;
  }
  return false;
}

bool one_of(std::uint64_t n, std::initializer_list<std::uint64_t> allowed) {
  for (std::uint64_t a : allowed) {
    if (n == a) return true;
  }
  return false;
}

}  // namespace

std::optional<std::uint64_t> dtype_itemsize(std::string_view dtype) {
  if (dtype.size() < 3 || dtype.size() > kMaxDtypeChars) return std::nullopt;
  const char order = dtype[0];
  const char kind = dtype[1];
  if (order != '<' && order != '>' && order != '|') return std::nullopt;

  std::size_t end = 2;
  while (end < dtype.size() && is_digit(dtype[end])) ++end;
  const std::optional<std::uint64_t> count = parse_count(dtype.substr(2, end - 2));
  if (!count) return std::nullopt;
  const std::string_view rest = dtype.substr(end);
  const bool timelike = kind == 'm' || kind == 'M';
  if (!rest.empty() && !(timelike && is_time_unit(rest))) return std::nullopt;

  std::optional<std::uint64_t> itemsize;
  switch (kind) {
    case 'b': if (*count == 1) itemsize = 1; break;
    case 'i':
    case 'u': if (one_of(*count, {1, 2, 4, 8})) itemsize = count; break;
    case 'f': if (one_of(*count, {2, 4, 8, 12, 16})) itemsize = count; break;
    case 'c': if (one_of(*count, {8, 16, 24, 32})) itemsize = count; break;
    case 'm':
    case 'M': if (*count == 8) itemsize = 8; break;
    case 'S':
    case 'V': itemsize = count; break;
    case 'U': itemsize = *count * 4; break;  // the count is of UCS-4 characters
    default: break;                         // 'O' (object) and anything else
  }
  if (!itemsize) return std::nullopt;
  // The byte order must say something: '|' ("not applicable") only where
  // there is no order (single bytes, byte strings, raw void).
  const bool orderless = kind == 'S' || kind == 'V' || kind == 'b' || *itemsize == 1;
  if (order == '|' && !orderless) return std::nullopt;
  return itemsize;
}

std::optional<ArrayExtent> array_extent(std::uint64_t itemsize, std::span<const std::uint64_t> shape,
                                        std::span<const std::int64_t> strides) {
  if (shape.size() != strides.size() || shape.size() > kMaxDims) return std::nullopt;
  if (itemsize > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  for (std::uint64_t n : shape) {
    if (n == 0) return ArrayExtent{};  // no elements, no bytes
  }
  std::int64_t low = 0;
  std::int64_t high = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    // The last element along d is (n - 1) * stride bytes from the first.
    if (shape[d] - 1 > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    std::int64_t reach = 0;
    if (__builtin_mul_overflow(static_cast<std::int64_t>(shape[d] - 1), strides[d], &reach)) return std::nullopt;
    std::int64_t& bound = reach < 0 ? low : high;
    if (__builtin_add_overflow(bound, reach, &bound)) return std::nullopt;
  }
  if (__builtin_add_overflow(high, static_cast<std::int64_t>(itemsize), &high)) return std::nullopt;
  return ArrayExtent{low, high};
}

bool array_fits(const ArrayExtent& extent, std::uint64_t origin, std::uint64_t length) {
  if (origin > length) return false;
  if (extent.low == extent.high) return true;  // no elements: only the origin must be inside
  const std::uint64_t before = 0 - static_cast<std::uint64_t>(extent.low);  // -low, defined for INT64_MIN too
  return extent.low <= 0 && extent.high > 0 && before <= origin &&
         static_cast<std::uint64_t>(extent.high) <= length - origin;
}

}  // namespace shoal::heap
