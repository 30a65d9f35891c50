// report.cpp — see report.hpp.
#include "report.hpp"

#include <time.h>

#include <cstdio>
#include <iostream>

#include "shoal/size.hpp"

namespace shoal::cli {

Json json_document() { return Json{{"json_version", kJsonVersion}}; }

void print_json(const Json& doc) { std::cout << doc.dump(2) << '\n'; }

Json read_json(const ReadOutcome& read, const std::string& arena) {
  Json j;
  j["consistent"] = read.consistent();
  j["stability"] = ReadOutcome::name(read.stability);
  j["attempts"] = read.attempts;
  j["lock_owner_pid"] = read.lock_owner_pid != 0 ? Json(read.lock_owner_pid) : Json(nullptr);
  j["note"] = read.consistent() ? Json(nullptr) : Json(read.note(arena));
  return j;
}

void print_read_note(std::ostream& out, const ReadOutcome& read, const std::string& arena) {
  if (!read.consistent()) out << "note: " << read.note(arena) << '\n';
}

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::arena_not_found: return "arena_not_found";
    case ErrorCode::arena_exists: return "arena_exists";
    case ErrorCode::permission_denied: return "permission_denied";
    case ErrorCode::not_an_arena: return "not_an_arena";
    case ErrorCode::layout_mismatch: return "layout_mismatch";
    case ErrorCode::arena_full: return "arena_full";
    case ErrorCode::invalid_handle: return "invalid_handle";
    case ErrorCode::too_many_holders: return "too_many_holders";
    case ErrorCode::lock_timeout: return "lock_timeout";
    case ErrorCode::corrupt_arena: return "corrupt_arena";
    case ErrorCode::corrupt_object: return "corrupt_object";
    case ErrorCode::channel_closed: return "channel_closed";
    case ErrorCode::channel_poisoned: return "channel_poisoned";
    case ErrorCode::wait_timeout: return "wait_timeout";
    case ErrorCode::system_error: return "system_error";
    case ErrorCode::ticket_expired: return "ticket_expired";
    case ErrorCode::foreign_handle: return "foreign_handle";
    case ErrorCode::reference_cycle: return "reference_cycle";
  }
  return "unknown";
}

std::string format_time(std::uint64_t realtime_ns) {
  if (realtime_ns == 0) return "-";
  const auto seconds = static_cast<time_t>(realtime_ns / 1'000'000'000u);
  tm local{};
  if (localtime_r(&seconds, &local) == nullptr) return "-";
  char text[32];
  if (strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local) == 0) return "-";
  return text;
}

std::string format_percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", fraction * 100.0);
  return text;
}

std::string format_pid(std::int32_t pid, bool alive) {
  return std::to_string(pid) + (alive ? " (alive)" : " (dead)");
}

std::string SizeText::operator()(std::uint64_t bytes) const {
  return exact_bytes_ ? std::to_string(bytes) : format_size(bytes);
}

}  // namespace shoal::cli
