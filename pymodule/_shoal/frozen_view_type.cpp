// frozen_view_type.cpp — the view types (see frozen_view_type.hpp).
//
// Entry points: freeze_function (shoal.freeze), new_frozen_view (a nested
// view, or one that arrived), and the slots of each type: a dict's lookup
// and membership go through the index (frozen_lookup.cpp); a list's
// indexing reads one element; every element read becomes a Python value as
// thaw_element says (value_thaw.hpp). The types hold no Python objects, so
// a view needs no GC traversal beyond its type.
#include "frozen_view_type.hpp"

#include <utility>

#include "arena_type.hpp"
#include "errors.hpp"
#include "fast_args.hpp"
#include "frozen_lookup.hpp"
#include "gil.hpp"
#include "value_freeze.hpp"
#include "value_thaw.hpp"

namespace shoal_py {
namespace {

using shoal::heap::ValueKind;
using shoal::heap::ValueReader;

// The four view types, in ModuleState's order (frozen_types, frozen_classes).
enum ViewType { kDict = 0, kList = 1, kTuple = 2, kSet = 3 };

ModuleState* state_of(PyObject* object) { return state_of_subclass(Py_TYPE(object)); }

FrozenViewObject* as_view(PyObject* object) { return reinterpret_cast<FrozenViewObject*>(object); }
FrozenViewFields& fields_of(PyObject* object) { return as_view(object)->fields; }

ViewType view_type_of(ValueKind kind) {
  switch (kind) {
    case ValueKind::dict: return kDict;
    case ValueKind::list: return kList;
    case ValueKind::tuple: return kTuple;
    default: return kSet;  // set and frozenset
  }
}

std::size_t size_of(const FrozenViewFields& f) { return f.dict ? f.dict->size() : f.items->size(); }

// ------------------------------------------------------------ life cycle ----

int view_traverse(PyObject* object, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(object));
  return 0;
}

void view_dealloc(PyObject* object) {
  PyTypeObject* type = Py_TYPE(object);
  PyObject_GC_UnTrack(object);
  fields_of(object).~FrozenViewFields();  // the last view's root releases the block (frozen_root.hpp)
  type->tp_free(object);
  Py_DECREF(type);
}

Py_ssize_t view_length(PyObject* self) { return static_cast<Py_ssize_t>(size_of(fields_of(self))); }

// ------------------------------------------------------------------ dict ----

PyObject* dict_lookup(PyObject* self, PyObject* key, PyObject* missing) {
  FrozenViewFields& f = fields_of(self);
  ModuleState* state = state_of(self);
  const Py_ssize_t entry = find_in_dict(state, f.root, *f.dict, key);
  if (entry == -2) return nullptr;
  if (entry == -1) {
    if (missing != nullptr) return Py_NewRef(missing);
    PyErr_SetObject(PyExc_KeyError, key);
    return nullptr;
  }
  try {
    return thaw_element(state, f.root, f.dict->value(static_cast<std::size_t>(entry)), f.path, static_cast<std::uint32_t>(entry));
  } catch (...) {
    return raise_python_error(state);
  }
}

PyObject* dict_subscript(PyObject* self, PyObject* key) { return dict_lookup(self, key, nullptr); }

int dict_contains(PyObject* self, PyObject* key) {
  FrozenViewFields& f = fields_of(self);
  const Py_ssize_t entry = find_in_dict(state_of(self), f.root, *f.dict, key);
  return entry == -2 ? -1 : entry >= 0;
}

PyObject* dict_get(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs < 1 || nargs > 2) {
    PyErr_Format(PyExc_TypeError, "get expected 1 or 2 arguments, got %zd", nargs);
    return nullptr;
  }
  return dict_lookup(self, args[0], nargs == 2 ? args[1] : Py_None);
}

// -------------------------------------------------------- list and tuple ----

PyObject* sequence_element(PyObject* self, Py_ssize_t index) {
  FrozenViewFields& f = fields_of(self);
  ModuleState* state = state_of(self);
  try {
    const auto i = static_cast<std::size_t>(index);
    return thaw_element(state, f.root, (*f.items)[i], f.path, static_cast<std::uint32_t>(i));
  } catch (...) {
    return raise_python_error(state);
  }
}

