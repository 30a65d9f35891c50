// size.hpp — byte sizes as humans type and read them ("64MiB", "1.5 GiB").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shoal {

// Parses "4096", "64KiB", "64MiB", "4GiB", "1.5G", "10MB". Binary units
// (K, KiB, M, MiB, G, GiB, T, TiB) are powers of 1024; KB, MB, GB and TB are
// powers of 1000; "B" or no unit means bytes. Case-insensitive, spaces
// allowed before the unit. Throws InvalidArgument naming the text on any
// malformed input, a fractional byte count, or overflow.
std::uint64_t parse_size(std::string_view text);

// Formats with the largest binary unit that keeps the value >= 1:
// "512 B", "1.0 KiB", "63.9 MiB", "4.0 GiB".
std::string format_size(std::uint64_t bytes);

}  // namespace shoal
