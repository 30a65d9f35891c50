// array_blob.hpp — an array that carries its own description: a blob whose
// payload begins with an ArrayBlobHeader (layout.hpp), so that it can be
// sent through a channel as itself.
//
// Why: sending an array any other way freezes a new object block that
// describes it (dtype, shape, a reference on its blob), and the receiver
// reads that object back. For the array made in the arena and sent whole
// (shoal.empty, filled, sent), the blob can describe itself instead: the
// channel slot names the blob, sending is one reference moved into a slot
// and receiving reads 56 bytes plus the shape. No object is allocated,
// encoded, decoded or freed on the way; after a large write, when every
// cache line that path touches is cold, that is most of a hand-off.
//
// The header is written by the blob's creator before anyone else can see
// the block (write_array_header), and frozen with the bytes when the blob is
// sent. A reader trusts nothing in it: parse_array_blob copies the header
// out once and checks every field against the payload it lies in.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "shoal/holder.hpp"

namespace shoal::heap {

// The payload a blob needs for an array of `nbytes` bytes and `ndim`
// dimensions: header, shape, padding, data. Throws InvalidArgument past
// layout::kMaxArrayDims, or when the sum overflows.
std::uint64_t array_blob_bytes(std::uint32_t ndim, std::uint64_t nbytes);

// Writes the header of a C-contiguous array of `dtype` (a NumPy type string
// with an explicit byte order, as dtype_itemsize accepts) and `shape` into
// `blob`, a new blob block of at least array_blob_bytes() payload that no
// one else holds yet, and flags it layout::kArrayBlob. Throws
// InvalidArgument if the dtype is not one shoal sends, the shape's size
// overflows, or the blob is too small or already published.
void write_array_header(HeldBlock& blob, std::string_view dtype, std::span<const std::uint64_t> shape);

// A validated array blob: what its header says, copied out of the arena.
struct ArrayBlob {
  std::string dtype;
  std::uint64_t itemsize = 0;
  std::vector<std::uint64_t> shape;
  std::uint64_t data_offset = 0;  // from the payload start; the data is C-contiguous
  std::uint64_t nbytes = 0;
};

// The array a blob's payload holds, checked against the payload: the
// magic, a dtype dtype_itemsize accepts, at most kMaxArrayDims dimensions
// whose product (times the item size) is `nbytes` without overflow, data
// that starts 64-aligned past the shape and ends inside the payload.
// Nothing if any check fails. Reads each field of the header once.
std::optional<ArrayBlob> parse_array_blob(std::span<const std::byte> payload);

// The most bytes of a payload parse_array_blob reads: the header and the
// longest shape. The data after them it only bounds, never reads.
inline constexpr std::uint64_t kArrayBlobHeadBytes =
    sizeof(layout::ArrayBlobHeader) + std::uint64_t{layout::kMaxArrayDims} * sizeof(std::uint64_t);

// The same checks, on `head`, a copy of the first bytes of a payload of
// `payload_bytes` (at least kArrayBlobHeadBytes of them, or the whole
// payload when it is shorter): how a reader that copies the arena out
// before looking at it (ArenaImage::array_blob) checks a blob without
// copying its data.
std::optional<ArrayBlob> parse_array_blob(std::span<const std::byte> head, std::uint64_t payload_bytes);

// True when `block` (one we hold) is a blob flagged kArrayBlob. Read from the
// arena: a corrupt arena may say anything, so parse_array_blob still checks.
bool is_array_blob(const HeldBlock& block);

}  // namespace shoal::heap
