// shoal_broker_main.cpp — `shoal-broker`: a standalone broker daemon.
//
// Creates the arena (refusing if the name is taken) and reaps dead holders
// until SIGTERM or SIGINT. Then it retires the arena (Arena::retire): with
// no live holder left it unlinks it at once; otherwise the arena is closing
// (no new holders; `shoal ls` shows it so) and the broker keeps reaping
// until the last holder has left and the arena is unlinked, or until
// --grace seconds have passed (or a second signal comes). It then exits,
// leaving a closing arena to its holders: the last one to leave unlinks
// it, and their standby reapers take reaping over. The name is never given
// up under a live holder, so two arenas never share it.
//
// Exit status: 0 after a clean shutdown, 1 when the arena cannot be
// created (it exists, permission denied, bad size), 2 on a usage error.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>

#include "shoal/arena.hpp"
#include "shoal/broker.hpp"
#include "shoal/errors.hpp"
#include "shoal/size.hpp"

int main(int argc, char** argv) {
  CLI::App app{"shoal-broker: create a shoal arena, reclaim memory from dead holders, unlink it on SIGTERM/SIGINT"};
  app.set_version_flag("--version", std::string("shoal-broker ") + SHOAL_VERSION);
  std::string name;
  std::string size_text = "1GiB";
  unsigned interval_ms = 100;
  app.add_option("--name", name, "arena name (the segment is /dev/shm/shoal.NAME)")->required();
  app.add_option("--size", size_text, "maximum size, e.g. 64MiB or 4GiB (sparse: costs only what is used)")
      ->capture_default_str();
  app.add_option("--interval", interval_ms, "milliseconds between sweeps for dead holders")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3'600'000u));
  std::optional<double> grace_seconds;
  app.add_option("--grace", grace_seconds,
                 "on SIGTERM/SIGINT, wait at most this many seconds for live holders to leave (default: until they "
                 "all have); the arena is then left closing, unlinked by the last holder to leave")
      ->check(CLI::Range(0.0, 1e9));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  // Block the shutdown signals before any thread starts, so that only the
  // sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::shared_ptr<shoal::Arena> arena;
  try {
    arena = shoal::Arena::create(name, shoal::parse_size(size_text));
  } catch (const shoal::Error& e) {
    std::cerr << "shoal-broker: " << e.what() << "\n";
    return 1;
  }
  // The name is given up by retire() below, never by the Arena's destructor
  // under live holders.
  arena->set_unlink_on_close(false);
  shoal::Broker broker(arena, std::chrono::milliseconds(interval_ms));
  std::cout << "shoal-broker: serving arena '" << name << "' (" << shoal::format_size(arena->size()) << ") at /dev/shm/"
            << shoal::Arena::segment_name(name) << ", pid " << getpid() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  const char* signal_name = received == SIGTERM ? "SIGTERM" : "SIGINT";
  bool unlinked = false;
  try {
    unlinked = arena->retire(/*force=*/true) == shoal::Arena::RetireOutcome::unlinked;
  } catch (const shoal::Error& e) {
    std::cerr << "shoal-broker: " << e.what() << "\n";
  }
  if (!unlinked) {
    std::cout << "shoal-broker: " << signal_name << ": arena '" << name
              << "' still has live holders: it accepts no new ones and is unlinked when the last leaves" << std::endl;
    // Keep reaping (dead holders are how a closing arena empties) until it
    // is unlinked, the grace runs out, or a second signal says stop.
    const auto deadline = grace_seconds ? std::chrono::steady_clock::now() +
                                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                  std::chrono::duration<double>(*grace_seconds))
                                        : std::chrono::steady_clock::time_point::max();
    const timespec poll{0, 100'000'000};
    while (arena->lifecycle() != shoal::layout::ArenaLifecycle::unlinked && std::chrono::steady_clock::now() < deadline) {
      if (sigtimedwait(&signals, nullptr, &poll) > 0) break;
      try {
        (void)arena->reap_dead_holders();  // now, not at the next --interval: a dead last holder ends the wait
      } catch (const shoal::Error&) {
      }
    }
    unlinked = arena->lifecycle() == shoal::layout::ArenaLifecycle::unlinked;
  }
  broker.stop();  // gives the lease up: the holders' standbys take over
  if (unlinked) {
    std::cout << "shoal-broker: " << signal_name << ": reaped " << broker.reaped() << " dead holders; arena '" << name
              << "' unlinked" << std::endl;
  } else {
    std::cout << "shoal-broker: " << signal_name << ": reaped " << broker.reaped() << " dead holders; leaving arena '"
              << name << "' closing: its last holder unlinks it" << std::endl;
  }
  return 0;
}
