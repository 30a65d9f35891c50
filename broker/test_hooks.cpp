// test_hooks.cpp — see test_hooks.hpp.
#include "test_hooks.hpp"

#include <atomic>

namespace shoal::test_hooks {
constinit std::atomic<Hook> g_hook{nullptr};

void install(Hook hook) { g_hook.store(hook, std::memory_order_release); }

}  // namespace shoal::test_hooks