PyObject* sequence_item(PyObject* self, Py_ssize_t index) {
  if (index < 0 || static_cast<std::size_t>(index) >= size_of(fields_of(self))) {
    PyErr_SetString(PyExc_IndexError, "index out of range");
    return nullptr;
  }
  return sequence_element(self, index);
}

// view[i] and view[a:b:c]: a slice is a plain list (FrozenList) or tuple
// (FrozenTuple) of the elements, containers among them as views.
PyObject* sequence_subscript(PyObject* self, PyObject* key) {
  const auto length = static_cast<Py_ssize_t>(size_of(fields_of(self)));
  if (PyIndex_Check(key)) {
    Py_ssize_t index = PyNumber_AsSsize_t(key, PyExc_IndexError);
    if (index == -1 && PyErr_Occurred()) return nullptr;
    if (index < 0) index += length;
    return sequence_item(self, index);
  }
  if (!PySlice_Check(key)) {
    PyErr_Format(PyExc_TypeError, "indices must be integers or slices, not %.100s", Py_TYPE(key)->tp_name);
    return nullptr;
  }
  Py_ssize_t start = 0, stop = 0, step = 0;
  if (PySlice_Unpack(key, &start, &stop, &step) < 0) return nullptr;
  const Py_ssize_t count = PySlice_AdjustIndices(length, &start, &stop, step);
  const bool tuple = fields_of(self).kind == ValueKind::tuple;
  PyObject* out = tuple ? PyTuple_New(count) : PyList_New(count);
  if (out == nullptr) return nullptr;
  for (Py_ssize_t i = 0, at = start; i < count; ++i, at += step) {
    PyObject* item = sequence_element(self, at);
    if (item == nullptr) return Py_DECREF(out), nullptr;
    if (tuple) {
      PyTuple_SET_ITEM(out, i, item);
    } else {
      PyList_SET_ITEM(out, i, item);
    }
  }
  return out;
}

int sequence_contains(PyObject* self, PyObject* value) {
  const auto length = static_cast<Py_ssize_t>(size_of(fields_of(self)));
  for (Py_ssize_t i = 0; i < length; ++i) {
    PyObject* item = sequence_element(self, i);
    if (item == nullptr) return -1;
    const int equal = item == value ? 1 : PyObject_RichCompareBool(item, value, Py_EQ);
    Py_DECREF(item);
    if (equal != 0) return equal;
  }
  return 0;
}

// ------------------------------------------------------------------- set ----

int set_contains(PyObject* self, PyObject* key) {
  FrozenViewFields& f = fields_of(self);
  const Py_ssize_t entry = find_in_set(state_of(self), f.root, *f.items, key);
  return entry == -2 ? -1 : entry >= 0;
}

// ------------------------------------------------------------- iterators ----

// What an iterator yields: elements as a list hands them out (views for
// containers), plain values (a dict's keys, a set's elements: hashable,
// so never views), a dict's values, or its (key, value) pairs.
enum class Yield { element, plain, value, item };

struct IteratorObject {
  PyObject_HEAD
  PyObject* view;  // strong
  std::size_t next;
  Yield yield;
};

PyObject* iterator_next(PyObject* object) {
  auto* it = reinterpret_cast<IteratorObject*>(object);
  FrozenViewFields& f = fields_of(it->view);
  if (it->next >= size_of(f)) return nullptr;  // StopIteration
  const std::size_t i = it->next++;
  ModuleState* state = state_of(it->view);
  try {
    switch (it->yield) {
      case Yield::element: return thaw_element(state, f.root, (*f.items)[i], f.path, static_cast<std::uint32_t>(i));
      case Yield::plain: return thaw_plain(state, f.root, f.dict ? f.dict->key(i) : (*f.items)[i]);
      case Yield::value: return thaw_element(state, f.root, f.dict->value(i), f.path, static_cast<std::uint32_t>(i));
      case Yield::item: {
        PyObject* key = thaw_plain(state, f.root, f.dict->key(i));
        if (key == nullptr) return nullptr;
        PyObject* value = thaw_element(state, f.root, f.dict->value(i), f.path, static_cast<std::uint32_t>(i));
        if (value == nullptr) return Py_DECREF(key), nullptr;
        PyObject* pair = PyTuple_Pack(2, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        return pair;
      }
    }
  } catch (...) {
    return raise_python_error(state);
  }
  return nullptr;
}

int iterator_traverse(PyObject* object, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(object));
  Py_VISIT(reinterpret_cast<IteratorObject*>(object)->view);
  return 0;
}

