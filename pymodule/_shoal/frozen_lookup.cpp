// frozen_lookup.cpp — see frozen_lookup.hpp.
#include "frozen_lookup.hpp"

#include <cstring>
#include <string_view>

#include "errors.hpp"
#include "frozen_view_type.hpp"
#include "shoal/frozen_hash.hpp"
#include "value_thaw.hpp"

namespace shoal_py {
namespace {

using shoal::heap::ValueKind;
using shoal::heap::ValueReader;

// Unwinds a probe whose comparison raised: the Python error is set.
struct PythonErrorSet {};

// 0 for a hashable key (it has no stable hash, so is found by comparison
// alone), -1 with TypeError set for an unhashable one, as a dict raises.
int no_stable_hash(PyObject* key) { return PyObject_Hash(key) == -1 ? -1 : 0; }

int stable_hash(ModuleState* state, PyObject* key, std::uint64_t* out, std::uint32_t depth);

// An int of any size, as the frozen form of an equal number hashes.
int int_hash(PyObject* number, std::uint64_t* out) {
  int overflow = 0;
  const long long small = PyLong_AsLongLongAndOverflow(number, &overflow);
  if (small == -1 && PyErr_Occurred()) return -1;
  if (overflow == 0) {
    *out = shoal::heap::stable_hash_int(small);
    return 1;
  }
  PyObject* magnitude = PyNumber_Absolute(number);
  if (magnitude == nullptr) return -1;
  PyObject* bits = PyObject_CallMethod(magnitude, "bit_length", nullptr);
  const long long bit_count = bits != nullptr ? PyLong_AsLongLong(bits) : -1;
  Py_XDECREF(bits);
  PyObject* bytes = bit_count < 0 ? nullptr
                                  : PyObject_CallMethod(magnitude, "to_bytes", "Ls", (bit_count + 7) / 8, "little");
  Py_DECREF(magnitude);
  if (bytes == nullptr) return -1;
  const auto* data = reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(bytes));
  *out = shoal::heap::stable_hash_big_int(overflow < 0, {data, static_cast<std::size_t>(PyBytes_GET_SIZE(bytes))});
  Py_DECREF(bytes);
  return 1;
}

// A frozenset's elements, in any order.
int frozenset_hash(ModuleState* state, PyObject* set, std::uint64_t* out, std::uint32_t depth) {
  shoal::heap::FrozensetHasher hasher;
  PyObject* iterator = PyObject_GetIter(set);
  if (iterator == nullptr) return -1;
  int result = 1;
  while (PyObject* item = PyIter_Next(iterator)) {
    std::uint64_t h = 0;
    result = stable_hash(state, item, &h, depth - 1);
    Py_DECREF(item);
    if (result != 1) break;
    hasher.add(h);
  }
  Py_DECREF(iterator);
  if (result == 1 && PyErr_Occurred()) return -1;
  if (result == 0) return no_stable_hash(set);
  if (result == 1) *out = hasher.finish();
  return result;
}

// The stable hash of `key`: 1 with *out set; 0 for a hashable key with no
// stable hash; -1 with an error set. The canonical forms are those of
// schemas/value.capnp, read from the Python object: what the freezer would
// write for it (or for an equal value: subclasses of int, float, str,
// bytes and tuple, and NumPy's integers through __index__, hash as the
// value they equal).
int stable_hash(ModuleState* state, PyObject* key, std::uint64_t* out, std::uint32_t depth) {
  namespace heap = shoal::heap;
  if (key == Py_None) return *out = heap::stable_hash_none(), 1;
  if (PyBool_Check(key)) return *out = heap::stable_hash_int(key == Py_True ? 1 : 0), 1;
  if (PyLong_Check(key)) return int_hash(key, out);
  if (PyFloat_Check(key)) return *out = heap::stable_hash_float(PyFloat_AS_DOUBLE(key)), 1;
  if (PyUnicode_Check(key)) {
    Py_ssize_t length = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(key, &length);
    if (utf8 == nullptr) {  // lone surrogates: no UTF-8 form, so never frozen as text
      PyErr_Clear();
      return no_stable_hash(key);
    }
    return *out = heap::stable_hash_text({utf8, static_cast<std::size_t>(length)}), 1;
  }
  if (PyBytes_Check(key)) {
    const auto* data = reinterpret_cast<const std::byte*>(PyBytes_AS_STRING(key));
    return *out = heap::stable_hash_bytes({data, static_cast<std::size_t>(PyBytes_GET_SIZE(key))}), 1;
  }
  if (depth == 0) return no_stable_hash(key);
  if (PyTuple_Check(key)) {
    heap::TupleHasher hasher;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); ++i) {
      std::uint64_t h = 0;
      const int result = stable_hash(state, PyTuple_GET_ITEM(key, i), &h, depth - 1);
      if (result < 0) return -1;
      if (result == 0) return no_stable_hash(key);
      hasher.add(h);
    }
    return *out = hasher.finish(), 1;
  }
  if (PyFrozenSet_Check(key)) return frozenset_hash(state, key, out, depth);
  if (FrozenViewFields* view = frozen_view_fields(state, key)) {
    // A FrozenTuple or FrozenSet hashes as the value it views (a dict or
    // list view is unhashable, and says so).
    if (view->kind != ValueKind::tuple && view->kind != ValueKind::set && view->kind != ValueKind::frozenset) {
      return no_stable_hash(key);
    }
    PyObject* plain = PyObject_CallMethod(key, "thaw", nullptr);
    if (plain == nullptr) return -1;
    PyObject* hashable = PyAnySet_Check(plain) ? PyFrozenSet_New(plain) : Py_NewRef(plain);
    Py_DECREF(plain);
    if (hashable == nullptr) return -1;
    const int result = stable_hash(state, hashable, out, depth);
    Py_DECREF(hashable);
    return result;
  }
  if (PyIndex_Check(key)) {
    PyObject* number = PyNumber_Index(key);
    if (number == nullptr) return -1;
    const int result = int_hash(number, out);
    Py_DECREF(number);
    return result;
  }
  return no_stable_hash(key);
}

