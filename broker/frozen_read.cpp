// frozen_read.cpp — reading a frozen object in place: FrozenObject and the
// readers.
//
// Main entry point: the FrozenObject constructor, which checks the body's
// segment table and opens a Cap'n Proto FlatArrayMessageReader over it
// with limits sized to the message. Every accessor afterwards runs its
// Cap'n Proto calls through guarded(): Cap'n Proto validates each pointer
// as it is followed and throws kj::Exception on anything malformed; guarded
// turns that into CorruptObject, so no kj::Exception leaves this file.
#include <kj/exception.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "frozen_key_hash.hpp"
#include "shoal/errors.hpp"
#include "shoal/frozen.hpp"

namespace shoal::heap {

using layout::BlockKind;
using Which = schema::Value::Which;

namespace {

// A message of more segments than this is not one a Freezer writes (a
// MallocMessageBuilder doubles its segments, so even a 4 GiB message has
// about 20); refusing more bounds the work of parsing a hostile table.
constexpr std::uint64_t kMaxSegments = 512;

// Cap'n Proto's nesting limit. Cap'n Proto spends one unit per struct or
// list pointer followed and one per struct element taken from a list, so a
// container level costs at most three (a Value to its Dict, the Dict to its
// key list, an element of that list); the root and the deepest leaf (an
// NdArray and its shape, a Pickled and its buffers) add a few more. Our own
// depth check (kMaxDepth, in as_sequence and as_dict) is the one callers
// meet; this one is the backstop.
constexpr int kNestingLimit = 3 * static_cast<int>(kMaxDepth) + 16;

// Runs `body`, turning a Cap'n Proto exception into CorruptObject.
template <typename Body>
auto guarded(const FrozenObject& object, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const kj::Exception& e) {
    throw object.corrupt(std::string("malformed message: ") + e.getDescription().cStr());
  }
}

// Text from shared memory, safe to quote in an error message: printable
// ASCII kept, the rest escaped, at most 40 bytes.
std::string quote(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (text.size() > 40) out += "...";
  return "'" + out + "'";
}

std::span<const std::byte> data_bytes(capnp::Data::Reader data) {
  return {reinterpret_cast<const std::byte*>(data.begin()), data.size()};
}

std::string_view text_view(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

ValueKind kind_of(Which which) {
  switch (which) {
    case Which::NONE: return ValueKind::none;
    case Which::BOOLEAN: return ValueKind::boolean;
    case Which::INT64: return ValueKind::int64;
    case Which::BIG_INT: return ValueKind::big_int;
    case Which::FLOAT64: return ValueKind::float64;
    case Which::TEXT:
    case Which::TEXT_BLOB: return ValueKind::text;
    case Which::BYTES:
    case Which::BYTES_BLOB: return ValueKind::bytes;
    case Which::LIST: return ValueKind::list;
    case Which::TUPLE: return ValueKind::tuple;
    case Which::DICT: return ValueKind::dict;
    case Which::SET:
    case Which::INDEXED_SET: return ValueKind::set;
    case Which::FROZENSET:
    case Which::INDEXED_FROZENSET: return ValueKind::frozenset;
    case Which::NDARRAY: return ValueKind::ndarray;
    case Which::BLOB: return ValueKind::blob;
    case Which::PICKLED: return ValueKind::pickled;
    case Which::CHANNEL: return ValueKind::channel;
    case Which::VIEW: return ValueKind::view;
  }
  throw std::logic_error("unreachable: kind_of on an unknown member");
}

bool is_known(Which which) { return static_cast<std::uint16_t>(which) <= static_cast<std::uint16_t>(Which::VIEW); }

BlobView blob_ref(const FrozenObject& object, schema::BlobRef::Reader ref) {
  return object.child_range(ref.getChild(), ref.getOffset(), ref.getLength());
}

}  // namespace

// ------------------------------------------------------- FrozenObject -----

FrozenObject::FrozenObject(Arena& arena, Handle h, Traversal traversal) : arena_(&arena), handle_(h) {
  ObjectView view = arena.object(h);  // InvalidHandle, or CorruptObject for a bad child table
  body_ = view.body;
  children_ = std::move(view.children);
  resolved_.resize(children_.size());
  open_message(traversal);
}

CorruptObject FrozenObject::corrupt(const std::string& what) const {
  return CorruptObject("arena '" + arena_->name() + "': frozen object " + to_string(handle_) + ": " + what);
}

// Checks the segment table against the body before Cap'n Proto reads it:
// Cap'n Proto checks the same bounds, but these messages say what was
// found, and the segment count gets a bound of its own.
void FrozenObject::open_message(Traversal traversal) {
  if (reinterpret_cast<std::uintptr_t>(body_.data()) % sizeof(capnp::word) != 0) {
    throw corrupt("body is not word-aligned");
  }
  if (body_.size() % sizeof(capnp::word) != 0 || body_.empty()) {
    throw corrupt("body of " + std::to_string(body_.size()) + " bytes is not a whole, non-zero number of words");
  }
  const std::uint64_t words = body_.size() / sizeof(capnp::word);
  std::uint32_t first = 0;
  std::memcpy(&first, body_.data(), sizeof first);
  const std::uint64_t segments = std::uint64_t{first} + 1;
  const std::uint64_t table_words = segments / 2 + 1;
  if (segments > kMaxSegments || table_words > words) {
    throw corrupt("segment table claims " + std::to_string(segments) + " segments in a body of " +
                  std::to_string(words) + " words");
  }
  std::uint64_t total = table_words;
  for (std::uint64_t i = 0; i < segments; ++i) {
    std::uint32_t size = 0;
    std::memcpy(&size, body_.data() + (i + 1) * sizeof size, sizeof size);
    total += size;
  }
  if (total > words) {
    throw corrupt("message claims " + std::to_string(total) + " words, the body holds " + std::to_string(words));
  }

  capnp::ReaderOptions options;
  options.traversalLimitInWords =
      traversal == Traversal::unlimited ? std::numeric_limits<std::uint64_t>::max() : words * kTraversalFactor;
  options.nestingLimit = kNestingLimit;
  const kj::ArrayPtr<const capnp::word> array(reinterpret_cast<const capnp::word*>(body_.data()), words);
  guarded(*this, [&] { message_.emplace(array, options); });
}

ValueReader FrozenObject::root() const {
  return guarded(*this, [&] { return ValueReader(*this, message_->getRoot<schema::Frozen>().getValue(), 0); });
}

ValueReader FrozenObject::at(std::span<const std::uint32_t> path) const {
  ValueReader value = root();
  for (const std::uint32_t step : path) {
    const ValueKind kind = value.kind();
    if (kind == ValueKind::dict) {
      const DictReader dict = value.as_dict();
      if (step >= dict.size()) throw corrupt("a view's path names entry " + std::to_string(step) + " of a dict of " + std::to_string(dict.size()));
      value = dict.value(step);
    } else if (kind == ValueKind::list || kind == ValueKind::tuple) {
      const SequenceReader items = value.as_sequence();
      if (step >= items.size()) throw corrupt("a view's path names element " + std::to_string(step) + " of a sequence of " + std::to_string(items.size()));
      value = items[step];
    } else {
      throw corrupt(std::string("a view's path steps into a ") + to_string(kind));
    }
  }
  return value;
}

BlobView FrozenObject::child(std::uint32_t index, BlockKind kind) const {
  if (index >= children_.size()) {
    throw corrupt("names child " + std::to_string(index) + ", the object has " + std::to_string(children_.size()));
  }
  Resolved& r = resolved_[index];
  if (!r.done) {
    const Handle h = children_[index];
    try {
      r.kind = arena_->block_kind(h);  // no lock: the object holds its children
      r.payload = arena_->payload(h);
    } catch (const InvalidHandle&) {
      throw corrupt("child " + std::to_string(index) + " (" + to_string(h) + ") names no live block");
    }
    r.done = true;
  }
  // A channel reference may name a channel or one of its ends.
  const bool channel_end = kind == BlockKind::channel && r.kind == BlockKind::channel_end;
  if (r.kind != kind && !channel_end) {
    throw corrupt("child " + std::to_string(index) + " is a block of kind " + std::to_string(static_cast<int>(r.kind)) +
                  ", expected kind " + std::to_string(static_cast<int>(kind)));
  }
  return BlobView{children_[index], r.payload};
}

BlobView FrozenObject::child_range(std::uint32_t index, std::uint64_t offset, std::uint64_t length) const {
  const BlobView blob = child(index, BlockKind::blob);
  const std::uint64_t size = blob.bytes.size();
  if (offset > size || length > size - offset) {
    throw corrupt("range [" + std::to_string(offset) + ", +" + std::to_string(length) + ") of child " +
                  std::to_string(index) + " is outside its " + std::to_string(size) + " bytes");
  }
  return BlobView{blob.block, blob.bytes.subspan(offset, length)};
}

// -------------------------------------------------------- ValueReader -----

Which ValueReader::which() const {
  const Which which = guarded(*object_, [&] { return reader_.which(); });
  if (!is_known(which)) {
    throw object_->corrupt("value of unknown kind #" + std::to_string(static_cast<unsigned>(which)) +
                           " (written by a newer shoal?)");
  }
  return which;
}

ValueKind ValueReader::kind() const { return kind_of(which()); }

void ValueReader::expect(ValueKind wanted, ValueKind actual) const {
  if (wanted != actual) {
    throw InvalidArgument(std::string("the value is a ") + to_string(actual) + ", not a " + to_string(wanted));
  }
}

bool ValueReader::as_bool() const {
  expect(ValueKind::boolean, kind());
  return guarded(*object_, [&] { return reader_.getBoolean(); });
}

std::int64_t ValueReader::as_int64() const {
  expect(ValueKind::int64, kind());
  return guarded(*object_, [&] { return reader_.getInt64(); });
}

BigIntView ValueReader::as_big_int() const {
  expect(ValueKind::big_int, kind());
  BigIntView view;
  guarded(*object_, [&] {
    const auto big = reader_.getBigInt();
    const auto magnitude = big.getMagnitude();
    view.negative = big.getNegative();
    view.magnitude = {magnitude.begin(), magnitude.size()};
  });
  if (view.magnitude.empty() || view.magnitude.back() == 0) {
    throw object_->corrupt("big int magnitude is empty or has a trailing zero byte (not canonical)");
  }
  return view;
}

double ValueReader::as_float64() const {
  expect(ValueKind::float64, kind());
  return guarded(*object_, [&] { return reader_.getFloat64(); });
}

std::string_view ValueReader::as_text() const {
  const Which w = which();
  expect(ValueKind::text, kind_of(w));
  std::string_view text;
  if (w == Which::TEXT) {
    text = guarded(*object_, [&] { return text_view(reader_.getText()); });
  } else {
    const BlobView blob = blob_ref(*object_, guarded(*object_, [&] { return reader_.getTextBlob(); }));
    text = {reinterpret_cast<const char*>(blob.bytes.data()), blob.bytes.size()};
  }
  if (!is_valid_utf8(text)) throw object_->corrupt("text is not valid UTF-8");
  return text;
}

std::span<const std::byte> ValueReader::as_bytes() const {
  const Which w = which();
  expect(ValueKind::bytes, kind_of(w));
  if (w == Which::BYTES) return guarded(*object_, [&] { return data_bytes(reader_.getBytes()); });
  return blob_ref(*object_, guarded(*object_, [&] { return reader_.getBytesBlob(); })).bytes;
}

SequenceReader ValueReader::as_sequence() const {
  const Which w = which();
  if (w == Which::INDEXED_SET || w == Which::INDEXED_FROZENSET) return as_indexed_set(w);
  if (w != Which::LIST && w != Which::TUPLE && w != Which::SET && w != Which::FROZENSET) {
    throw InvalidArgument(std::string("the value is a ") + to_string(kind_of(w)) + ", not a sequence");
  }
  if (depth_ >= kMaxDepth) {
    throw object_->corrupt("containers nested deeper than " + std::to_string(kMaxDepth));
  }
  const auto list = guarded(*object_, [&] {
    switch (w) {
      case Which::LIST: return reader_.getList();
      case Which::TUPLE: return reader_.getTuple();
      case Which::SET: return reader_.getSet();
      default: return reader_.getFrozenset();
    }
  });
  return SequenceReader(*object_, list, depth_ + 1);
}

SequenceReader ValueReader::as_indexed_set(Which w) const {
  if (depth_ >= kMaxDepth) {
    throw object_->corrupt("containers nested deeper than " + std::to_string(kMaxDepth));
  }
  return guarded(*object_, [&] {
    const auto set = w == Which::INDEXED_SET ? reader_.getIndexedSet() : reader_.getIndexedFrozenset();
    const auto items = set.getItems();
    return SequenceReader(*object_, items, depth_ + 1,
                          HashIndexReader(*object_, set.getIndex(), set.getUnhashed(), items.size()));
  });
}

DictReader ValueReader::as_dict() const {
  expect(ValueKind::dict, kind());
  if (depth_ >= kMaxDepth) {
    throw object_->corrupt("containers nested deeper than " + std::to_string(kMaxDepth));
  }
  return guarded(*object_, [&] {
    const auto dict = reader_.getDict();
    const auto keys = dict.getKeys();
    const auto values = dict.getValues();
    if (keys.size() != values.size()) {
      throw object_->corrupt("dict has " + std::to_string(keys.size()) + " keys but " +
                             std::to_string(values.size()) + " values");
    }
    return DictReader(*object_, keys, values, depth_ + 1,
                      HashIndexReader(*object_, dict.getIndex(), dict.getUnhashed(), keys.size()));
  });
}

ArrayView ValueReader::as_ndarray() const {
  expect(ValueKind::ndarray, kind());
  ArrayView view;
  std::uint32_t child = 0;
  guarded(*object_, [&] {
    const auto array = reader_.getNdarray();
    view.dtype = text_view(array.getDtype());
    const auto shape = array.getShape();
    const auto strides = array.getStrides();
    if (shape.size() != strides.size() || shape.size() > kMaxDims) {
      throw object_->corrupt("array has " + std::to_string(shape.size()) + " dimensions and " +
                             std::to_string(strides.size()) + " strides (at most " + std::to_string(kMaxDims) + ")");
    }
    for (const std::uint64_t n : shape) view.shape.push_back(n);
    for (const std::int64_t s : strides) view.strides.push_back(s);
    child = array.getChild();
    view.offset = array.getOffset();
  });
  const std::optional<std::uint64_t> itemsize = dtype_itemsize(view.dtype);
  if (!itemsize) throw object_->corrupt("array dtype " + quote(view.dtype) + " is not one shoal reads");
  view.itemsize = *itemsize;
  const std::optional<ArrayExtent> extent = array_extent(view.itemsize, view.shape, view.strides);
  if (!extent) throw object_->corrupt("array shape and strides overflow");
  view.blob = object_->child(child, BlockKind::blob);
  if (!array_fits(*extent, view.offset, view.blob.bytes.size())) {
    throw object_->corrupt("array elements reach outside child " + std::to_string(child) + " (" +
                           std::to_string(view.blob.bytes.size()) + " bytes)");
  }
  return view;
}

BlobView ValueReader::as_blob() const {
  expect(ValueKind::blob, kind());
  return blob_ref(*object_, guarded(*object_, [&] { return reader_.getBlob(); }));
}

PickledView ValueReader::as_pickled() const {
  expect(ValueKind::pickled, kind());
  const auto pickled = guarded(*object_, [&] { return reader_.getPickled(); });
  const auto payload = pickled.getPayload();  // a group: no pointer is followed
  PickledView view;
  switch (guarded(*object_, [&] { return payload.which(); })) {
    case schema::Pickled::Payload::INLINE:
      view.payload = guarded(*object_, [&] { return data_bytes(payload.getInline()); });
      break;
    case schema::Pickled::Payload::BLOB:
      view.payload = blob_ref(*object_, guarded(*object_, [&] { return payload.getBlob(); })).bytes;
      break;
    default:
      throw object_->corrupt("pickle payload of unknown kind (written by a newer shoal?)");
  }
  const auto buffers = guarded(*object_, [&] { return pickled.getBuffers(); });
  view.buffers.reserve(buffers.size());
  for (const auto ref : buffers) view.buffers.push_back(blob_ref(*object_, ref));
  const auto channels = guarded(*object_, [&] { return pickled.getChannels(); });
  view.channels.reserve(channels.size());
  for (const std::uint32_t index : channels) view.channels.push_back(object_->child(index, BlockKind::channel).block);
  return view;
}

Handle ValueReader::as_channel() const {
  expect(ValueKind::channel, kind());
  const std::uint32_t index = guarded(*object_, [&] { return reader_.getChannel().getChild(); });
  return object_->child(index, BlockKind::channel).block;
}

ViewRef ValueReader::as_view() const {
  expect(ValueKind::view, kind());
  ViewRef view;
  std::uint32_t child = 0;
  guarded(*object_, [&] {
    const auto ref = reader_.getView();
    child = ref.getChild();
    const auto path = ref.getPath();
    if (path.size() > kMaxDepth) {
      throw object_->corrupt("a view's path of " + std::to_string(path.size()) + " steps is deeper than " +
                             std::to_string(kMaxDepth));
    }
    view.path.reserve(path.size());
    for (const std::uint32_t step : path) view.path.push_back(step);
  });
  view.object = object_->child(child, BlockKind::object).block;
  return view;
}

std::optional<std::uint64_t> ValueReader::stable_hash() const {
  kind();  // refuses a member newer than this build
  auto blob_bytes = [&](schema::BlobRef::Reader ref) { return blob_ref(*object_, ref).bytes; };
  return guarded(*object_, [&] { return stable_hash_of(reader_, blob_bytes, kMaxDepth - depth_); });
}

// ------------------------------------------------------- hash index -----

HashIndexReader::HashIndexReader(const FrozenObject& object, capnp::List<std::uint64_t>::Reader slots,
                                 capnp::List<std::uint32_t>::Reader unhashed, std::uint64_t entries)
    : object_(&object), slots_(slots), unhashed_(unhashed), entries_(entries) {
  if (!std::has_single_bit(std::uint64_t{slots.size()}) && slots.size() != 0) {
    throw object.corrupt("hash index of " + std::to_string(slots.size()) + " slots (not a power of two)");
  }
  if (unhashed.size() > entries) {
    throw object.corrupt("hash index lists " + std::to_string(unhashed.size()) + " unhashed entries of " +
                         std::to_string(entries));
  }
}

void HashIndexReader::throw_bad_entry(std::uint64_t entry) const {
  throw object_->corrupt("hash index names entry " + std::to_string(entry) + " of " + std::to_string(entries_));
}

std::uint32_t HashIndexReader::unhashed(std::size_t i) const {
  if (i >= unhashed_.size()) {
    throw InvalidArgument("unhashed entry " + std::to_string(i) + " out of range of " + std::to_string(unhashed_.size()));
  }
  const std::uint32_t entry = unhashed_[static_cast<unsigned>(i)];
  if (entry >= entries_) throw_bad_entry(entry);
  return entry;
}

// ----------------------------------------------- sequence and dict -----

ValueReader SequenceReader::operator[](std::size_t index) const {
  if (index >= list_.size()) {
    throw InvalidArgument("index " + std::to_string(index) + " out of range of " + std::to_string(list_.size()));
  }
  // Cap'n Proto checks its nesting limit here, on the element.
  return guarded(*object_, [&] { return ValueReader(*object_, list_[static_cast<unsigned>(index)], depth_); });
}

ValueReader DictReader::key(std::size_t index) const {
  if (index >= keys_.size()) {
    throw InvalidArgument("entry " + std::to_string(index) + " out of range of " + std::to_string(keys_.size()));
  }
  return guarded(*object_, [&] { return ValueReader(*object_, keys_[static_cast<unsigned>(index)], depth_); });
}

ValueReader DictReader::value(std::size_t index) const {
  if (index >= values_.size()) {
    throw InvalidArgument("entry " + std::to_string(index) + " out of range of " + std::to_string(values_.size()));
  }
  return guarded(*object_, [&] { return ValueReader(*object_, values_[static_cast<unsigned>(index)], depth_); });
}

}  // namespace shoal::heap