int iterator_clear(PyObject* object) {
  Py_CLEAR(reinterpret_cast<IteratorObject*>(object)->view);
  return 0;
}

void iterator_dealloc(PyObject* object) {
  PyTypeObject* type = Py_TYPE(object);
  PyObject_GC_UnTrack(object);
  iterator_clear(object);
  type->tp_free(object);
  Py_DECREF(type);
}

PyObject* iterator_length_hint(PyObject* object, PyObject*) {
  auto* it = reinterpret_cast<IteratorObject*>(object);
  const std::size_t size = size_of(fields_of(it->view));
  return PyLong_FromSize_t(it->next < size ? size - it->next : 0);
}

PyMethodDef iterator_methods[] = {
    {"__length_hint__", iterator_length_hint, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot iterator_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(iterator_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(iterator_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(iterator_clear)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(iterator_next)},
    {Py_tp_methods, iterator_methods},
    {0, nullptr},
};

PyType_Spec iterator_spec = {
    .name = "shoal._FrozenIterator",
    .basicsize = sizeof(IteratorObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = iterator_slots,
};

PyObject* new_iterator(PyObject* view, Yield yield) {
  ModuleState* state = state_of(view);
  auto* it = PyObject_GC_New(IteratorObject, state->frozen_iterator_type);
  if (it == nullptr) return nullptr;
  it->view = Py_NewRef(view);
  it->next = 0;
  it->yield = yield;
  PyObject_GC_Track(it);
  return reinterpret_cast<PyObject*>(it);
}

PyObject* view_iter(PyObject* self) {
  const ValueKind kind = fields_of(self).kind;
  const bool plain = kind == ValueKind::dict || kind == ValueKind::set || kind == ValueKind::frozenset;
  return new_iterator(self, plain ? Yield::plain : Yield::element);
}

PyObject* dict_iter_values(PyObject* self, PyObject*) { return new_iterator(self, Yield::value); }
PyObject* dict_iter_items(PyObject* self, PyObject*) { return new_iterator(self, Yield::item); }

// ------------------------------------------------------- common methods ----

PyObject* view_thaw(PyObject* self, PyObject*) {
  FrozenViewFields& f = fields_of(self);
  ModuleState* state = state_of(self);
  try {
    return thaw_plain(state, f.root, f.root->object.at(f.path));
  } catch (...) {
    return raise_python_error(state);
  }
}

PyObject* view_self(PyObject* self, PyObject*) { return Py_NewRef(self); }

PyObject* view_get_path(PyObject* self, void*) {
  const std::vector<std::uint32_t>& path = fields_of(self).path;
  PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(path.size()));
  if (tuple == nullptr) return nullptr;
  for (std::size_t i = 0; i < path.size(); ++i) {
    PyObject* step = PyLong_FromUnsignedLong(path[i]);
    if (step == nullptr) return Py_DECREF(tuple), nullptr;
    PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i), step);
  }
  return tuple;
}

PyObject* view_get_arena(PyObject* self, void*) {
  const std::string& name = fields_of(self).root->owner->session->arena().name();
  return PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "surrogateescape");
}

// True when both views name the same value of the same block: equal
// without reading either.
PyObject* view_same_value(PyObject* self, PyObject* other) {
  FrozenViewFields* theirs = frozen_view_fields(state_of(self), other);
  const FrozenViewFields& ours = fields_of(self);
  return PyBool_FromLong(theirs != nullptr && &theirs->root->owner->session->arena() == &ours.root->owner->session->arena() &&
                         theirs->root->owner->block->handle() == ours.root->owner->block->handle() &&
                         theirs->path == ours.path);
}

