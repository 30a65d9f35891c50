// buffer_format.hpp — a buffer-protocol format ("<i", "d", "Zf", "?") as the
// NumPy type string a frozen array carries ("<i4", "<f8", "<c8", "|b1").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shoal_py {

// The NumPy type string of one element of a buffer whose struct-module
// format is `format` (null means "B") and whose items are `itemsize` bytes,
// or nothing if it is not a single number shoal arrays hold (a struct, a
// pointer, ...). The byte order comes from the format's
// prefix: '<', '>' and '!' are explicit, '@', '=' and none mean this
// machine's (little-endian: see docs/architecture.md, Limits).
std::optional<std::string> typestr_of_format(const char* format, std::int64_t itemsize);

}  // namespace shoal_py
