// arena_fixture.cpp — TEST FIXTURE, not part of shoal and never installed.
//
// A process that holds blocks of an existing arena, so that the CLI's
// end-to-end tests (tests/python/test_cli.py) have holders and blocks to
// look at, and a holder to kill -9. Built only with -Dtests=true.
//
//   arena_fixture --name NAME [--blocks N] [--bytes B] [--kind raw|blob]
//                 [--interpreter ID] [--churn-us U] [--pause-in-lock]
//                 [--in-flight-ms MS [--in-flight-only]]
//
// Attaches NAME read-write, registers one holder, allocates N blocks of B
// payload bytes each, prints "READY pid=<pid> slot=<slot>" and waits:
//   * SIGTERM or SIGINT: releases everything (destructors) and exits 0;
//   * SIGKILL: leaves a dead holder behind, for `shoal reap` to release.
// With --churn-us U it meanwhile allocates and frees one more block every
// U microseconds, so the arena keeps changing under a reader.
// With --pause-in-lock it then allocates one more block and stops inside
// that allocation, holding the arena lock (a test hook; prints "PAUSED"),
// so that a test can look at a locked arena and kill -9 the lock owner.
// With --in-flight-ms MS it issues, before READY, one in-flight reference
// (what pickling a shoal value makes: InFlight::issue) of lifetime MS on
// each block it holds, printing "TICKET entry=<i> number=<n>
// block=<offset>:<generation>" for each, so the tests need no Python
// pickling; with --in-flight-only it then drops its own references, leaving
// those blocks owned by their in-flight entries alone. The entries belong to
// the arena, not to this process: they outlive it until they expire.
//
// Exit status: 0 after SIGTERM/SIGINT, 1 on an arena error, 2 on usage.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "shoal/in_flight.hpp"
#include "test_hooks.hpp"

namespace {

sigset_t shutdown_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// Waits up to `micros` for SIGTERM/SIGINT; true if one arrived.
bool shutdown_within(const sigset_t& signals, long micros) {
  const timespec wait{micros / 1'000'000, (micros % 1'000'000) * 1000};
  return sigtimedwait(&signals, nullptr, &wait) > 0;
}

// The --pause-in-lock hook: runs with the arena lock held, never returns.
void pause_holding_lock(shoal::test_hooks::Point point) {
  if (point != shoal::test_hooks::Point::alloc_after_mark_used) return;
  std::cout << "PAUSED pid=" << getpid() << std::endl;
  for (;;) pause();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"arena_fixture: TEST FIXTURE for the shoal CLI tests; holds blocks of an arena until killed"};
  std::string name;
  unsigned blocks = 0;
  std::uint64_t bytes = 4096;
  std::string kind_text = "raw";
  std::int64_t interpreter = -1;
  long churn_us = 0;
  bool pause_in_lock = false;
  long in_flight_ms = 0;
  bool in_flight_only = false;
  app.add_option("--name", name, "arena to attach (it must exist)")->required();
  app.add_option("--blocks", blocks, "blocks to allocate and hold")->capture_default_str();
  app.add_option("--bytes", bytes, "payload bytes of each block")->capture_default_str();
  app.add_option("--kind", kind_text, "block kind")->check(CLI::IsMember({"raw", "blob"}))->capture_default_str();
  app.add_option("--interpreter", interpreter, "interpreter id to register with")->capture_default_str();
  app.add_option("--churn-us", churn_us, "allocate and free a block every U microseconds (0: never)")
      ->check(CLI::Range(0L, 10'000'000L));
  app.add_flag("--pause-in-lock", pause_in_lock, "after READY, stop inside an allocation, holding the arena lock");
  auto* in_flight_option =
      app.add_option("--in-flight-ms", in_flight_ms, "issue an in-flight reference of this lifetime on each block")
          ->check(CLI::Range(1L, 86'400'000L));
  app.add_flag("--in-flight-only", in_flight_only, "then drop this holder's own references to those blocks")
      ->needs(in_flight_option);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const auto kind = kind_text == "blob" ? shoal::layout::BlockKind::blob : shoal::layout::BlockKind::raw;

  try {
    const auto arena = shoal::Arena::attach(name);
    const auto holder = arena->attach_holder(interpreter);
    std::vector<shoal::HeldBlock> held;
    for (unsigned i = 0; i < blocks; ++i) held.push_back(holder->allocate(bytes, kind));
    if (in_flight_ms != 0) {
      for (const shoal::HeldBlock& block : held) {
        const shoal::Ticket ticket =
            shoal::InFlight::issue(*arena, block.handle(), std::chrono::milliseconds(in_flight_ms));
        std::cout << "TICKET entry=" << ticket.entry << " number=" << ticket.number
                  << " block=" << shoal::to_string(ticket.block) << std::endl;
      }
      if (in_flight_only) held.clear();
    }
    std::cout << "READY pid=" << getpid() << " slot=" << holder->slot() << std::endl;

    if (pause_in_lock) {
      shoal::test_hooks::install(pause_holding_lock);
      holder->allocate(bytes, kind);  // never returns
    }
    if (churn_us == 0) {
      int received = 0;
      sigwait(&signals, &received);
    } else {
      while (!shutdown_within(signals, churn_us)) holder->allocate(bytes, kind).reset();
    }
    held.clear();  // release in order, before the holder goes
  } catch (const shoal::Error& e) {
    std::cerr << "arena_fixture: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
