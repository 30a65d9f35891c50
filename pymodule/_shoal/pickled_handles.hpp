// pickled_handles.hpp — the C half of pickling shoal values by reference.
//
// A pickled shoal.Buffer, NumPy array over one, or Channel carries a
// reference ("ref"), not bytes: the arena's name and identity, and a ticket
// for an in-flight reference the arena holds on the block meanwhile
// (include/shoal/in_flight.hpp). shoal/_pickling.py builds and reads the
// pickles; these functions issue, redeem and cancel the tickets:
//
//   ref = (arena name, arena id (16 bytes), boot id of its host,
//          block offset, block generation, entry, ticket number, expires (CLOCK_BOOTTIME ns))
//
//   _issue_ticket(buffer_or_channel, lifetime_seconds, shared=True) -> (ref, data offset in the block's payload)
//                   (shared: pickles of one block share an entry; see InFlight::issue)
//   _redeem(ref) -> a read-only flat shoal.Buffer (uint8) over the block's
//                   payload, or a shoal.Channel, or an end of one (a channel
//                   end's ticket is its own and ends when redeemed: an end's
//                   pickle is used once, so the end dies with its user)
//   _cancel_ticket(ref) -> True if the reference was still held and is now released
//   _in_flight(arena_name) -> [dict, ...], one per in-flight reference of that arena
//   _boot_id() -> this host's boot id
#pragma once

#include <Python.h>

namespace shoal_py {

PyObject* issue_ticket_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs);
PyObject* redeem_function(PyObject* module, PyObject* ref);
// _redeem_frozen(ref, path): a pickled frozen view (shoal/_pickling.py).
PyObject* redeem_frozen_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs);
PyObject* cancel_ticket_function(PyObject* module, PyObject* ref);
PyObject* in_flight_function(PyObject* module, PyObject* name);
PyObject* boot_id_function(PyObject* module, PyObject* unused);

}  // namespace shoal_py
