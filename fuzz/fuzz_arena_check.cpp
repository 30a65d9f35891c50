// fuzz_arena_check.cpp — libFuzzer target for the arena walker: the
// consistency check (check_image) that `shoal check` and the tests run, the
// reader under it and under the CLI (ArenaImage: every structure it offers,
// as the census reads them), and the rebuild that repair runs, must survive
// any damage to an arena.
//
// A realistic arena image is made once (blocks of every kind: raw, blobs,
// an object owning children, a channel holding items, ledgers of two
// holders, a site table with blocks naming its sites, in-flight references); each input is a list of patches applied to a copy of it:
//   [u32 offset, little-endian][u8 length][length bytes]...
// with offsets taken modulo the image size, so the fuzzer can aim at the
// header, the holder slots, the bitmap and the heap alike. The walker must
// report problems, never crash, hang, or read out of bounds (ASan).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "block_heap.hpp"
#include "shoal/arena.hpp"
#include "shoal/arena_image.hpp"
#include "shoal/channel.hpp"
#include "shoal/holder.hpp"
#include "shoal/in_flight.hpp"
#include "shoal/sites.hpp"

namespace {

// The pristine image, built on first use (no global constructors).
const std::vector<std::byte>& pristine_image() {
  static const std::vector<std::byte> image = [] {
    using shoal::layout::BlockKind;
    const std::string name = "fuzz-check-" + std::to_string(getpid());
    shoal::Arena::destroy(name);
    auto arena = shoal::Arena::create(name, shoal::layout::kMinArenaBytes);
    auto first = arena->attach_holder();
    auto second = arena->attach_holder(7);
    std::vector<shoal::HeldBlock> kept;
    const std::uint32_t site = arena->intern_site("fuzz/maker.py", 12);
    kept.push_back(first->allocate(100, BlockKind::raw, site));
    kept.push_back(first->allocate(5000, BlockKind::blob, arena->intern_site("fuzz/other.py", 3)));
    const shoal::Handle blob = kept.back().handle();
    kept.push_back(second->retain(blob));
    const shoal::Handle children[] = {blob, kept.front().handle()};
    kept.push_back(first->allocate_object(children, 200, arena->intern_site("fuzz/maker.py", 13)));
    shoal::Channel channel = shoal::Channel::create(*second, 4);
    channel.send(kept[0].handle());
    channel.send(kept[3].handle());
    kept.push_back(first->allocate(300));
    kept.pop_back();  // a free block in the middle
    // Two pickles in flight: entries 0 and 1 of the in-flight table.
    (void)shoal::InFlight::issue(*arena, blob, std::chrono::minutes(1));
    (void)shoal::InFlight::issue(*arena, channel.handle(), std::chrono::minutes(1));
    const auto* base = arena->base();
    return std::vector<std::byte>(base, base + arena->size());
  }();
  return image;
}

// Every structure the reader offers, read as the CLI's census reads them.
void read_everything(const std::vector<std::byte>& image) {
  const shoal::ArenaImage reader(image.data(), image.size());
  for (std::uint32_t i = 0; i < shoal::layout::kMaxHolders; ++i) (void)reader.holder(i);
  const auto table = reader.in_flight_table();
  for (std::uint64_t i = 0; i < std::min(table.extent, shoal::layout::kInFlightEntries); ++i) {
    (void)reader.in_flight_entry(i);
  }
  (void)reader.sites();
  if (!reader.is_valid()) return;
  (void)reader.walk([&](const shoal::ArenaImage::Block& b) {
    (void)shoal::block_is_valid(b.header);
    (void)reader.bitmap_bit(b.offset);
    if (b.free()) (void)reader.free_links(b);
    if (const auto ledger = reader.ledger(b)) {
      for (std::uint64_t i = 0; i < ledger->capacity; ++i) (void)reader.ledger_entry(*ledger, i);
      (void)reader.block(ledger->chunk.next);  // a link, bounded like any offset
    }
    if (const auto channel = reader.channel(b)) {
      for (std::uint64_t i = 0; i < channel->pending; ++i) (void)reader.block(reader.channel_item(*channel, i).offset);
    }
    if (const auto children = reader.child_table(b)) {
      for (std::uint64_t i = 0; i < children->count; ++i) (void)reader.block(reader.child(*children, i).offset);
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::byte>& pristine = pristine_image();
  std::vector<std::byte> image = pristine;
  for (std::size_t at = 0; at + 5 <= size;) {
    std::uint32_t offset = 0;
    std::memcpy(&offset, data + at, 4);
    const std::size_t length = data[at + 4];
    at += 5;
    const std::size_t take = std::min(length, size - at);
    const std::size_t where = offset % image.size();
    const std::size_t fits = std::min(take, image.size() - where);
    std::memcpy(image.data() + where, data + at, fits);
    at += take;
  }
  (void)shoal::check_image(image.data(), image.size());
  read_everything(image);
  // The site table's decoder (check_image runs it too; this also looks up
  // every id it returns, as `shoal objects` does).
  const shoal::SiteTable sites = shoal::decode_site_table(shoal::site_table_region(image.data(), image.size()));
  for (std::uint32_t id = 0; id <= sites.sites.size() + 1; ++id) (void)sites.describe(id);
  // Repair's first step, on the damaged copy: bounded, however bad.
  shoal::BlockHeap heap(image.data(), image.size(), "fuzz");
  (void)heap.rebuild();
  (void)shoal::check_image(image.data(), image.size());
  return 0;
}
