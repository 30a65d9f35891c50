// test_heap_sample_writer.cpp — writes frozen objects out of the arena, as
// files, for readers that are not shoal:
//
//   heap_sample_writer DIR
//
// freezes every sample of test_heap_samples.hpp in a private arena and
// writes, per sample NAME,
//   DIR/NAME.body        the object's body: one Cap'n Proto message (framed)
//   DIR/NAME.child-I     the payload of its child I (blobs), I = 0, 1, ...
// tests/python/test_pycapnp_reader.py decodes them with pycapnp; the
// fuzzer uses the bodies as its seed corpus. Exit status 0 on success.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "shoal/arena.hpp"
#include "shoal/heap.hpp"
#include "shoal/holder.hpp"
#include "test_heap_samples.hpp"

namespace {

void write_file(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

int write_samples(const std::string& dir) {
  const std::string name = "heap-samples-" + std::to_string(getpid());
  shoal::Arena::destroy(name);
  auto arena = shoal::Arena::create(name, 256ull << 20);
  auto holder = arena->attach_holder();
  const auto samples = shoal::testing::all_samples();
  for (const auto& [sample, value, indexing] : samples) {
    shoal::HeldBlock object = shoal::testing::freeze_tree(*holder, value, indexing);
    shoal::heap::FrozenObject frozen(*arena, object.handle());
    write_file(dir + "/" + sample + ".body", frozen.body());
    for (std::size_t i = 0; i < frozen.children().size(); ++i) {
      write_file(dir + "/" + sample + ".child-" + std::to_string(i), arena->payload(frozen.children()[i]));
    }
  }
  std::printf("wrote %zu frozen samples to %s\n", samples.size(), dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    return write_samples(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heap_sample_writer: %s\n", e.what());
    return 1;
  }
}
