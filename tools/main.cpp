// main.cpp — `shoal`, the debug CLI: look inside shoal arenas, live.
//
// This file only wires the command line (CLI11) to the commands
// (commands.hpp) and turns errors into messages and exit statuses.
//
// Exit status, the same for every command (and in every --help footer):
//   0  success: the command did what it says; `check` found the arena sound
//   1  a problem: `check` found problems, `stat`, `objects` or `channels`
//      could not walk every block, `dump` found no such block or could not
//      decode it, `destroy` refused, or the arena could not be used (no such
//      arena, permission denied, not a shoal arena, another layout version,
//      corrupt header, lock held too long)
//   2  usage error: unknown command or option, missing or invalid argument
//      (an arena name with '/', a malformed HANDLE)
// `watch` exits 0 on Ctrl-C, after --count refreshes, or when the arena is gone.
//
// Errors go to stderr as "shoal: <message>"; with --json, stdout also gets
// {"json_version": 1, "error": {"code": ..., "message": ...}}, so a script
// always reads one JSON document.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "report.hpp"
#include "views.hpp"
#include "shoal/errors.hpp"

namespace {

using namespace shoal::cli;

constexpr const char* kExitStatusHelp =
    "Exit status: 0 success (check: the arena is sound); 1 a problem was found, the command refused, or the arena "
    "could not be read; 2 usage error.\n"
    "Every command but reap and destroy maps the arena read-only and never takes its lock.";

struct Arguments {
  std::string name;
  bool json = false;
  bool exact_bytes = false;  // --bytes: sizes in the tables as exact byte counts
  shoal::ArenaOptions open;  // --other-user sets open.other_user
  bool force = false;
  ObjectQuery query;
  std::string handle;
  std::size_t max_items = 100;
  double interval = 1.0;
  std::uint64_t count = 0;
  std::uint64_t top = 10;
};

// One subcommand: a one-line summary for `shoal --help`, details for its own
// --help (above the exit status), NAME if it takes one, and --json.
CLI::App* add_command(CLI::App& app, Arguments& args, const std::string& command, const std::string& summary,
                      const std::string& details, bool takes_name) {
  CLI::App* sub = app.add_subcommand(command, summary);
  sub->footer(details + "\n\n" + kExitStatusHelp);
  if (takes_name) sub->add_option("NAME", args.name, "arena name (its segment is /dev/shm/shoal.NAME)")->required();
  sub->add_flag("--json", args.json, "print one JSON object (shapes in tools/README.md) instead of tables");
  sub->add_flag("--other-user", args.open.other_user,
                "open an arena owned by another user (root only; without it such a file is refused)");
  return sub;
}

// --bytes, on the commands that print sizes in tables.
void add_bytes_flag(CLI::App* command, Arguments& args) {
  command->add_flag("--bytes", args.exact_bytes,
                    "show sizes as exact byte counts (67108864) rather than in units (64.0 MiB), as ipcs -b does");
}

// A choice among names (--sort size): CLI11's IsMember shows and accepts
// the names alone, where a CheckedTransformer over the enum would also show
// (and accept) its numbers. The chosen name is turned into the enum after
// parsing, by choice_value().
template <typename Key>
using Choices = std::vector<std::pair<std::string, Key>>;

template <typename Key>
CLI::Option* add_choice(CLI::App* command, const std::string& flag, std::string& chosen, const Choices<Key>& choices,
                        const std::string& help) {
  std::vector<std::string> names;
  for (const auto& choice : choices) names.push_back(choice.first);
  return command->add_option(flag, chosen, help)->check(CLI::IsMember(names, CLI::ignore_case));
}

template <typename Key>
Key choice_value(const Choices<Key>& choices, const std::string& chosen, Key otherwise) {
  for (const auto& choice : choices) {
    if (choice.first == chosen) return choice.second;
  }
  return otherwise;  // not given
}

int report_error(const shoal::Error& e, bool json) {
  std::cerr << "shoal: " << e.what() << '\n';
  if (json) {
    Json doc = json_document();
    doc["error"] = {{"code", error_code_name(e.code())}, {"message", e.what()}};
    print_json(doc);
  }
  return e.code() == shoal::ErrorCode::invalid_argument ? kExitUsage : kExitProblem;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoal: look inside shoal shared-memory arenas, live, without being able to harm them"};
  app.footer(kExitStatusHelp);  // each subcommand sets its own: details, then this
  app.set_version_flag("--version", std::string("shoal ") + SHOAL_VERSION);
  app.require_subcommand(1);
  Arguments args;

  CLI::App* ls = add_command(
      app, args, "ls", "list every shoal arena on this machine",
      "Scans /dev/shm for shoal.* and shows, for each arena: size, used bytes, holders alive and dead, and the "
      "creator's pid and whether it still runs. A file that cannot be read as an arena (not a shoal arena, another "
      "layout version, another user's) is listed too, with the reason in NOTE (in JSON: under \"unreadable\").",
      false);
  CLI::App* stat = add_command(
      app, args, "stat", "sizes, usage, fragmentation and blocks of one arena",
      "Size, heap bytes, used, free, largest free block, fragmentation (1 - largest free / free), blocks and bytes "
      "by kind (raw, blob, object, channel, ledger, free), holders, repairs, reaped holders and, in the table, "
      "in-flight references (held for pickles). Exits 1 if the chain of blocks is broken.",
      true);
  CLI::App* holders = add_command(
      app, args, "holders", "who holds what: pid, interpreter, alive or dead",
      "Every registered holder slot: slot, pid, interpreter id, alive or dead (pid and process start time, so a "
      "reused pid reads as dead; a zombie is dead), references and bytes held, when it attached. Then, if there "
      "are any, the in-flight references the arena holds for pickles: entry, block, kind, size, age, time left "
      "until its deadline ('due' once past it, until the arena's broker ends it), and the pid that pickled it.",
      true);
  CLI::App* check = add_command(
      app, args, "check", "consistency check: exit 0 when sound, 1 with the problems",
      "Checks the header, the chain of blocks, the bitmap, the free lists, the statistics, and every refcount "
      "against its owners (ledgers, in-flight entries, child tables, channel slots), without locking. If the "
      "arena kept changing during the check, a note says so and reported problems may be artifacts of the change.",
      true);
  CLI::App* reap = add_command(
      app, args, "reap", "release the references of dead holders now; remove abandoned arenas",
      "Maps the arena read-write and takes its lock (like a broker does), releases every reference held by "
      "holders whose process has died, and prints how many were reaped and used bytes before and after. With "
      "--abandoned, removes instead every arena of yours (only NAME, if given) that `ls` shows abandoned: no "
      "live holder, no live reaper, its creator gone.",
      false);
  reap->add_option("NAME", args.name, "arena name (its segment is /dev/shm/shoal.NAME)");
  bool abandoned = false;
  reap->add_flag("--abandoned", abandoned, "remove every abandoned arena (with NAME: that one, if abandoned)");
  CLI::App* destroy = add_command(
      app, args, "destroy", "unlink an arena; refuses while live holders exist",
      "Unlinks /dev/shm/shoal.NAME. Refuses (exit 1, naming them) while live holders exist, unless --force: the "
      "arena is then closing (new holders are refused, `ls` shows it so) and the last holder to leave unlinks "
      "it, so that no second arena can take the name while they still use the first. Never unlinks a file that "
      "is not a shoal arena.",
      true);
  destroy->add_flag("--force", args.force,
                    "with live holders, close the arena (the last holder to leave unlinks it); unlink it even when "
                    "it is corrupt or of another layout version");

  CLI::App* objects = add_command(
      app, args, "objects", "every block: kind, size, refs, age, who holds it, where it was made",
      "Every used block but the holders' ledgers: handle (OFFSET:GENERATION, what `dump` takes), kind, payload "
      "size, refcount, age, the Python file:line that made it (send, empty or freeze; '-' when unknown), and who "
      "holds it: holder slots (from their ledgers), in-flight entries (references held for pickles), channels "
      "(pending items), parent objects. --group-by sums blocks and bytes per kind, holder or site instead.",
      true);
  const Choices<SortKey> sort_keys{{"size", SortKey::size}, {"refs", SortKey::refs}, {"age", SortKey::age}};
  const Choices<GroupKey> group_keys{{"kind", GroupKey::kind}, {"holder", GroupKey::holder}, {"site", GroupKey::site}};
  std::string sort_by;
  std::string group_by;
  add_choice(objects, "--sort", sort_by, sort_keys,
             "size (largest first, the default), refs (most first), age (oldest first)");
  objects->add_option("--top", args.query.top, "show only the first N rows (0: all, the default)");
  add_choice(objects, "--group-by", group_by, group_keys, "kind, holder or site: one row per group");
  CLI::App* channels = add_command(
      app, args, "channels", "every channel: capacity, pending items and bytes, state, blocked waiters",
      "Every channel block: handle, state (open, closed; a state this build does not know is shown by number), "
      "capacity, pending items and their bytes, threads blocked in send (full) and recv (empty) — counted while "
      "they wait, a hint: a waiter killed while waiting stays counted — and the channel's refcount.",
      true);
  CLI::App* dump = add_command(
      app, args, "dump", "one block decoded: a frozen value as text, or JSON",
      "Decodes the frozen object HANDLE names (as `objects` prints it: OFFSET:GENERATION, or OFFSET alone) with the "
      "core's checked reader: Python-like text, or with --json typed nodes plus the Cap'n Proto message in Cap'n "
      "Proto's own JSON encoding. Buffers, bytes, arrays and pickles are summarised (size, dtype, shape, first "
      "bytes), never printed whole. A blob or raw block shows its size and first bytes; a channel its state.",
      true);
  dump->add_option("HANDLE", args.handle, "OFFSET:GENERATION or OFFSET, as `shoal objects` prints")->required();
  dump->add_option("--max-items", args.max_items, "elements shown per list, tuple, set or dict (default 100)")
      ->check(CLI::PositiveNumber);
  CLI::App* watch = add_command(
      app, args, "watch", "a live view: usage, largest blocks, holders, channels, like top",
      "Refreshes every --interval seconds until Ctrl-C, --count refreshes, or the arena disappears (all exit 0). "
      "With --json, one JSON object per refresh, one per line.",
      true);
  watch->add_option("--interval", args.interval, "seconds between refreshes (default 1)")
      ->check(CLI::Range(0.05, 3600.0));
  watch->add_option("--count", args.count, "stop after N refreshes (0: never, the default)");
  watch->add_option("--top", args.top, "blocks listed per refresh (default 10)");
  for (CLI::App* command : {ls, stat, holders, objects, channels, watch}) add_bytes_flag(command, args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;  // --help and --version exit 0
  }
  args.query.sort = choice_value(sort_keys, sort_by, SortKey::size);
  args.query.group = choice_value(group_keys, group_by, GroupKey::none);
  const SizeText size(args.exact_bytes);

  try {
    if (ls->parsed()) return run_ls(args.open, args.json, size);
    if (stat->parsed()) return run_stat(args.name, args.open, args.json, size);
    if (holders->parsed()) return run_holders(args.name, args.open, args.json, size);
    if (check->parsed()) return run_check(args.name, args.open, args.json);
    if (objects->parsed()) return run_objects(args.name, args.query, args.open, args.json, size);
    if (channels->parsed()) return run_channels(args.name, args.open, args.json, size);
    if (dump->parsed()) return run_dump(args.name, args.handle, args.max_items, args.open, args.json);
    if (watch->parsed()) return run_watch(args.name, args.interval, args.count, args.top, args.open, args.json, size);
    if (reap->parsed()) {
      if (!abandoned && args.name.empty()) {
        std::cerr << "shoal: reap needs NAME, or --abandoned\n";
        return kExitUsage;
      }
      return abandoned ? run_reap_abandoned(args.name, args.open, args.json) : run_reap(args.name, args.open, args.json);
    }
    if (destroy->parsed()) return run_destroy(args.name, args.force, args.open, args.json);
  } catch (const shoal::Error& e) {
    return report_error(e, args.json);
  } catch (const std::exception& e) {
    std::cerr << "shoal: internal error: " << e.what() << '\n';
    return kExitProblem;
  }
  return kExitUsage;  // unreachable: CLI11 requires one subcommand
}
