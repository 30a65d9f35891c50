// sites.cpp — the site table: decoding it (any reader, trusting nothing)
// and interning a site (Arena::intern_site, under the arena lock). The
// format is in layout.hpp (SiteTableHeader); the API in sites.hpp.
#include "shoal/sites.hpp"

#include <atomic>
#include <cstring>

#include "arena_lock.hpp"
#include "shoal/arena.hpp"
#include "shoal/arena_image.hpp"
#include "shoal/heap_format.hpp"

namespace shoal {
namespace {

using layout::SitePayload;
using layout::SiteRecord;
using layout::SiteRecordType;
using layout::SiteTableHeader;

std::uint64_t padded(std::uint64_t bytes) { return (bytes + 7) / 8 * 8; }

}  // namespace

const SiteEntry* SiteTable::find(std::uint32_t id) const {
  if (id == 0 || id > sites.size()) return nullptr;
  return &sites[id - 1];
}

std::string SiteTable::file_of(std::uint32_t id) const {
  const SiteEntry* site = find(id);
  return site == nullptr ? std::string() : files[site->file_id - 1];  // file_id checked by the decoder
}

std::string SiteTable::describe(std::uint32_t id) const {
  const SiteEntry* site = find(id);
  return site == nullptr ? std::string() : files[site->file_id - 1] + ":" + std::to_string(site->line);
}

std::uint64_t site_record_bytes(std::uint64_t file_bytes, bool new_file) {
  const std::uint64_t site = sizeof(SiteRecord) + sizeof(SitePayload);
  return new_file ? site + sizeof(SiteRecord) + padded(file_bytes) : site;
}

std::span<const std::byte> site_table_region(const std::byte* base, std::uint64_t mapped) {
  if (mapped < layout::kSiteTableOffset + layout::kSiteTableBytes) return {};
  return {base + layout::kSiteTableOffset, layout::kSiteTableBytes};
}

SiteTable decode_site_table(std::span<const std::byte> region) {
  SiteTable table;
  if (region.size() < sizeof(SiteTableHeader)) return table;
  SiteTableHeader header;
  std::memcpy(&header, region.data(), sizeof header);
  const std::byte* records = region.data() + sizeof header;
  const std::uint64_t room = region.size() - sizeof header;
  table.used = header.used;
  std::uint64_t limit = header.used;
  if (header.used > room) {
    table.error = "header claims " + std::to_string(header.used) + " bytes of records, room for " + std::to_string(room);
    limit = room;
  }
  // Each record takes at least 8 bytes, so this ends within room / 8 steps.
  std::uint64_t at = 0;
  while (at < limit) {
    const std::string where = "record at byte " + std::to_string(at);
    if (limit - at < sizeof(SiteRecord)) {
      table.error = where + " is truncated";
      break;
    }
    SiteRecord record;
    std::memcpy(&record, records + at, sizeof record);
    const std::uint64_t size = sizeof record + padded(record.length);
    if (size > limit - at) {
      table.error = where + " claims " + std::to_string(record.length) + " bytes, past the end of the log";
      break;
    }
    const std::byte* payload = records + at + sizeof record;
    if (record.type == static_cast<std::uint8_t>(SiteRecordType::file)) {
      const std::string_view path(reinterpret_cast<const char*>(payload), record.length);
      if (record.length == 0 || record.length > layout::kMaxSiteFileBytes || record.id != table.files.size() + 1 ||
          path.find('\0') != std::string_view::npos || !heap::is_valid_utf8(path)) {
        table.error = where + " is not a valid file record (id " + std::to_string(record.id) + ", " +
                      std::to_string(record.length) + " bytes)";
        break;
      }
      table.files.emplace_back(path);
    } else if (record.type == static_cast<std::uint8_t>(SiteRecordType::site)) {
      SitePayload site{};
      if (record.length == sizeof site) std::memcpy(&site, payload, sizeof site);
      if (record.length != sizeof site || record.id != table.sites.size() + 1 || site.file_id == 0 ||
          site.file_id > table.files.size()) {
        table.error = where + " is not a valid site record (id " + std::to_string(record.id) + ")";
        break;
      }
      table.sites.push_back({site.file_id, site.line});
    } else {
      table.error = where + " has unknown type " + std::to_string(record.type);
      break;
    }
    at += size;
  }
  table.valid = at;
  return table;
}

// The process-local cache is rebuilt from the log whenever the log grew
// (other processes intern too); the log itself is the only truth.
void Arena::refresh_sites_locked(const SiteTable& table) {
  if (table.valid == sites_.seen && table.error.empty()) return;
  sites_.files.clear();
  sites_.sites.clear();
  for (std::size_t i = 0; i < table.files.size(); ++i) {
    sites_.files.emplace(table.files[i], static_cast<std::uint32_t>(i + 1));
  }
  for (std::size_t i = 0; i < table.sites.size(); ++i) {
    sites_.sites.emplace(std::pair{table.sites[i].file_id, table.sites[i].line}, static_cast<std::uint32_t>(i + 1));
  }
  sites_.seen = table.valid;
}

std::uint32_t Arena::cached_site(std::string_view file, std::uint32_t line) const {
  const auto f = sites_.files.find(std::string(file));
  if (f == sites_.files.end()) return 0;
  const auto s = sites_.sites.find({f->second, line});
  return s == sites_.sites.end() ? 0 : s->second;
}

std::uint32_t Arena::intern_site(std::string_view file, std::uint32_t line) {
  if (file.size() > layout::kMaxSiteFileBytes) file = file.substr(file.size() - layout::kMaxSiteFileBytes);
  if (file.empty() || file.find('\0') != std::string_view::npos || !heap::is_valid_utf8(file)) return 0;
  std::lock_guard guard(sites_.mutex);
  if (const std::uint32_t id = cached_site(file, line)) return id;
  if (sites_.full) return 0;

  ArenaLock lock(*this);
  std::byte* region = base_ + layout::kSiteTableOffset;
  const SiteTable table = decode_site_table({region, layout::kSiteTableBytes});
  refresh_sites_locked(table);
  if (const std::uint32_t id = cached_site(file, line)) return id;

  const auto known = sites_.files.find(std::string(file));
  const bool new_file = known == sites_.files.end();
  const std::uint64_t need = site_record_bytes(file.size(), new_file);
  // Appends after the last good record: bytes past it (a record a dead
  // writer never committed, or damage) are overwritten.
  const std::uint64_t at = table.valid;
  if (at + need > layout::kSiteTableBytes - sizeof(SiteTableHeader)) {
    sites_.full = true;  // the log only grows: it stays full
    return 0;
  }
  std::byte* out = region + sizeof(SiteTableHeader) + at;
  std::uint32_t file_id = new_file ? static_cast<std::uint32_t>(table.files.size() + 1) : known->second;
  if (new_file) {
    const SiteRecord record{static_cast<std::uint8_t>(SiteRecordType::file), 0,
                            static_cast<std::uint16_t>(file.size()), file_id};
    std::memcpy(out, &record, sizeof record);
    std::memcpy(out + sizeof record, file.data(), file.size());
    std::memset(out + sizeof record + file.size(), 0, padded(file.size()) - file.size());
    out += sizeof record + padded(file.size());
  }
  const std::uint32_t site_id = static_cast<std::uint32_t>(table.sites.size() + 1);
  const SiteRecord record{static_cast<std::uint8_t>(SiteRecordType::site), 0, sizeof(SitePayload), site_id};
  const SitePayload payload{file_id, line};
  std::memcpy(out, &record, sizeof record);
  std::memcpy(out + sizeof record, &payload, sizeof payload);
  // Commit: the records above become part of the log.
  auto* header = reinterpret_cast<SiteTableHeader*>(region);
  std::atomic_ref<std::uint64_t>(header->used).store(at + need, std::memory_order_release);

  if (new_file) sites_.files.emplace(std::string(file), file_id);
  sites_.sites.emplace(std::pair{file_id, line}, site_id);
  sites_.seen = at + need;
  return site_id;
}

SiteTable Arena::sites() const {
  // Lock-free: the log only grows and `used` is committed last, so the
  // image copies `used` (acquire) and only the records before it.
  return ArenaImage(base_, size_).sites();
}

}  // namespace shoal
