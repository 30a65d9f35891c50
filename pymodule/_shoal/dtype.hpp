// dtype.hpp — the element types a shoal.Buffer can hold, named as NumPy
// names them.
//
// A dtype is given either as a NumPy type string with its byte order
// ("<f8", ">i4", "|u1", "|b1", "<c16"; "=" or none means this machine's
// order) or as a plain name ("float64", "int32", "uint8", "bool",
// "float16", "complex128"). (Every other spelling NumPy accepts, a type
// like numpy.float32 or a numpy.dtype, is turned into its type string at
// the Python boundary: buffer_type.cpp, parse_dtype_object.)
// Either way it becomes a DType: the canonical type string (what
// __array_interface__ and the frozen format carry) and the buffer-protocol
// format (what memoryview and NumPy's PEP 3118 path read).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal_py {

struct DType {
  std::string typestr;  // "<f8", "|u1", ...: explicit byte order, as NumPy's dtype.str
  std::string format;   // struct-module format: "d", ">d", "B", "?", "Zd", ...
  std::uint64_t itemsize = 0;
};

// The DType `text` names, or nothing if it is not one shoal buffers hold
// (bool, signed and unsigned integers of 1 to 8 bytes, float16/32/64,
// complex64/128).
std::optional<DType> parse_dtype(std::string_view text);

}  // namespace shoal_py