// __reduce_ex__: pickling lives in Python (shoal/_pickling.py), by reference.
PyObject* view_reduce_ex(PyObject* self, PyObject* protocol) {
  PyObject* module = PyImport_ImportModule("shoal._pickling");
  if (module == nullptr) return nullptr;
  PyObject* result = PyObject_CallMethod(module, "reduce_frozen", "OO", self, protocol);
  Py_DECREF(module);
  return result;
}

PyObject* view_repr(PyObject* self) {
  PyObject* plain = view_thaw(self, nullptr);
  if (plain == nullptr) return nullptr;
  static constexpr const char* kNames[] = {"FrozenDict", "FrozenList", "FrozenTuple", "FrozenSet"};
  PyObject* repr = PyUnicode_FromFormat("shoal.%s(%R)", kNames[view_type_of(fields_of(self).kind)], plain);
  Py_DECREF(plain);
  return repr;
}

#define SHOAL_VIEW_COMMON_METHODS                                                                           \
  {"thaw", view_thaw, METH_NOARGS,                                                                          \
   "thaw()\n--\n\nThe value as plain Python objects (dicts, lists, ...; arrays stay zero-copy\n"          \
   "views): what a channel's recv gives for an ordinary value. Copies the whole value."},                  \
      {"copy", view_thaw, METH_NOARGS, "copy()\n--\n\nThe same as thaw(): a plain, mutable copy."},        \
      {"__copy__", view_self, METH_NOARGS, "A view is immutable: itself."},                                 \
      {"__deepcopy__", view_self, METH_O, "A view is immutable: itself."},                                  \
      {"_same_value", view_same_value, METH_O, "True if `other` views the same value of the same block."}, \
      {"__reduce_ex__", view_reduce_ex, METH_O,                                                              \
       "Pickles the view by reference (same host): it arrives as a view of the same block."},

PyGetSetDef view_getset[] = {
    {"_path", view_get_path, nullptr, "The path of this value from its object's root.", nullptr},
    {"arena", view_get_arena, nullptr, "The name of the arena the value lives in.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMethodDef dict_methods[] = {
    {"get", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(dict_get)), METH_FASTCALL,
     "get(key, default=None)\n--\n\nThe value for key if key is in the dict, else default."},
    {"_iter_values", dict_iter_values, METH_NOARGS, "An iterator over the values, in order."},
    {"_iter_items", dict_iter_items, METH_NOARGS, "An iterator over the (key, value) pairs, in order."},
    SHOAL_VIEW_COMMON_METHODS {nullptr, nullptr, 0, nullptr},
};

PyMethodDef sequence_methods[] = {SHOAL_VIEW_COMMON_METHODS{nullptr, nullptr, 0, nullptr}};

const char dict_doc[] =
    "A read-only dict frozen into an arena (shoal.freeze), read in place: lookups\n"
    "go through a hash index, and only what is read becomes Python objects.";
const char list_doc[] = "A read-only list frozen into an arena (shoal.freeze), read in place.";
const char tuple_doc[] = "A read-only tuple frozen into an arena (shoal.freeze), read in place.";
const char set_doc[] =
    "A read-only set or frozenset frozen into an arena (shoal.freeze), read in place;\n"
    "membership goes through a hash index.";

PyType_Slot dict_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(view_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(view_traverse)},
    {Py_tp_repr, reinterpret_cast<void*>(view_repr)},
    {Py_tp_iter, reinterpret_cast<void*>(view_iter)},
    {Py_mp_length, reinterpret_cast<void*>(view_length)},
    {Py_mp_subscript, reinterpret_cast<void*>(dict_subscript)},
    {Py_sq_length, reinterpret_cast<void*>(view_length)},
    {Py_sq_contains, reinterpret_cast<void*>(dict_contains)},
    {Py_tp_methods, dict_methods},
    {Py_tp_getset, view_getset},
    {Py_tp_doc, const_cast<char*>(dict_doc)},
    {0, nullptr},
};

