// fuzz_frozen_reader.cpp — libFuzzer target: arbitrary bytes as the body of
// a frozen object, read completely.
//
// Each input becomes the body of a real object block (padded with zeros to
// whole words: bodies always are, and padding keeps every input useful)
// whose children are the fixture's blocks (fuzz_fixture.hpp). The reader
// must either read every part of it or raise CorruptObject: any other
// exception escapes and aborts, and a crash, an out-of-bounds read (ASan),
// undefined behaviour (UBSan) or a hang (libFuzzer's -timeout) is a finding.
//
// Build and run: see fuzz/meson.build.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_fixture.hpp"
#include "shoal/heap.hpp"
#include "test_heap_tree.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static shoal::fuzzing::Fixture fixture;  // one arena for the whole run
  const std::size_t padded = (size + 7) / 8 * 8;
  shoal::HeldBlock object = fixture.holder().allocate_object(fixture.children(), padded);
  std::memset(object.bytes().data(), 0, padded);
  if (size != 0) std::memcpy(object.bytes().data(), data, size);
  try {
    shoal::heap::FrozenObject frozen(fixture.arena(), object.handle());
    shoal::testing::thaw(frozen.root());  // visits every value, blob and array
  } catch (const shoal::CorruptObject&) {
    // the expected answer to corrupt content
  }
  return 0;
}
