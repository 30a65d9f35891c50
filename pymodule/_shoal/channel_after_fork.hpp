// channel_after_fork.hpp — a Channel object inherited through fork().
//
// It holds the parent's reference, through the parent's holder, which the
// child cannot use (holder.hpp). Before its first use in the child it is
// reopened: the same channel, through a session of this process
// (session_lookup.hpp). Every Channel method calls ensure_usable_here
// first; in the process that opened it that is one comparison.
#pragma once

#include <Python.h>

#include "channel_type.hpp"

namespace shoal_py {

// Reopens Channel object `channel` through a session of this process.
// Returns -1 with an error set.
int reopen_here(PyObject* channel);

// Makes Channel object `channel` usable in this process. Returns -1 with
// an error set.
inline int ensure_usable_here(PyObject* channel) {
  if (as_channel(channel)->fields.session->opened_here()) return 0;
  return reopen_here(channel);
}

}  // namespace shoal_py
