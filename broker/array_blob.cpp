// array_blob.cpp — writing and reading the header of a blob that describes
// its own array (array_blob.hpp).
#include "shoal/array_blob.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/heap_format.hpp"
#include "shoal/layout.hpp"

namespace shoal::heap {

namespace {

using layout::ArrayBlobHeader;

// itemsize times every dimension, or nothing on overflow.
std::optional<std::uint64_t> array_nbytes(std::uint64_t itemsize, std::span<const std::uint64_t> shape) {
  std::uint64_t n = itemsize;
  for (std::uint64_t dim : shape) {
    if (__builtin_mul_overflow(n, dim, &n)) return std::nullopt;
  }
  return n;
}

}  // namespace

std::uint64_t array_blob_bytes(std::uint32_t ndim, std::uint64_t nbytes) {
  if (ndim > layout::kMaxArrayDims) {
    throw InvalidArgument("an array blob has at most " + std::to_string(layout::kMaxArrayDims) + " dimensions, not " +
                          std::to_string(ndim));
  }
  std::uint64_t total = 0;
  if (__builtin_add_overflow(layout::array_blob_data_offset(ndim), nbytes, &total)) {
    throw InvalidArgument("an array of " + std::to_string(nbytes) + " bytes is too large for a blob");
  }
  return total;
}

void write_array_header(HeldBlock& blob, std::string_view dtype, std::span<const std::uint64_t> shape) {
  const std::optional<std::uint64_t> itemsize = dtype_itemsize(dtype);
  if (!itemsize || dtype.size() >= layout::kArrayDtypeChars) {
    throw InvalidArgument("an array blob cannot hold dtype '" + std::string(dtype) + "'");
  }
  const std::optional<std::uint64_t> nbytes = array_nbytes(*itemsize, shape);
  if (!nbytes) throw InvalidArgument("an array blob's shape overflows");
  const auto ndim = static_cast<std::uint32_t>(shape.size());
  if (shape.size() > layout::kMaxArrayDims || blob.bytes().size() < array_blob_bytes(ndim, *nbytes)) {
    throw InvalidArgument("the blob is too small for its array header and data");
  }
  if (blob.kind() != layout::BlockKind::blob || blob.frozen()) {
    throw InvalidArgument("only a new, unpublished blob can take an array header");
  }
  std::byte* payload = blob.bytes().data();
  ArrayBlobHeader header{};
  header.magic = layout::kArrayBlobMagic;
  header.ndim = ndim;
  header.data_offset = layout::array_blob_data_offset(ndim);
  header.nbytes = *nbytes;
  std::memcpy(header.dtype, dtype.data(), dtype.size());  // the rest stays NUL
  std::memcpy(payload, &header, sizeof header);
  if (!shape.empty()) std::memcpy(payload + sizeof header, shape.data(), shape.size_bytes());
  // The flag last, as the header's commit. No lock: the block is ours alone
  // until it is sent, and sending (under the lock) publishes both.
  auto* block = reinterpret_cast<layout::BlockHeader*>(blob.holder()->arena().base() + blob.handle().offset);
  std::atomic_ref<std::uint16_t>(block->flags).fetch_or(layout::kArrayBlob, std::memory_order_release);
}

std::optional<ArrayBlob> parse_array_blob(std::span<const std::byte> payload) {
  return parse_array_blob(payload.first(std::min<std::uint64_t>(payload.size(), kArrayBlobHeadBytes)), payload.size());
}

std::optional<ArrayBlob> parse_array_blob(std::span<const std::byte> head, std::uint64_t payload_bytes) {
  // One copy of the header: another process may be writing the arena.
  ArrayBlobHeader header;
  if (head.size() < sizeof header || payload_bytes < sizeof header) return std::nullopt;
  std::memcpy(&header, head.data(), sizeof header);
  if (header.magic != layout::kArrayBlobMagic || header.ndim > layout::kMaxArrayDims) return std::nullopt;
  const std::uint64_t shape_end = sizeof header + std::uint64_t{header.ndim} * sizeof(std::uint64_t);
  if (header.data_offset % layout::kAlign != 0 || header.data_offset < shape_end ||
      header.data_offset > payload_bytes || header.nbytes > payload_bytes - header.data_offset ||
      shape_end > head.size()) {
    return std::nullopt;
  }
  // The dtype: NUL-terminated inside its field, a type string shoal knows.
  const void* nul = std::memchr(header.dtype, '\0', sizeof header.dtype);
  if (nul == nullptr) return std::nullopt;
  const std::string_view dtype(header.dtype, static_cast<const char*>(nul) - header.dtype);
  const std::optional<std::uint64_t> itemsize = dtype_itemsize(dtype);
  if (!itemsize) return std::nullopt;
  ArrayBlob array;
  array.shape.resize(header.ndim);
  if (header.ndim != 0) std::memcpy(array.shape.data(), head.data() + sizeof header, shape_end - sizeof header);
  for (std::uint64_t dim : array.shape) {
    if (dim > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;  // a zero elsewhere would hide it
  }
  const std::optional<std::uint64_t> nbytes = array_nbytes(*itemsize, array.shape);
  if (!nbytes || *nbytes != header.nbytes) return std::nullopt;
  array.dtype = std::string(dtype);
  array.itemsize = *itemsize;
  array.data_offset = header.data_offset;
  array.nbytes = header.nbytes;
  return array;
}

bool is_array_blob(const HeldBlock& block) {
  if (!block || block.kind() != layout::BlockKind::blob) return false;
  auto* header = reinterpret_cast<layout::BlockHeader*>(block.holder()->arena().base() + block.handle().offset);
  const std::uint16_t flags = std::atomic_ref<std::uint16_t>(header->flags).load(std::memory_order_acquire);
  return (flags & layout::kArrayBlob) != 0;
}

}  // namespace shoal::heap
