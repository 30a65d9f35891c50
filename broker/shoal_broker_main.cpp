// shoal_broker_main.cpp — `shoal-broker`: a standalone broker daemon.
//
// Creates the arena (refusing if the name is taken), reaps dead holders
// until SIGTERM or SIGINT, then unlinks the segment and exits 0.
//
// Exit status: 0 after a clean shutdown, 1 when the arena cannot be
// created (it exists, permission denied, bad size), 2 on a usage error.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "shoal/arena.hpp"
#include "shoal/broker.hpp"
#include "shoal/errors.hpp"
#include "shoal/size.hpp"

int main(int argc, char** argv) {
  CLI::App app{"shoal-broker: create a shoal arena, reclaim memory from dead holders, unlink it on SIGTERM/SIGINT"};
  std::string name;
  std::string size_text = "1GiB";
  unsigned interval_ms = 100;
  app.add_option("--name", name, "arena name (the segment is /dev/shm/shoal.NAME)")->required();
  app.add_option("--size", size_text, "maximum size, e.g. 64MiB or 4GiB (sparse: costs only what is used)")
      ->capture_default_str();
  app.add_option("--interval", interval_ms, "milliseconds between sweeps for dead holders")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3'600'000u));
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
  {
    shoal::Broker broker(arena, std::chrono::milliseconds(interval_ms));
    std::cout << "shoal-broker: serving arena '" << name << "' (" << shoal::format_size(arena->size()) << ") at /dev/shm/"
              << shoal::Arena::segment_name(name) << ", pid " << getpid() << std::endl;
    int received = 0;
    sigwait(&signals, &received);
    broker.stop();
    std::cout << "shoal-broker: " << (received == SIGTERM ? "SIGTERM" : "SIGINT") << ": reaped " << broker.reaped()
              << " dead holders; unlinking arena '" << name << "'" << std::endl;
  }
  arena.reset();  // the creator's Arena unlinks the segment
  return 0;
}
