// heap_bench.cpp — the frozen-object heap: freezing and reading back.
//
//   BM_FreezeDict/1000          freeze a dict of 1,000 small items (str -> int,
//                               float or short str) and publish it; release it
//   BM_ReadDict/1000            open that object and read every key and value
//   BM_FreezeArenaBuffer/N      freeze an N-byte buffer already in the arena as
//                               a NumPy array (1 KiB ... 1 GiB): a reference,
//                               no copy, so the time must not grow with N
//   BM_FreezeCopiedBuffer/N     the same from process memory: one copy into a
//                               blob (for comparison; up to 64 MiB)
//   BM_Memcpy/N                 memcpy of N bytes into pages already present:
//                               the floor for the copy above (a freed blob's
//                               pages stay present, so repeated freezes copy
//                               into present pages too)
//   BM_ReadArray/N              open the object and get the array view
//   BM_FreezeBytes/N            a bytes value either side of the inline
//                               threshold (4 KiB)
//
// The 1 GiB arena buffer is allocated once; tmpfs is sparse and nothing
// here touches its pages, so it costs no memory. Run:
//   build/bench/heap_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/heap.hpp"
#include "shoal/holder.hpp"

namespace {

using shoal::HeldBlock;
using shoal::heap::Freezer;
using shoal::heap::FrozenObject;

struct Bench {
  std::string name = "bench-heap-" + std::to_string(getpid());
  std::shared_ptr<shoal::Arena> arena;
  std::unique_ptr<shoal::Holder> holder;
  std::map<std::int64_t, HeldBlock> buffers;  // arena buffers by size, made once

  Bench() {
    shoal::Arena::destroy(name);
    arena = shoal::Arena::create(name, 4ull << 30);
    holder = arena->attach_holder();
  }
  ~Bench() {
    buffers.clear();
    holder.reset();
  }
  const HeldBlock& buffer(std::int64_t bytes) {
    auto& b = buffers[bytes];
    if (!b) b = holder->allocate(static_cast<std::uint64_t>(bytes), shoal::layout::BlockKind::blob);
    return b;
  }
};

Bench& bench() {
  static Bench b;  // one arena for the whole run, created on first use
  return b;
}

// A dict of n small items, as a JSON-like payload would have them. The
// keys are made once, outside the timing.
HeldBlock freeze_dict(std::size_t n) {
  static std::vector<std::string> keys;
  while (keys.size() < n) keys.push_back("key" + std::to_string(keys.size()));
  Freezer freezer(*bench().holder);
  shoal::heap::DictWriter dict = freezer.root().set_dict(n);
  for (std::size_t i = 0; i < n; ++i) {
    dict.key(i).set_text(keys[i]);
    switch (i % 3) {
      case 0: dict.value(i).set_int(static_cast<std::int64_t>(i)); break;
      case 1: dict.value(i).set_float(static_cast<double>(i) * 0.5); break;
      default: dict.value(i).set_text("value"); break;
    }
  }
  return freezer.publish();
}

void BM_FreezeDict(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    HeldBlock object = freeze_dict(n);
    benchmark::DoNotOptimize(object.handle());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FreezeDict)->Arg(1000)->Arg(100000);

void BM_ReadDict(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  HeldBlock object = freeze_dict(n);
  for (auto _ : state) {
    FrozenObject frozen(*bench().arena, object.handle());
    const shoal::heap::DictReader dict = frozen.root().as_dict();
    std::size_t total = 0;
    for (std::size_t i = 0; i < dict.size(); ++i) {
      total += dict.key(i).as_text().size();
      const shoal::heap::ValueReader value = dict.value(i);
      switch (value.kind()) {
        case shoal::heap::ValueKind::int64: total += static_cast<std::size_t>(value.as_int64()); break;
        case shoal::heap::ValueKind::float64: total += static_cast<std::size_t>(value.as_float64()); break;
        default: total += value.as_text().size(); break;
      }
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["message_bytes"] = static_cast<double>(FrozenObject(*bench().arena, object.handle()).body().size());
}
BENCHMARK(BM_ReadDict)->Arg(1000)->Arg(100000);

// A bytes value around the inline threshold (kInlineMax = 4 KiB): inline
// up to it, a blob of its own above.
void BM_FreezeBytes(benchmark::State& state) {
  std::vector<std::byte> local(static_cast<std::size_t>(state.range(0)), std::byte{1});
  for (auto _ : state) {
    Freezer freezer(*bench().holder);
    freezer.root().set_bytes(local);
    HeldBlock object = freezer.publish();
    benchmark::DoNotOptimize(object.handle());
  }
}
BENCHMARK(BM_FreezeBytes)->Arg(16)->Arg(1024)->Arg(4096)->Arg(4097)->Arg(16384)->Arg(65536);

void freeze_array(Freezer& freezer, const shoal::heap::BlobSlice& data, std::uint64_t bytes) {
  const std::uint64_t shape[] = {bytes / 8};
  const std::int64_t strides[] = {8};
  freezer.root().set_ndarray({"<f8", shape, strides}, data);
}

void BM_FreezeArenaBuffer(benchmark::State& state) {
  const HeldBlock& buffer = bench().buffer(state.range(0));
  for (auto _ : state) {
    Freezer freezer(*bench().holder);
    freeze_array(freezer, freezer.reference(buffer), static_cast<std::uint64_t>(state.range(0)));
    HeldBlock object = freezer.publish();
    benchmark::DoNotOptimize(object.handle());
  }
}
BENCHMARK(BM_FreezeArenaBuffer)->Arg(1 << 10)->Arg(1 << 20)->Arg(64 << 20)->Arg(1 << 30);

void BM_FreezeCopiedBuffer(benchmark::State& state) {
  std::vector<std::byte> local(static_cast<std::size_t>(state.range(0)), std::byte{1});
  for (auto _ : state) {
    Freezer freezer(*bench().holder);
    freeze_array(freezer, freezer.copy_to_blob(local), local.size());
    HeldBlock object = freezer.publish();
    benchmark::DoNotOptimize(object.handle());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FreezeCopiedBuffer)->Arg(1 << 10)->Arg(1 << 20)->Arg(64 << 20);

void BM_Memcpy(benchmark::State& state) {
  std::vector<std::byte> local(static_cast<std::size_t>(state.range(0)), std::byte{1});
  std::vector<std::byte> target(local.size(), std::byte{0});  // present pages
  for (auto _ : state) {
    std::memcpy(target.data(), local.data(), local.size());
    benchmark::DoNotOptimize(target.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Memcpy)->Arg(1 << 10)->Arg(1 << 20)->Arg(64 << 20);

void BM_ReadArray(benchmark::State& state) {
  const HeldBlock& buffer = bench().buffer(state.range(0));
  Freezer freezer(*bench().holder);
  freeze_array(freezer, freezer.reference(buffer), static_cast<std::uint64_t>(state.range(0)));
  HeldBlock object = freezer.publish();
  for (auto _ : state) {
    FrozenObject frozen(*bench().arena, object.handle());
    const shoal::heap::ArrayView array = frozen.root().as_ndarray();
    benchmark::DoNotOptimize(array.data());
  }
}
BENCHMARK(BM_ReadArray)->Arg(1 << 10)->Arg(1 << 30);

}  // namespace

BENCHMARK_MAIN();
