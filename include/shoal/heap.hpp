// heap.hpp — the frozen-object heap: immutable values in the arena, read in
// place by any process.
//
//   heap_format.hpp  the limits, errors and checks writers and readers share
//   freezer.hpp      building an object (Freezer, ValueWriter)
//   frozen.hpp       reading one without copying it (FrozenObject, ValueReader)
//
// The format itself is schemas/value.capnp: a genuine Cap'n Proto message
// that any Cap'n Proto reader can decode with that file.
#pragma once

#include "shoal/freezer.hpp"
#include "shoal/frozen.hpp"
#include "shoal/heap_format.hpp"
