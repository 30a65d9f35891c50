// heap_format.hpp — the rules of a frozen object that writers and readers share.
//
// A frozen object is one arena block of kind `object`: a child table (the
// handles of the blocks it holds one reference on each) and a body holding
// one Cap'n Proto message whose root is `Frozen` (schemas/value.capnp).
// Buffers above kInlineMax bytes live in child blocks of kind `blob`,
// 64-byte aligned, and the message names them by their index in the child
// table. Published objects never change.
//
// heap.hpp includes the whole API: freezer.hpp builds objects, frozen.hpp
// reads them in place. This header holds the limits both sides agree on,
// the error a reader raises for corrupt content, and the checks both sides
// run on the parts of a value that Cap'n Proto cannot check for us (UTF-8,
// NumPy dtypes and array extents).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "shoal/errors.hpp"

namespace shoal::heap {

// Buffers (text, bytes, pickles) of at most this many bytes are copied into
// the message; larger ones get a blob block of their own. Why 4 KiB: a blob
// costs an allocation under the arena lock, a 64-byte header, alignment
// padding and a child-table entry, about 160 ns over an inline buffer
// (bench/heap_bench: freezing 16 bytes takes 177 ns, 4,097 bytes 338 ns),
// while inline bytes are copied twice (into the message, then the message
// into the arena), so inline is cheaper for small buffers and the gap
// closes around a few KiB (4,096 bytes inline: 261 ns). Past that, a blob
// is copied once, is 64-byte aligned for NumPy and SIMD, and a receiver
// can keep it without the rest of the object. NumPy arrays always live in
// blobs, whatever their size (alignment).
inline constexpr std::size_t kInlineMax = 4096;

// How deeply containers may nest (a list in a list in ... counts one level
// per container). It matches CPython's default recursion limit: whatever
// Python can build without RecursionError can be frozen. Freezing deeper
// raises InvalidArgument; reading a message that claims more raises
// CorruptObject, before any recursion of the reader's caller can overflow
// its stack.
inline constexpr std::uint32_t kMaxDepth = 1000;

// Elements of one container, bytes of one inline buffer: Cap'n Proto's own
// limit for a list (2^29 - 1 elements).
inline constexpr std::uint64_t kMaxElements = (std::uint64_t{1} << 29) - 1;

// Dimensions of an array (NumPy 2's NPY_MAXDIMS).
inline constexpr std::size_t kMaxDims = 64;

// Cap'n Proto's traversal limit for reading a message, as a multiple of the
// message's own size in words. Reading every part of a message once
// traverses about its size; the factor leaves room for callers that read a
// part twice. A message built to be traversed far more than its size
// (pointers aliasing one another, or lists of empty elements claiming
// billions of entries) is refused instead: reading time stays linear in the
// bytes of the message. Blobs are separate blocks and never count, so a
// 1 GiB array costs a few words of traversal.
inline constexpr std::uint64_t kTraversalFactor = 4;

// Content of an object that cannot be read raises shoal::CorruptObject
// (errors.hpp): a body that is not a Cap'n Proto message, a value of the
// wrong shape, a reference to a child that does not exist or is not what it
// should be, invalid UTF-8, a bad dtype, an array reaching outside its blob,
// nesting beyond kMaxDepth. The message names the arena, the object's
// handle and what was found.
using shoal::CorruptObject;

// What a value is, as a reader sees it. Text and bytes are one kind each,
// wherever they are stored (inline or in a blob).
enum class ValueKind : std::uint8_t {
  none,
  boolean,
  int64,
  big_int,
  float64,
  text,
  bytes,
  list,
  tuple,
  dict,
  set,
  frozenset,
  ndarray,
  blob,
  pickled,
  channel,
  view,  // a value of another frozen object, read in place (shoal.freeze())
};

const char* to_string(ValueKind kind);

// True for well-formed UTF-8: no overlong forms, no surrogates, nothing
// above U+10FFFF, no truncated sequence.
bool is_valid_utf8(std::string_view text);

// The item size in bytes of a NumPy type string with an explicit byte order
// ("<f8" -> 8, "<U3" -> 12, "|S10" -> 10, "<M8[ns]" -> 8), or nothing if
// it is not one shoal freezes (object arrays "|O", native order "=f8",
// sizes NumPy does not have).
std::optional<std::uint64_t> dtype_itemsize(std::string_view dtype);

// The bytes an array touches, relative to its element [0, 0, ...]:
// [low, high). `low` is <= 0 (negative strides reach backwards). An array
// with a zero in its shape touches nothing: low == high == 0. Nothing if
// the numbers overflow or shape and strides differ in length.
struct ArrayExtent {
  std::int64_t low = 0;
  std::int64_t high = 0;
};
std::optional<ArrayExtent> array_extent(std::uint64_t itemsize, std::span<const std::uint64_t> shape,
                                        std::span<const std::int64_t> strides);

// True when an array of that extent, its element [0, ...] `origin` bytes
// into a buffer of `length` bytes, lies entirely inside the buffer.
bool array_fits(const ArrayExtent& extent, std::uint64_t origin, std::uint64_t length);

}  // namespace shoal::heap
