// frozen_utf8.cpp — is_valid_utf8: the check every frozen text passes, on
// freezing (so nothing unreadable is published) and on reading (so a
// corrupted message never hands a caller invalid text). Cap'n Proto itself
// only checks that a Text ends with a NUL.
//
// Well-formed UTF-8 per RFC 3629 / Unicode table 3-7: shortest form only,
// no UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "shoal/heap_format.hpp"

namespace shoal::heap {

namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the sequence starting at text[i] if it is well formed, else 0.
std::size_t sequence_length(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  const std::size_t left = text.size() - i;
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  if (lead >= 0xC2 && lead <= 0xDF) {
    return left >= 2 && is_continuation(at(1)) ? 2 : 0;
  }
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (left < 3 || !is_continuation(at(1)) || !is_continuation(at(2))) return 0;
    if (lead == 0xE0 && at(1) < 0xA0) return 0;  // overlong
    if (lead == 0xED && at(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (left < 4 || !is_continuation(at(1)) || !is_continuation(at(2)) || !is_continuation(at(3))) return 0;
    if (lead == 0xF0 && at(1) < 0x90) return 0;  // overlong
    if (lead == 0xF4 && at(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;  // a continuation byte, 0xC0/0xC1 (overlong) or 0xF5..0xFF
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    // ASCII fast path, eight bytes at a time: most text is ASCII.
    if (text.size() - i >= 8) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if ((word & 0x8080808080808080u) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

}  // namespace shoal::heap