#define SHOAL_SEQUENCE_SLOTS(doc)                                                  \
  {Py_tp_dealloc, reinterpret_cast<void*>(view_dealloc)},                          \
      {Py_tp_traverse, reinterpret_cast<void*>(view_traverse)},                    \
      {Py_tp_repr, reinterpret_cast<void*>(view_repr)},                            \
      {Py_tp_iter, reinterpret_cast<void*>(view_iter)},                            \
      {Py_mp_length, reinterpret_cast<void*>(view_length)},                        \
      {Py_mp_subscript, reinterpret_cast<void*>(sequence_subscript)},              \
      {Py_sq_length, reinterpret_cast<void*>(view_length)},                        \
      {Py_sq_item, reinterpret_cast<void*>(sequence_item)},                        \
      {Py_sq_contains, reinterpret_cast<void*>(sequence_contains)},                \
      {Py_tp_methods, sequence_methods}, {Py_tp_getset, view_getset},              \
      {Py_tp_doc, const_cast<char*>(doc)}, {0, nullptr},

PyType_Slot list_slots[] = {SHOAL_SEQUENCE_SLOTS(list_doc)};
PyType_Slot tuple_slots[] = {SHOAL_SEQUENCE_SLOTS(tuple_doc)};

PyType_Slot set_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(view_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(view_traverse)},
    {Py_tp_repr, reinterpret_cast<void*>(view_repr)},
    {Py_tp_iter, reinterpret_cast<void*>(view_iter)},
    {Py_sq_length, reinterpret_cast<void*>(view_length)},
    {Py_sq_contains, reinterpret_cast<void*>(set_contains)},
    {Py_tp_methods, sequence_methods},
    {Py_tp_getset, view_getset},
    {Py_tp_doc, const_cast<char*>(set_doc)},
    {0, nullptr},
};

// Base types (shoal/_frozen.py subclasses them); no tp_new: views come
// from shoal.freeze(), a channel or a pickle, never from their class.
constexpr unsigned long kViewFlags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC |
                                     Py_TPFLAGS_BASETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION;

PyType_Spec view_specs[] = {
    {"shoal._FrozenDict", sizeof(FrozenViewObject), 0, kViewFlags | Py_TPFLAGS_MAPPING, dict_slots},
    {"shoal._FrozenList", sizeof(FrozenViewObject), 0, kViewFlags | Py_TPFLAGS_SEQUENCE, list_slots},
    {"shoal._FrozenTuple", sizeof(FrozenViewObject), 0, kViewFlags | Py_TPFLAGS_SEQUENCE, tuple_slots},
    {"shoal._FrozenSet", sizeof(FrozenViewObject), 0, kViewFlags, set_slots},
};

}  // namespace

int add_frozen_view_types(PyObject* module, ModuleState* state) {
  for (int i = 0; i < 4; ++i) {
    state->frozen_types[i] =
        reinterpret_cast<PyTypeObject*>(PyType_FromModuleAndSpec(module, &view_specs[i], nullptr));
    if (state->frozen_types[i] == nullptr) return -1;
    if (PyModule_AddType(module, state->frozen_types[i]) < 0) return -1;
  }
  state->frozen_iterator_type =
      reinterpret_cast<PyTypeObject*>(PyType_FromModuleAndSpec(module, &iterator_spec, nullptr));
  return state->frozen_iterator_type == nullptr ? -1 : 0;
}

FrozenViewFields* frozen_view_fields(ModuleState* state, PyObject* object) {
  for (PyTypeObject* type : state->frozen_types) {
    if (type != nullptr && PyObject_TypeCheck(object, type)) return &fields_of(object);
  }
  return nullptr;
}

