// dtype.cpp — NumPy type strings and plain dtype names.
#include "dtype.hpp"

#include <array>
#include <cstdio>

namespace shoal_py {
namespace {

// One element type: NumPy's kind letter and size, and the struct-module
// letter for it in standard sizes.
struct ElementType {
  char kind;  // 'b' bool, 'i' signed, 'u' unsigned, 'f' float, 'c' complex
  std::uint64_t itemsize;
  const char* format_letter;  // without byte order
  const char* plain_name;
};

constexpr std::array<ElementType, 14> kElementTypes = {{
    {'b', 1, "?", "bool"},
    {'i', 1, "b", "int8"},
    {'u', 1, "B", "uint8"},
    {'i', 2, "h", "int16"},
    {'u', 2, "H", "uint16"},
    {'i', 4, "i", "int32"},
    {'u', 4, "I", "uint32"},
    {'i', 8, "q", "int64"},
    {'u', 8, "Q", "uint64"},
    {'f', 2, "e", "float16"},  // IEEE half: the struct module's 'e', NumPy's float16
    {'f', 4, "f", "float32"},
    {'f', 8, "d", "float64"},
    {'c', 8, "Zf", "complex64"},
    {'c', 16, "Zd", "complex128"},
}};

// This build only runs on little-endian machines (see architecture.md).
constexpr char kNativeOrder = '<';

DType build(const ElementType& type, char order) {
  if (type.itemsize == 1) order = '|';  // a single byte has no order
  DType dtype;
  dtype.itemsize = type.itemsize;
  dtype.typestr = std::string(1, order) + type.kind + std::to_string(type.itemsize);
  // Native order gets the bare letter: memoryview only indexes native formats.
  // (Formatted rather than concatenated: GCC 12 warns falsely, -Wrestrict, on
  // appending to a short std::string here.)
  char format[4] = {};
  std::snprintf(format, sizeof format, "%s%s", order == '>' ? ">" : "", type.format_letter);
  dtype.format = format;
  return dtype;
}

// Every (type, byte order) built once, on first use: arena.empty() parses
// its dtype on every call, and building the strings showed in its profile.
// Process-wide and free of Python objects, so shared by all interpreters.
DType make(std::size_t type_index, char order) {
  static const auto kBuilt = [] {
    std::array<std::array<DType, 2>, kElementTypes.size()> built;
    for (std::size_t i = 0; i < kElementTypes.size(); ++i) {
      built[i][0] = build(kElementTypes[i], '<');
      built[i][1] = build(kElementTypes[i], '>');
    }
    return built;
  }();
  return kBuilt[type_index][order == '>' ? 1 : 0];  // '|' is single bytes only: the same as '<'
}

// A NumPy type string: "<f8", ">i4", "|u1", "=c16", or without the byte
// order ("f8", "u1"), which NumPy reads as this machine's.
std::optional<DType> from_type_string(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  char order = text[0];
  if (order >= 'a' && order <= 'z') {
    order = kNativeOrder;
  } else {
    text.remove_prefix(1);
  }
  if (text.size() < 2) return std::nullopt;
  if (order == '=') order = kNativeOrder;
  if (order != '<' && order != '>' && order != '|') return std::nullopt;
  const char kind = text[0];
  const std::string_view digits = text.substr(1);
  std::uint64_t itemsize = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || itemsize > 16) return std::nullopt;
    itemsize = itemsize * 10 + static_cast<std::uint64_t>(c - '0');
  }
  for (std::size_t i = 0; i < kElementTypes.size(); ++i) {
    const ElementType& type = kElementTypes[i];
    if (type.kind != kind || type.itemsize != itemsize) continue;
    // '|' is NumPy's "no byte order": numpy.dtype("|f8") is this machine's.
    return make(i, order == '|' ? kNativeOrder : order);
  }
  return std::nullopt;
}

}  // namespace

std::optional<DType> parse_dtype(std::string_view text) {
  for (std::size_t i = 0; i < kElementTypes.size(); ++i) {
    if (text == kElementTypes[i].plain_name) return make(i, kNativeOrder);
  }
  return from_type_string(text);
}

}  // namespace shoal_py
