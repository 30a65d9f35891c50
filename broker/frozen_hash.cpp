// frozen_hash.cpp — the stable hash of keys and the index table built from
// it (frozen_hash.hpp; the format is schemas/value.capnp's "The hash index").
#include "shoal/frozen_hash.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "shoal/errors.hpp"

namespace shoal::heap {

std::uint64_t stable_hash_none() { return StableHasher(HashTag::none).finish(); }

std::uint64_t stable_hash_int(std::int64_t value) {
  StableHasher hasher(HashTag::int64);
  hasher.add_u64(static_cast<std::uint64_t>(value));
  return hasher.finish();
}

std::uint64_t stable_hash_big_int(bool negative, std::span<const std::uint8_t> magnitude) {
  while (!magnitude.empty() && magnitude.back() == 0) magnitude = magnitude.first(magnitude.size() - 1);
  // In the Int64 range: the canonical form is the int64 one, whatever
  // encoding the value came in.
  if (magnitude.size() <= 8) {
    std::uint64_t m = 0;
    for (std::size_t i = 0; i < magnitude.size(); ++i) m |= std::uint64_t{magnitude[i]} << (8 * i);
    constexpr std::uint64_t kMinMagnitude = std::uint64_t{1} << 63;  // of INT64_MIN
    if (!negative && m < kMinMagnitude) return stable_hash_int(static_cast<std::int64_t>(m));
    if (negative && m <= kMinMagnitude) return stable_hash_int(static_cast<std::int64_t>(0 - m));
  }
  StableHasher hasher(HashTag::big_int);
  const std::uint8_t sign = negative ? 1 : 0;
  hasher.add(std::as_bytes(std::span(&sign, 1)));
  hasher.add(std::as_bytes(magnitude));
  return hasher.finish();
}

std::uint64_t stable_hash_float(double value) {
  if (std::isfinite(value) && value == std::trunc(value)) {
    // 2^63 is the first double above the Int64 range (INT64_MAX is not a double).
    constexpr double kTwo63 = 9223372036854775808.0;
    if (value >= -kTwo63 && value < kTwo63) return stable_hash_int(static_cast<std::int64_t>(value));
    // |value| >= 2^63: an integer of up to 1024 bits. Its magnitude is the
    // 53-bit mantissa shifted left by exponent - 53.
    int exponent = 0;
    const double fraction = std::frexp(std::fabs(value), &exponent);  // |value| = fraction * 2^exponent
    const auto mantissa = static_cast<std::uint64_t>(std::ldexp(fraction, 53));
    const int shift = exponent - 53;  // >= 11 here
    std::vector<std::uint8_t> magnitude(static_cast<std::size_t>(exponent / 8 + 2), 0);
    for (int bit = 0; bit < 53; ++bit) {
      if ((mantissa >> bit) & 1) {
        const int at = bit + shift;
        magnitude[static_cast<std::size_t>(at / 8)] |= static_cast<std::uint8_t>(1u << (at % 8));
      }
    }
    return stable_hash_big_int(value < 0, magnitude);
  }
  StableHasher hasher(HashTag::float64);
  hasher.add_u64(std::bit_cast<std::uint64_t>(value));
  return hasher.finish();
}

std::uint64_t stable_hash_text(std::string_view utf8) {
  StableHasher hasher(HashTag::text);
  hasher.add(utf8);
  return hasher.finish();
}

std::uint64_t stable_hash_bytes(std::span<const std::byte> bytes) {
  StableHasher hasher(HashTag::bytes);
  hasher.add(bytes);
  return hasher.finish();
}

HashTable build_hash_table(std::span<const std::optional<std::uint64_t>> hashes) {
  if (hashes.size() >= kSlotEntryMask) {
    throw InvalidArgument("a hash index holds fewer than 2^32 - 1 entries, not " + std::to_string(hashes.size()));
  }
  HashTable table;
  // At most 3/4 full, so that a miss ends at an empty slot soon.
  const std::uint64_t wanted = std::max<std::uint64_t>(8, (hashes.size() * 4 + 2) / 3);
  table.slots.assign(std::bit_ceil(wanted), 0);
  const std::uint64_t mask = table.slots.size() - 1;
  for (std::size_t entry = 0; entry < hashes.size(); ++entry) {
    if (!hashes[entry]) {
      table.unhashed.push_back(static_cast<std::uint32_t>(entry));
      continue;
    }
    std::uint64_t at = *hashes[entry] & mask;
    while (table.slots[at] != 0) at = (at + 1) & mask;
    table.slots[at] = hash_slot(*hashes[entry], static_cast<std::uint32_t>(entry));
  }
  return table;
}

}  // namespace shoal::heap