PyObject* new_frozen_view(ModuleState* state, const std::shared_ptr<FrozenRoot>& root, std::vector<std::uint32_t> path,
                          const ValueReader& value) {
  const ValueKind kind = value.kind();
  if (kind != ValueKind::dict && kind != ValueKind::list && kind != ValueKind::tuple && kind != ValueKind::set &&
      kind != ValueKind::frozenset) {
    PyErr_Format(PyExc_TypeError, "a frozen view is of a dict, list, tuple or set, not a %s",
                 shoal::heap::to_string(kind));
    return nullptr;
  }
  const ViewType which = view_type_of(kind);
  PyTypeObject* type = state->frozen_classes[which] != nullptr
                           ? reinterpret_cast<PyTypeObject*>(state->frozen_classes[which])
                           : state->frozen_types[which];
  FrozenViewFields fields{root, std::move(path), kind, std::nullopt, std::nullopt, -1};
  try {
    if (kind == ValueKind::dict) {
      fields.dict.emplace(value.as_dict());
    } else {
      fields.items.emplace(value.as_sequence());
    }
  } catch (...) {
    return raise_python_error(state);
  }
  PyObject* object = type->tp_alloc(type, 0);
  if (object == nullptr) return nullptr;
  new (&fields_of(object)) FrozenViewFields(std::move(fields));
  return object;
}

PyObject* frozen_view_of_block(ModuleState* state, const std::shared_ptr<ArenaSession>& session,
                               shoal::HeldBlock block, const std::vector<std::uint32_t>& path) {
  try {
    auto root = std::make_shared<FrozenRoot>(std::make_shared<BlockOwner>(session, std::move(block)));
    return new_frozen_view(state, root, path, root->object.at(path));
  } catch (...) {
    return raise_python_error(state);
  }
}

PyObject* freeze_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static constexpr const char* kNames[] = {"value", "arena"};
  PyObject* bound[2];
  if (bind_arguments("freeze", args, nargs, kwnames, kNames, 1, bound) < 0) return nullptr;
  ModuleState* state = state_of_module(module);
  PyObject* value = bound[0];
  PyObject* arena = bound[1] != nullptr ? bound[1] : Py_None;
  if (arena != Py_None && !PyObject_TypeCheck(arena, state->arena_type)) {
    PyErr_Format(PyExc_TypeError, "arena must be a shoal.Arena, not %.100s", Py_TYPE(arena)->tp_name);
    return nullptr;
  }
  if (!PyDict_CheckExact(value) && !PyList_CheckExact(value) && !PyTuple_CheckExact(value) &&
      !PyAnySet_CheckExact(value) && frozen_view_fields(state, value) == nullptr) {
    PyErr_Format(PyExc_TypeError,
                 "freeze() takes a dict, list, tuple, set or frozenset, not %.100s (send other values as they are)",
                 Py_TYPE(value)->tp_name);
    return nullptr;
  }
  PyObject* owned_arena = arena == Py_None ? default_arena_object(state) : Py_NewRef(arena);
  if (owned_arena == nullptr) return nullptr;
  std::shared_ptr<ArenaSession> session = reinterpret_cast<ArenaObject*>(owned_arena)->fields.session;
  Py_DECREF(owned_arena);
  if (!session) {
    PyErr_SetString(PyExc_ValueError, "arena is closed");
    return nullptr;
  }
  // Already a view of this arena's memory: frozen already.
  if (FrozenViewFields* view = frozen_view_fields(state, value)) {
    if (&view->root->owner->session->arena() == &session->arena()) return Py_NewRef(value);
  }
  OwnedBlock object = freeze_value(state, *session, value, false, shoal::heap::Freezer::Indexing::hashed);
  if (!object) return nullptr;
  return frozen_view_of_block(state, session, object.take(), {});
}

PyObject* set_frozen_classes_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
  ModuleState* state = state_of_module(module);
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "_set_frozen_classes(dict_cls, list_cls, tuple_cls, set_cls)");
    return nullptr;
  }
  for (int i = 0; i < 4; ++i) {
    if (!PyType_Check(args[i]) || !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(args[i]), state->frozen_types[i])) {
      PyErr_Format(PyExc_TypeError, "argument %d must subclass %s", i + 1, state->frozen_types[i]->tp_name);
      return nullptr;
    }
  }
  for (int i = 0; i < 4; ++i) Py_XSETREF(state->frozen_classes[i], Py_NewRef(args[i]));
  Py_RETURN_NONE;
}

}  // namespace shoal_py
