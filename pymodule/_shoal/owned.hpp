// owned.hpp — Owned<T>: the one owner of something whose release may wait
// for the arena lock, released without this interpreter's GIL.
//
// A held block, a channel (its block), an unpublished Freezer (its blobs),
// an ArenaSession (its holder, its broker): letting go of any of them may
// take the arena lock, held perhaps by another process. The other threads
// of this interpreter must not wait with us, so Owned<T> destroys its T
// with the GIL released if this thread holds a GIL, and simply destroys it
// if it does not (inside a without_gil call, in a thread of no
// interpreter). A release is then right wherever it happens: a tp_dealloc,
// an error path, a lambda run without the GIL, a C++ exception unwinding.
//
// Before it lets the GIL go, it lets the T give up what needs no lock
// (release_without_lock: a small block goes back to its holder's recycling
// cache in nanoseconds, cheaper than a GIL round trip); the GIL is released
// only if something is left.
//
// Subtle cases, decided here once:
//  * An Owned that is a field of a Python object may be read by another
//    thread of the interpreter while the GIL is released: reset() and the
//    assignments empty (or refill) this Owned first and destroy the old T
//    from a local, so a reader never sees one half destroyed.
//  * The GIL is taken back through the GIL gate (gil.hpp, process_exit.hpp):
//    at the end of the process a thread other than the exiting one parks
//    there for good rather than be ended inside this noexcept destructor.
//    The exiting thread itself (module clear, the deallocs of
//    finalisation) always gets its GIL back.
//  * In a fork() child the core's releases do nothing (holder.hpp);
//    releasing the GIL around them costs a little and is harmless.
//
// Shared owners end in an Owned too: a BlockOwner (block_owner.hpp) keeps
// its block in one, and the last reference to an ArenaSession deletes it
// through one (arena_session.cpp).
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "gil.hpp"
#include "shoal/holder.hpp"

namespace shoal_py {

// Gives up what of `value` needs no lock (with or without the GIL). True if
// nothing is left whose release may wait.
template <class T>
bool release_without_lock(T& value) noexcept {
  if constexpr (std::is_same_v<T, shoal::HeldBlock>) {
    return !value || value.try_recycle();
  } else {
    return false;
  }
}

template <class T>
class Owned {
 public:
  Owned() = default;
  explicit Owned(T value) { value_.emplace(std::move(value)); }
  Owned(Owned&& other) noexcept { take_from(other); }
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) {
      Owned going(std::move(*this));  // ours goes after we hold theirs
      take_from(other);
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  explicit operator bool() const { return value_.has_value(); }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

  // A new T in place of the old one (released as reset() releases it).
  template <class... Args>
  T& emplace(Args&&... args) {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      Owned going(std::move(*this));  // ours goes after the new one is in place
      return value_.emplace(std::forward<Args>(args)...);
    } else {
      reset();
      return value_.emplace(std::forward<Args>(args)...);
    }
  }

  // The T itself, for a caller that takes its release over; this is empty.
  T take() {
    T out = std::move(*value_);
    value_.reset();  // a moved-from T: nothing left to release
    return out;
  }

  // Releases the T now (see above); this is empty after.
  void reset() noexcept {
    if (!value_) return;
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      T going = take();  // this is empty before the GIL is let go
      // The cheap test first: an emptied block (sent, handed over) is the common case.
      if (!release_without_lock(going) && holds_gil()) destroy_without_gil(std::move(going));
    } else {
      // A T that cannot move lives on a stack, never in a field.
      if (!release_without_lock(*value_) && holds_gil()) {
        GilReleased released;
        value_.reset();
      }
      value_.reset();
    }
  }

 private:
  void take_from(Owned& other) noexcept {
    if (other.value_) value_.emplace(other.take());
  }
  static void destroy_without_gil(T&& going) noexcept {
    GilReleased released;
    T last(std::move(going));  // destroyed here, before the GIL is taken back
  }

  std::optional<T> value_;
};

using OwnedBlock = Owned<shoal::HeldBlock>;

}  // namespace shoal_py
