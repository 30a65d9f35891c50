// call_site.cpp — see call_site.hpp.
#include <Python.h>

#include "call_site.hpp"

#include <new>
#include <string>
#include <string_view>

#include "gil.hpp"
#include "module_state.hpp"

namespace shoal_py {

int LineCache::line_of(PyFrameObject* frame) {
  PyCodeObject* code = PyFrame_GetCode(frame);  // new reference
  const Key key{code, PyFrame_GetLasti(frame)};
  if (const auto found = lines_.find(key); found != lines_.end()) {
    Py_DECREF(code);
    return found->second;
  }
  const int line = PyFrame_GetLineNumber(frame);
  try {
    if (lines_.size() >= kMaxEntries) clear();
    if (lines_.emplace(key, line).second) return line;  // the entry keeps our reference on the code object
  } catch (const std::bad_alloc&) {
    // Not cached; the line is right all the same.
  }
  Py_DECREF(code);
  return line;
}

void LineCache::clear() {
  // Moved out first: a code object's deallocation could run Python code
  // that comes back here.
  std::unordered_map<Key, int, KeyHash> old;
  old.swap(lines_);
  for (const auto& [key, line] : old) Py_DECREF(key.code);
}

std::uint32_t calling_site(ModuleState* state, ArenaSession& session) {
  PyFrameObject* frame = PyEval_GetFrame();  // borrowed; null outside Python code
  if (frame == nullptr) return 0;
  const int line = state->line_cache != nullptr ? state->line_cache->line_of(frame) : PyFrame_GetLineNumber(frame);
  PyCodeObject* code = PyFrame_GetCode(frame);  // new reference
  Py_ssize_t size = 0;
  const char* file = PyUnicode_AsUTF8AndSize(code->co_filename, &size);  // cached in the str
  if (file == nullptr || line < 0) {
    PyErr_Clear();
    Py_DECREF(code);
    return 0;
  }
  // Keyed by the file's text, not the code object's address: a session may
  // outlive any code object (and is shared by the interpreter's threads).
  const std::string_view path(file, static_cast<std::size_t>(size));
  if (const auto id = session.cached_site(path, static_cast<std::uint32_t>(line))) {
    Py_DECREF(code);
    return *id;
  }
  std::uint32_t id = 0;
  try {
    std::string owned(path);
    Py_DECREF(code);
    code = nullptr;
    try {
      id = without_gil([&] { return session.arena().intern_site(owned, static_cast<std::uint32_t>(line)); });
    } catch (...) {
      id = 0;  // (a lock timeout, say): the block is made all the same, its site unknown
    }
    session.remember_site(std::move(owned), static_cast<std::uint32_t>(line), id);
  } catch (const std::bad_alloc&) {
    Py_XDECREF(code);  // out of memory: no site, nothing else changes
  }
  return id;
}

}  // namespace shoal_py
