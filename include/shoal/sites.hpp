// sites.hpp — where blocks were made: the arena's site table.
//
// A site is a (source file, line) pair, interned once per arena into an
// append-only log in the header's padding (layout.hpp, SiteTableHeader) and
// named by a small id. A block records the id of the site that made it in
// BlockHeader::site (0 = unknown); the Python extension passes the calling
// frame's file and line when it allocates (`empty`) or freezes (`send`).
//
//   std::uint32_t site = arena.intern_site("app.py", 42);  // under the lock, once
//   HeldBlock block = holder.allocate(1024, BlockKind::blob, site);
//   SiteTable table = decode_site_table(region);          // any reader
//   table.describe(block_site)                            // "app.py:42"
//
// decode_site_table() is the one reader of the log: it trusts nothing
// (every length and id is checked, `used` is bounded by the region) and
// stops at the first malformed record, reporting why. It is fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "shoal/layout.hpp"

namespace shoal {

struct SiteEntry {
  std::uint32_t file_id = 0;  // 1-based index into SiteTable::files
  std::uint32_t line = 0;
};

struct SiteTable {
  std::vector<std::string> files;  // file id i + 1
  std::vector<SiteEntry> sites;    // site id i + 1
  std::uint64_t used = 0;          // record bytes the header claims (bounded by the region)
  std::uint64_t valid = 0;         // record bytes decoded before a malformed record (== used when sound)
  std::string error;               // why decoding stopped before `used`; empty when it did not

  // The site `id`, or nullptr for 0 or an id the table does not have.
  const SiteEntry* find(std::uint32_t id) const;
  // The file of a site (empty if unknown).
  std::string file_of(std::uint32_t id) const;
  // "file:line", or "" for an unknown id.
  std::string describe(std::uint32_t id) const;
};

// Decodes the site table from the kSiteTableBytes bytes at
// kSiteTableOffset of an arena (a live mapping or a copy). `region` may be
// any bytes: a shorter span decodes as an empty table.
SiteTable decode_site_table(std::span<const std::byte> region);

// The site table region of a mapped arena of `mapped` bytes (empty if the
// mapping is too small to hold one).
std::span<const std::byte> site_table_region(const std::byte* base, std::uint64_t mapped);

// Bytes one new site takes in the log: its record, and its file's record
// if the file is new.
std::uint64_t site_record_bytes(std::uint64_t file_bytes, bool new_file);

}  // namespace shoal
