// channel_items.cpp — see channel_items.hpp.
#include "channel_items.hpp"

#include <memory>
#include <utility>

#include "block_owner.hpp"
#include "buffer_seal.hpp"
#include "buffer_type.hpp"
#include "channel_type.hpp"
#include "inline_value.hpp"
#include "numpy_arrays.hpp"
#include "shoal/array_blob.hpp"
#include "value_thaw.hpp"

namespace shoal_py {
namespace {

ModuleState* state_of(PyObject* object) { return state_of_type(Py_TYPE(object)); }

// The Python value of a received block: an array blob that came as itself
// (array_blob_of), or a frozen object.
PyObject* thaw(PyObject* self, shoal::HeldBlock block) {
  const bool array = shoal::heap::is_array_blob(block);
  auto owner = std::make_shared<BlockOwner>(as_channel(self)->fields.session, std::move(block));
  return array ? thaw_array_blob(state_of(self), owner) : thaw_value(state_of(self), owner);
}

}  // namespace

PyObject* value_of(PyObject* self, shoal::Channel::Item item) {
  if (item.is_inline()) return python_value_of(item.value);
  return thaw(self, std::move(item.block));
}

std::optional<shoal::Handle> array_blob_of(PyObject* self, PyObject* value) {
  // A checksummed channel sends objects only: a blob has nowhere to keep one.
  if (as_channel(self)->fields.channel->checksummed()) return std::nullopt;
  const BufferFields* buffer = buffer_fields(state_of(self), value);
  // The value itself, when it is an array over the Buffer: the one that may be made read-only.
  PyObject* array = nullptr;
  if (buffer == nullptr) {
    buffer = buffer_viewed_whole(state_of(self), value);  // may set an error: callers check
    array = value;
  }
  if (buffer == nullptr) return std::nullopt;
  const BlockOwner& owner = *buffer->owner;
  if (owner.block->handle() != buffer->blob || !shoal::heap::is_array_blob(*owner.block)) return std::nullopt;
  const ArenaSession& ours = *as_channel(self)->fields.session;
  if (owner.session.get() != &ours && owner.session->arena().name() != ours.arena().name()) return std::nullopt;
  // Read-only from here on, before any wait: the send's caller holds the
  // value through its argument (one reference), and nothing else of ours.
  SealRequest seal;
  seal.buffer = buffer->self;
  seal.sent = array;
  seal.sent_references = 1;
  seal.buffer_references = array != nullptr ? 0 : 1;
  if (seal_buffer(state_of(self), seal) < 0) return std::nullopt;  // BufferError set: callers check
  return buffer->blob;
}

}  // namespace shoal_py
