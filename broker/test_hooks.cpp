// test_hooks.cpp — see test_hooks.hpp.
#include "test_hooks.hpp"

#include <atomic>

namespace shoal::test_hooks {
namespace {
constinit std::atomic<Hook> g_hook{nullptr};
}  // namespace

void install(Hook hook) { g_hook.store(hook, std::memory_order_release); }

void reach(Point point) {
  if (Hook hook = g_hook.load(std::memory_order_relaxed)) hook(point);
}

}  // namespace shoal::test_hooks
