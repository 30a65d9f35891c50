// make_seed_corpus.cpp — writes the fuzzer's seed corpus: the bodies of
// real frozen objects, one file per sample of tests/cpp/test_heap_samples.hpp
// (every kind of value). Their child indices (0, 1, ...) name the fuzzer's
// fixture blocks when fuzzed; child 0, a 64 KiB blob, holds every sample's
// array, so array seeds start out readable.
//
//   make_seed_corpus DIR
#include <cstdio>
#include <fstream>
#include <string>

#include "fuzz_fixture.hpp"
#include "shoal/heap.hpp"
#include "test_heap_samples.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    shoal::fuzzing::Fixture fixture;
    const auto samples = shoal::testing::all_samples();
    for (const auto& [name, value, indexing] : samples) {
      shoal::HeldBlock object = shoal::testing::freeze_tree(fixture.holder(), value, indexing);
      shoal::heap::FrozenObject frozen(fixture.arena(), object.handle());
      const std::string path = std::string(argv[1]) + "/" + name;
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(frozen.body().data()), static_cast<std::streamsize>(frozen.body().size()));
      if (!out) throw std::runtime_error("cannot write " + path);
    }
    std::printf("wrote %zu seeds to %s\n", samples.size(), argv[1]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seed_corpus: %s\n", e.what());
    return 1;
  }
}
