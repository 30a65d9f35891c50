// errors.hpp — the typed errors of shoal's C++ core.
//
// Every failure a caller may want to handle has its own type, all deriving
// from shoal::Error. Each carries an ErrorCode so that a boundary (the Python
// extension, the CLI) can map it without a chain of dynamic_casts. Messages
// always name the arena and say what was found.
#pragma once

#include <stdexcept>
#include <string>

namespace shoal {

enum class ErrorCode {
  invalid_argument,   // a bad size string, name or parameter
  arena_not_found,    // no segment of that name
  arena_exists,       // create() of a name already taken
  permission_denied,  // the segment exists but we may not open it
  not_an_arena,       // the segment is not a shoal arena
  layout_mismatch,    // a shoal arena of another layout version
  arena_full,         // no free block large enough
  invalid_handle,     // out of range, not a block start, or stale
  too_many_holders,   // every holder slot is taken
  lock_timeout,       // the arena lock stayed held by a live process
  corrupt_arena,      // the arena's structures are damaged beyond repair
  corrupt_object,     // a frozen object's content is malformed
  channel_closed,     // send on a closed channel, or recv on a closed and drained one
  channel_poisoned,   // send or recv on a poisoned channel (pending items were dropped)
  wait_timeout,       // a blocking channel operation ran out of time
  system_error,       // an OS call failed in a way not listed above
  ticket_expired,     // a pickled handle's in-flight reference ended (its deadline passed, or cancelled)
  foreign_handle,     // a pickled handle of another arena (replaced under the same name) or host
  reference_cycle,    // a send that would make a channel own itself: it could never be freed
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// One distinct type per code, so `catch (const ArenaFull&)` reads naturally.
template <ErrorCode kCode>
class TypedError : public Error {
 public:
  explicit TypedError(const std::string& message) : Error(kCode, message) {}
};

using InvalidArgument = TypedError<ErrorCode::invalid_argument>;
using ArenaNotFound = TypedError<ErrorCode::arena_not_found>;
using ArenaExists = TypedError<ErrorCode::arena_exists>;
using PermissionDenied = TypedError<ErrorCode::permission_denied>;
using NotAnArena = TypedError<ErrorCode::not_an_arena>;
using LayoutMismatch = TypedError<ErrorCode::layout_mismatch>;
using ArenaFull = TypedError<ErrorCode::arena_full>;
using InvalidHandle = TypedError<ErrorCode::invalid_handle>;
using TooManyHolders = TypedError<ErrorCode::too_many_holders>;
using LockTimeout = TypedError<ErrorCode::lock_timeout>;
using CorruptArena = TypedError<ErrorCode::corrupt_arena>;
using CorruptObject = TypedError<ErrorCode::corrupt_object>;
using TicketExpired = TypedError<ErrorCode::ticket_expired>;
using ForeignHandle = TypedError<ErrorCode::foreign_handle>;
using ReferenceCycle = TypedError<ErrorCode::reference_cycle>;

// A poisoned channel is a closed one too: `catch (const ChannelClosed&)`
// handles both ends of a channel's life, ChannelPoisoned only the abrupt one.
class ChannelClosed : public Error {
 public:
  explicit ChannelClosed(const std::string& message) : Error(ErrorCode::channel_closed, message) {}

 protected:
  ChannelClosed(ErrorCode code, const std::string& message) : Error(code, message) {}
};

class ChannelPoisoned : public ChannelClosed {
 public:
  explicit ChannelPoisoned(const std::string& message) : ChannelClosed(ErrorCode::channel_poisoned, message) {}
};

using WaitTimeout = TypedError<ErrorCode::wait_timeout>;
using SystemError = TypedError<ErrorCode::system_error>;

}  // namespace shoal