// 1 if the stored key equals `key`, 0 if not, -1 with an error set. Text
// and small ints are compared in place; anything else is thawed and
// compared with == (the stored value on the left, as a dict does).
int matches(ModuleState* state, const std::shared_ptr<FrozenRoot>& root, const ValueReader& stored, PyObject* key) {
  const ValueKind kind = stored.kind();
  if (kind == ValueKind::text && PyUnicode_CheckExact(key)) {
    Py_ssize_t length = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(key, &length);
    if (utf8 == nullptr) {
      PyErr_Clear();
      return 0;  // no UTF-8 form: equals no stored text
    }
    const std::string_view text = stored.as_text();
    return text.size() == static_cast<std::size_t>(length) && std::memcmp(text.data(), utf8, text.size()) == 0;
  }
  if (kind == ValueKind::int64 && PyLong_CheckExact(key)) {
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(key, &overflow);
    return overflow == 0 && value == stored.as_int64();
  }
  PyObject* value = thaw_plain(state, root, stored);
  if (value == nullptr) return -1;
  const int equal = PyObject_RichCompareBool(value, key, Py_EQ);
  Py_DECREF(value);
  return equal;
}

template <typename KeyAt>
Py_ssize_t find(ModuleState* state, const std::shared_ptr<FrozenRoot>& root, const shoal::heap::HashIndexReader& index,
                std::size_t count, KeyAt&& key_at, PyObject* key) {
  try {
    auto match = [&](std::size_t entry) {
      const int m = matches(state, root, key_at(entry), key);
      if (m < 0) throw PythonErrorSet{};
      return m == 1;
    };
    std::uint64_t hash = 0;
    const int hashed = stable_hash(state, key, &hash, shoal::heap::kMaxDepth);
    if (hashed < 0) return -2;
    if (hashed == 1 && !index.empty()) {
      if (const auto found = index.find(hash, match)) return *found;
      // A key with no stable hash (a pickled one) may still be equal.
      for (std::size_t i = 0; i < index.unhashed_count(); ++i) {
        const std::uint32_t entry = index.unhashed(i);
        if (match(entry)) return entry;
      }
      return -1;
    }
    // No index, or a key only == can place (a Decimal may equal an int).
    for (std::size_t i = 0; i < count; ++i) {
      if (match(i)) return static_cast<Py_ssize_t>(i);
    }
    return -1;
  } catch (const PythonErrorSet&) {
    return -2;
  } catch (...) {
    raise_python_error(state);
    return -2;
  }
}

}  // namespace

Py_ssize_t find_in_dict(ModuleState* state, const std::shared_ptr<FrozenRoot>& root,
                        const shoal::heap::DictReader& dict, PyObject* key) {
  return find(state, root, dict.index(), dict.size(), [&](std::size_t i) { return dict.key(i); }, key);
}

Py_ssize_t find_in_set(ModuleState* state, const std::shared_ptr<FrozenRoot>& root,
                       const shoal::heap::SequenceReader& items, PyObject* key) {
  return find(state, root, items.index(), items.size(), [&](std::size_t i) { return items[i]; }, key);
}

}  // namespace shoal_py
