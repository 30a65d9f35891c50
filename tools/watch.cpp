// watch.cpp — `shoal watch NAME`: a live view, refreshed like top(1).
//
// Each refresh takes a fresh snapshot and census of the read-only mapping
// (no lock, as every read-only command) and prints the usage summary, the
// largest blocks, the holders and the channels. It stops after --count
// refreshes, on Ctrl-C or SIGTERM (exit 0), and when the arena disappears:
// its segment unlinked (exit 0, saying so) — the mapping itself stays
// readable, so the name is checked on every refresh.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "views.hpp"

namespace shoal::cli {
namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) { stop_requested = 1; }

// The segment file's identity, to notice it unlinked or replaced by another
// arena of the same name.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool exists = false;
  bool operator==(const FileId&) const = default;
};

FileId file_id(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, true};
}

Json holders_list_json(const Snapshot& s) {
  Json list = Json::array();
  for (const HolderView& h : s.holders) {
    list.push_back({{"slot", h.slot}, {"pid", h.pid}, {"alive", h.alive}, {"refs_held", h.refs_held},
                    {"bytes_held", h.bytes_held}});
  }
  return list;
}

void print_frame_json(const Snapshot& s, const Census& census, const std::vector<const BlockEntry*>& top,
                      std::uint64_t now, std::uint64_t frame) {
  Json doc = json_document();
  doc["arena"] = s.name;
  doc["frame"] = frame;
  doc["time_ns"] = now;
  doc["gone"] = false;
  doc["stat"] = {{"size", s.size},
                 {"heap_bytes", s.heap_bytes},
                 {"used_bytes", s.used_bytes},
                 {"free_bytes", s.heap_bytes > s.used_bytes ? s.heap_bytes - s.used_bytes : 0},
                 {"used_blocks", s.used_blocks},
                 {"holders", {{"alive", s.holders_alive()}, {"dead", s.holders_dead()}}}};
  Json objects = Json::array();
  for (const BlockEntry* b : top) objects.push_back(object_json(*b, census, s, now));
  doc["objects"] = objects;
  doc["holders"] = holders_list_json(s);
  Json channels = Json::array();
  for (const ChannelEntry& c : census.channels) channels.push_back(channel_json(c, census));
  doc["channels"] = channels;
  doc["read"] = read_json(census.read, s.name);
  std::cout << doc.dump() << std::endl;  // one line per refresh (JSON Lines)
}

void print_frame_text(const Snapshot& s, const Census& census, const std::vector<const BlockEntry*>& top,
                      std::uint64_t now, double interval, bool clear, const SizeText& size) {
  if (clear) std::cout << "\x1b[H\x1b[2J";
  const std::uint64_t free_bytes = s.heap_bytes > s.used_bytes ? s.heap_bytes - s.used_bytes : 0;
  const double share = s.heap_bytes == 0 ? 0.0 : static_cast<double>(s.used_bytes) / static_cast<double>(s.heap_bytes);
  std::cout << "shoal watch " << s.name << "  " << format_time(now) << "  (every " << interval
            << " s; Ctrl-C to stop)\n"
            << "used " << size(s.used_bytes) << " of " << size(s.heap_bytes) << " ("
            << format_percent(share) << "), free " << size(free_bytes) << ", " << census.blocks.size()
            << " blocks, " << census.channels.size() << " channels, holders " << s.holders_alive() << " alive / "
            << s.holders_dead() << " dead\n\n";
  if (!top.empty()) {
    std::cout << "largest blocks\n";
    objects_table(top, census, s, now, size).print(std::cout);
    std::cout << '\n';
  }
  if (!s.holders.empty()) {
    Table holders({{"SLOT", Align::right}, {"PID", Align::right}, {"STATE"}, {"REFS", Align::right},
                   {"HELD", Align::right}});
    for (const HolderView& h : s.holders) {
      holders.add_row({std::to_string(h.slot), std::to_string(h.pid), h.alive ? "alive" : "dead",
                       std::to_string(h.refs_held), size(h.bytes_held)});
    }
    std::cout << "holders\n";
    holders.print(std::cout);
    std::cout << '\n';
  }
  if (!census.channels.empty()) {
    std::cout << "channels\n";
    channels_table(census, size).print(std::cout);
  }
  print_read_note(std::cout, census.read, s.name);
  std::cout.flush();
}

// Sleeps `seconds`, waking early for a signal.
void pause(double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!stop_requested && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int run_watch(const std::string& name, double interval, std::uint64_t count, std::uint64_t top,
              const ArenaOptions& open, bool as_json, const SizeText& size) {
  const auto arena = Arena::attach(name, Access::read_only, open);
  const std::string path = "/dev/shm/" + Arena::segment_name(name);
  const FileId original = file_id(path);
  struct sigaction action{};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const bool clear = !as_json && isatty(STDOUT_FILENO) != 0;

  for (std::uint64_t frame = 1; !stop_requested; ++frame) {
    if (file_id(path) != original) {
      if (as_json) {
        Json doc = json_document();
        doc["arena"] = name;
        doc["frame"] = frame;
        doc["time_ns"] = realtime_now_ns();
        doc["gone"] = true;
        std::cout << doc.dump() << std::endl;
      } else {
        std::cout << "arena '" << name << "' is gone (" << path << " was unlinked or replaced)\n";
      }
      return kExitOk;
    }
    const Snapshot s = take_snapshot(*arena, Depth::blocks);
    const Census census = take_census(*arena);
    const auto rows = select_objects(census, ObjectQuery{SortKey::size, top, GroupKey::none});
    const std::uint64_t now = realtime_now_ns();
    if (as_json) {
      print_frame_json(s, census, rows, now, frame);
    } else {
      print_frame_text(s, census, rows, now, interval, clear, size);
    }
    if (count != 0 && frame >= count) break;
    pause(interval);
  }
  return kExitOk;
}

}  // namespace shoal::cli
