// frozen_key_hash.hpp — the stable hash of a frozen value as Cap'n Proto
// holds it: the one walk both the writer (building an index at publish)
// and the reader (ValueReader::stable_hash) use, so that the two cannot
// disagree. The canonical forms are value.capnp's; the primitives are
// frozen_hash.hpp's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "shoal/frozen_hash.hpp"
#include "value.capnp.h"

namespace shoal::heap {

// The stable hash of `value`, or nothing for a value without one.
// `blob_bytes(BlobRef::Reader)` gives the bytes a textBlob or bytesBlob
// names (throwing if it names none). `depth_left` bounds the recursion
// into tuples and frozensets (nothing once it runs out: no hash, the
// entry is scanned instead).
template <typename BlobBytes>
std::optional<std::uint64_t> stable_hash_of(schema::Value::Reader value, BlobBytes&& blob_bytes,
                                            std::uint32_t depth_left) {
  using Which = schema::Value::Which;
  auto text_of = [](std::span<const std::byte> bytes) {
    return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  switch (value.which()) {
    case Which::NONE: return stable_hash_none();
    case Which::BOOLEAN: return stable_hash_int(value.getBoolean() ? 1 : 0);
    case Which::INT64: return stable_hash_int(value.getInt64());
    case Which::BIG_INT: {
      const auto big = value.getBigInt();
      const auto magnitude = big.getMagnitude();
      return stable_hash_big_int(big.getNegative(), {magnitude.begin(), magnitude.size()});
    }
    case Which::FLOAT64: return stable_hash_float(value.getFloat64());
    case Which::TEXT: {
      const auto text = value.getText();
      return stable_hash_text({text.begin(), text.size()});
    }
    case Which::TEXT_BLOB: return stable_hash_text(text_of(blob_bytes(value.getTextBlob())));
    case Which::BYTES: {
      const auto bytes = value.getBytes();
      return stable_hash_bytes(std::as_bytes(std::span(bytes.begin(), bytes.size())));
    }
    case Which::BYTES_BLOB: return stable_hash_bytes(blob_bytes(value.getBytesBlob()));
    case Which::TUPLE: {
      if (depth_left == 0) return std::nullopt;
      TupleHasher hasher;
      for (const auto item : value.getTuple()) {
        const auto h = stable_hash_of(item, blob_bytes, depth_left - 1);
        if (!h) return std::nullopt;
        hasher.add(*h);
      }
      return hasher.finish();
    }
    case Which::FROZENSET:
    case Which::INDEXED_FROZENSET: {
      if (depth_left == 0) return std::nullopt;
      FrozensetHasher hasher;
      const auto items = value.which() == Which::FROZENSET ? value.getFrozenset() : value.getIndexedFrozenset().getItems();
      for (const auto item : items) {
        const auto h = stable_hash_of(item, blob_bytes, depth_left - 1);
        if (!h) return std::nullopt;
        hasher.add(*h);
      }
      return hasher.finish();
    }
    default: return std::nullopt;  // unhashable (list, dict, set) or with no canonical form
  }
}

}  // namespace shoal::heap
