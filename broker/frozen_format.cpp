// frozen_format.cpp — names of value kinds, for error messages.
#include "shoal/heap_format.hpp"

namespace shoal::heap {

const char* to_string(ValueKind kind) {
  switch (kind) {
    case ValueKind::none: return "none";
    case ValueKind::boolean: return "bool";
    case ValueKind::int64: return "int64";
    case ValueKind::big_int: return "big int";
    case ValueKind::float64: return "float64";
    case ValueKind::text: return "text";
    case ValueKind::bytes: return "bytes";
    case ValueKind::list: return "list";
    case ValueKind::tuple: return "tuple";
    case ValueKind::dict: return "dict";
    case ValueKind::set: return "set";
    case ValueKind::frozenset: return "frozenset";
    case ValueKind::ndarray: return "ndarray";
    case ValueKind::blob: return "blob";
    case ValueKind::pickled: return "pickled";
    case ValueKind::channel: return "channel";
    case ValueKind::view: return "frozen view";
  }
  return "unknown";
}

}  // namespace shoal::heap
