// report.hpp — small formatting helpers shared by the commands: JSON
// output, times, percentages, and the names of things.
//
// Every JSON document the CLI prints is one object carrying
// "json_version" (kJsonVersion); tools/README.md documents each shape.
// The version grows only when a field changes meaning or disappears;
// fields may be added without a bump.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "seqlock.hpp"
#include "shoal/errors.hpp"

namespace shoal::cli {

inline constexpr int kJsonVersion = 1;

// Keeps keys in the order they were set, so documents read top-down.
using Json = nlohmann::ordered_json;

// A JSON object already carrying json_version.
Json json_document();

// Prints `doc` indented, with a final newline, to stdout.
void print_json(const Json& doc);

// {"consistent", "stability", "attempts", "lock_owner_pid", "note"}
Json read_json(const ReadOutcome& read, const std::string& arena);

// Prints "note: ..." when the read was not stable; nothing otherwise.
void print_read_note(std::ostream& out, const ReadOutcome& read, const std::string& arena);

// "arena_not_found", "permission_denied", ... (the ErrorCode's name).
const char* error_code_name(ErrorCode code);

// Local time "2024-05-01 13:07:42"; "-" for 0.
std::string format_time(std::uint64_t realtime_ns);

// "12.5%"
std::string format_percent(double fraction);

// "1234 (alive)" or "1234 (dead)"
std::string format_pid(std::int32_t pid, bool alive);

// How the tables show a size: "64.0 MiB" by default; with --bytes the exact
// count, "67108864", as `ipcs -b` does (JSON always has exact bytes).
class SizeText {
 public:
  explicit SizeText(bool exact_bytes = false) : exact_bytes_(exact_bytes) {}
  std::string operator()(std::uint64_t bytes) const;

 private:
  bool exact_bytes_;
};

}  // namespace shoal::cli
