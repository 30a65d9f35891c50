// test_recycler_readers.cpp — the recycler (and the site table's writer)
// against the lock-free readers.
//
// Holders recycle small blocks through their caches without the lock,
// storing into block headers (layout.hpp's "recycler" fields: generation,
// kind, requested, site, created_ns, flags) while other threads read the
// same arena without the lock: the consistency check's read-only pass
// (check_image, as `shoal check` runs it), the locked Arena::check, and the
// CLI's snapshot and census (tools/), all through ArenaImage. Built with
// -Db_sanitize=thread, ThreadSanitizer proves every such access atomic on
// both sides; in any build the readers must find the arena sound and
// stable, since a block changing hands through a cache changes no
// invariant.
//
// Rounds alternate two phases, separated by a barrier. In the first only
// the mutators run: they take the lock to refill their caches (fresh
// blocks, a fresh batch of generations). In the second every thread runs:
// the mutators recycle through their caches only, never taking the lock,
// and the readers read. The CLI's readers are a seqlock meant for another
// process: against this process's locked writers their copy would race by
// design (and be retried), so they run only against the lock-free writers
// they are here to meet.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "shoal/arena.hpp"
#include "shoal/holder.hpp"
#include "shoal/sites.hpp"
#include "snapshot.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

constexpr int kMutators = 2;
constexpr int kRounds = 6;
constexpr int kReadsPerRound = 2;  // of each reader, per round
// Payload sizes of four size classes, all within Holder::kMaxCachedPayload.
constexpr std::uint64_t kSizes[] = {40, 200, 1000, 4000};
constexpr int kBlocksPerSize = 8;

std::string first(const std::vector<std::string>& problems) { return problems.empty() ? "" : problems.front(); }

TEST(RecyclerReaders, LockFreeReadersSeeASoundArenaWhileHoldersRecycle) {
  testing::ScopedName name("recycler-readers");
  const auto arena = Arena::create(name.name, 8ull << 20);
  const std::uint32_t site = arena->intern_site("recycler_readers.py", 7);

  enum Reader { kCheckImage, kCheckLocked, kSnapshot, kCensus, kReaders };
  // Arrive twice a round: once when the mutators' caches are full, once when
  // the readers are done.
  std::barrier phase(kMutators + kReaders);
  std::atomic<bool> reading{false};  // the second phase runs
  std::atomic<int> readers_left{kReaders};
  std::atomic<std::uint64_t> recycled{0};
  std::vector<std::string> failures(kReaders);

  auto mutator = [&](int id) {
    const auto holder = arena->attach_holder();  // on this thread: its cache is this thread's
    std::vector<HeldBlock> leftovers;  // blocks the cache would not take back in the second phase
    for (int round = 0; round < kRounds; ++round) {
      // First phase, alone: refill the cache under the lock.
      leftovers.clear();
      std::vector<HeldBlock> fresh;
      for (std::uint64_t size : kSizes) {
        for (int i = 0; i < kBlocksPerSize; ++i) fresh.push_back(holder->allocate(size, layout::BlockKind::blob, site));
      }
      fresh.clear();  // into the cache
      phase.arrive_and_wait();
      // Second phase: lock-free only, until the readers are done.
      std::uint64_t n = 0;
      while (reading.load(std::memory_order_acquire)) {
        for (std::uint64_t size : kSizes) {
          HeldBlock block = holder->try_allocate_cached(size, layout::BlockKind::blob, site);
          if (!block) continue;
          std::memset(block.bytes().data(), id + round, block.bytes().size());
          if (block.try_recycle()) {
            ++n;
          } else {
            leftovers.push_back(std::move(block));  // out of generations: released next round, locked
          }
        }
      }
      recycled.fetch_add(n, std::memory_order_relaxed);
      phase.arrive_and_wait();
    }
  };

  auto reader = [&](Reader which) {
    for (int round = 0; round < kRounds; ++round) {
      if (which == kCheckImage) reading.store(true, std::memory_order_release);
      phase.arrive_and_wait();
      for (int i = 0; i < kReadsPerRound && failures[which].empty(); ++i) {
        switch (which) {
          case kCheckImage:
            failures[which] = first(check_image(arena->base(), arena->size()));
            break;
          case kCheckLocked:
            failures[which] = first(arena->check());
            break;
          case kSnapshot: {
            const cli::Snapshot s = cli::take_snapshot(*arena, cli::Depth::blocks);
            if (!s.blocks.error.empty()) failures[which] = "snapshot: " + s.blocks.error;
            // (Its read may be reported unstable: Arena::check, another
            // reader here, takes the lock, which moves mutation_seq.)
            if (s.holders.size() != kMutators) failures[which] = "snapshot: " + std::to_string(s.holders.size()) + " holders";
            break;
          }
          case kCensus: {
            const cli::Census c = cli::take_census(*arena);
            if (!c.walk_error.empty()) failures[which] = "census: " + c.walk_error;
            if (!c.sites.error.empty()) failures[which] = "census: sites: " + c.sites.error;
            // Every block handed out is held by the holder that recycles it.
            for (const cli::BlockEntry& b : c.blocks) {
              if (b.kind == static_cast<std::uint32_t>(layout::BlockKind::ledger)) continue;
              if (b.owners.size() != 1 || b.site != site) {
                failures[which] = "census: block " + to_string(b.handle) + " has " +
                                  std::to_string(b.owners.size()) + " owners, site " + std::to_string(b.site);
              }
            }
            break;
          }
          case kReaders: break;
        }
      }
      // The last reader to finish ends the mutators' phase; each reader
      // counts itself out.
      if (readers_left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        readers_left.store(kReaders, std::memory_order_relaxed);
        reading.store(false, std::memory_order_release);
      }
      phase.arrive_and_wait();
    }
  };

  std::vector<std::thread> threads;
  for (int m = 0; m < kMutators; ++m) threads.emplace_back(mutator, m);
  for (int r = 0; r < kReaders; ++r) threads.emplace_back(reader, static_cast<Reader>(r));
  for (std::thread& t : threads) t.join();

  for (int r = 0; r < kReaders; ++r) EXPECT_EQ(failures[r], "") << "reader " << r;
  EXPECT_GT(recycled.load(), 0u);  // the readers did meet the recycler
  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << first(problems);
}

// The site table is read without the lock (Arena::sites, the census) while
// sites are interned under it: a reader copies `used` (acquire) and only
// the records before it, never the one being written past it.
TEST(RecyclerReaders, SiteTableReadersMeetItsWriter) {
  testing::ScopedName name("sites-readers");
  const auto arena = Arena::create(name.name, 8ull << 20);
  constexpr std::uint32_t kSites = 300;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (std::uint32_t line = 1; line <= kSites; ++line) arena->intern_site("file" + std::to_string(line % 7) + ".py", line);
    writing.store(false, std::memory_order_release);
  });
  std::string failure;
  std::size_t seen = 0;
  while (writing.load(std::memory_order_acquire)) {
    const SiteTable table = arena->sites();
    if (!table.error.empty()) failure = table.error;
    if (table.sites.size() < seen) failure = "the table shrank";
    seen = table.sites.size();
    if (!failure.empty()) break;
  }
  writer.join();
  EXPECT_EQ(failure, "");
  EXPECT_EQ(arena->sites().sites.size(), kSites);
}

}  // namespace
}  // namespace shoal
