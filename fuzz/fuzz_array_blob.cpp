// fuzz_array_blob.cpp — libFuzzer target: arbitrary bytes as the payload of
// a blob flagged as describing its own array (array_blob.hpp).
//
// parse_array_blob must refuse the input or describe an array that lies
// wholly inside it; both ends of that array are read, so an accepted header
// whose data reached past the payload is an out-of-bounds read for ASan.
// Everything the parser promises is checked again here, from the input.
//
// Build and run: see fuzz/meson.build.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>

#include "shoal/array_blob.hpp"
#include "shoal/heap_format.hpp"
#include "shoal/layout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> payload(reinterpret_cast<const std::byte*>(data), size);
  const std::optional<shoal::heap::ArrayBlob> array = shoal::heap::parse_array_blob(payload);
  if (!array) return 0;
  if (array->data_offset % shoal::layout::kAlign != 0 || array->data_offset > size ||
      array->nbytes > size - array->data_offset || array->shape.size() > shoal::layout::kMaxArrayDims ||
      shoal::heap::dtype_itemsize(array->dtype) != array->itemsize) {
    std::abort();
  }
  std::uint64_t product = array->itemsize;
  for (std::uint64_t dim : array->shape) {
    if (dim > static_cast<std::uint64_t>(INT64_MAX) || __builtin_mul_overflow(product, dim, &product)) std::abort();
  }
  if (product != array->nbytes) std::abort();
  if (array->nbytes != 0) {
    volatile std::byte first = payload[array->data_offset];
    volatile std::byte last = payload[array->data_offset + array->nbytes - 1];
    (void)first;
    (void)last;
  }
  return 0;
}
