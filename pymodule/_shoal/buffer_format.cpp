// buffer_format.cpp — struct-module format codes to NumPy type strings.
#include "buffer_format.hpp"

#include <string_view>

namespace shoal_py {
namespace {

// NumPy's kind letter for a struct code: 'b' bool, 'i' signed, 'u'
// unsigned, 'f' float, 'c' complex; 0 for anything else. The size comes
// from the buffer's itemsize, so native codes ('l', 'n') need no table of
// platform sizes.
char kind_of_code(std::string_view code) {
  if (code == "?") return 'b';
  if (code == "Zf" || code == "Zd") return 'c';
  if (code.size() != 1) return 0;
  switch (code[0]) {
    case 'b': case 'h': case 'i': case 'l': case 'q': case 'n': return 'i';
    case 'B': case 'H': case 'I': case 'L': case 'Q': case 'N': return 'u';
    case 'e': case 'f': case 'd': return 'f';
    default: return 0;
  }
}

}  // namespace

std::optional<std::string> typestr_of_format(const char* format, std::int64_t itemsize) {
  std::string_view rest = format != nullptr ? format : "B";
  char order = '<';  // this machine's
  if (!rest.empty() && std::string_view("@=<>!").find(rest[0]) != std::string_view::npos) {
    if (rest[0] == '>' || rest[0] == '!') order = '>';
    rest.remove_prefix(1);
  }
  const char kind = kind_of_code(rest);
  if (kind == 0 || itemsize <= 0 || itemsize > 16) return std::nullopt;
  if (itemsize == 1) order = '|';  // NumPy writes no byte order for single bytes
  return std::string(1, order) + kind + std::to_string(itemsize);
}

}  // namespace shoal_py
