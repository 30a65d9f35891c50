// frozen_hash.hpp — the stable hash of frozen keys, and the hash index
// built from it.
//
// A frozen dict or set carries an index so that a reader finds a key
// without a scan (schemas/value.capnp, "The hash index", defines both the
// hash and the table; this file is their one implementation). Python's own
// hash() of str and bytes is randomized per process, so the index cannot
// use it: a key's stable hash is computed from its canonical form, the
// same for every process, and the same whether it is computed from the
// frozen value (when the index is built, frozen.hpp) or from the Python
// object a reader looks up (the extension's frozen_lookup.cpp). Equal
// numbers hash alike whatever their type (1, 1.0, True), as Python
// compares them equal.
//
//   std::vector<std::optional<std::uint64_t>> hashes = ...;  // per key, or nothing
//   HashTable table = build_hash_table(hashes);
//   // table.slots -> Dict.index, table.unhashed -> Dict.unhashed
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace shoal::heap {

// The tag bytes of the canonical forms (value.capnp).
enum class HashTag : std::uint8_t {
  int64 = 'i',
  big_int = 'n',
  float64 = 'f',
  text = 's',
  bytes = 'b',
  none = 'z',
  tuple = 't',
  frozenset = 'S',
};

// FNV-1a-64 over a tag and the bytes added, finished with fmix64.
class StableHasher {
 public:
  explicit StableHasher(HashTag tag) { add_byte(static_cast<std::uint8_t>(tag)); }
  void add(std::span<const std::byte> bytes) {
    for (const std::byte b : bytes) add_byte(static_cast<std::uint8_t>(b));
  }
  void add(std::string_view bytes) {
    for (const char c : bytes) add_byte(static_cast<std::uint8_t>(c));
  }
  void add_u64(std::uint64_t value) {  // little-endian
    for (int i = 0; i < 8; ++i) add_byte(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  std::uint64_t finish() const { return fmix64(state_); }

  // MurmurHash3's 64-bit finalizer: every input bit reaches every output bit.
  static std::uint64_t fmix64(std::uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }

 private:
  void add_byte(std::uint8_t b) {
    state_ ^= b;
    state_ *= 0x100000001b3ULL;
  }
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

std::uint64_t stable_hash_none();
std::uint64_t stable_hash_int(std::int64_t value);
// An integer by sign and little-endian magnitude; trailing zero bytes are
// ignored, and a value in the Int64 range hashes as stable_hash_int does.
std::uint64_t stable_hash_big_int(bool negative, std::span<const std::uint8_t> magnitude);
// An integral float hashes as the integer it equals; NaN, infinities and
// fractions by their bits.
std::uint64_t stable_hash_float(double value);
std::uint64_t stable_hash_text(std::string_view utf8);
std::uint64_t stable_hash_bytes(std::span<const std::byte> bytes);

// A tuple's hash from its elements' hashes, in order.
class TupleHasher {
 public:
  void add(std::uint64_t element) { hasher_.add_u64(element); }
  std::uint64_t finish() const { return hasher_.finish(); }

 private:
  StableHasher hasher_{HashTag::tuple};
};

// A frozenset's hash from its elements' hashes, in any order.
class FrozensetHasher {
 public:
  void add(std::uint64_t element) { sum_ += StableHasher::fmix64(element); }
  std::uint64_t finish() const {
    StableHasher hasher(HashTag::frozenset);
    hasher.add_u64(sum_);
    return hasher.finish();
  }

 private:
  std::uint64_t sum_ = 0;
};

// ---------------------------------------------------------- the table -----

// An index as written into a Dict or Set: `slots` (value.capnp's `index`)
// and `unhashed`, the entries whose key had no stable hash, in order.
struct HashTable {
  std::vector<std::uint64_t> slots;
  std::vector<std::uint32_t> unhashed;
};

// The index of entries 0..hashes.size()-1, entry i having hash hashes[i]
// (nothing: no stable hash). Entries must number fewer than 2^32 - 1.
HashTable build_hash_table(std::span<const std::optional<std::uint64_t>> hashes);

// Slot layout (value.capnp): the hash's upper half beside entry + 1.
inline constexpr std::uint64_t kSlotEntryMask = 0xFFFFFFFFULL;
inline std::uint64_t hash_slot(std::uint64_t hash, std::uint32_t entry) {
  return (hash & ~kSlotEntryMask) | (std::uint64_t{entry} + 1);
}

}  // namespace shoal::heap
