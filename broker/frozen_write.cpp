// frozen_write.cpp — building a frozen object: Freezer and the writers.
//
// Main entry point: Freezer::publish(), which allocates the object block
// with its child table (Holder::allocate_object: the object takes one
// reference on each child) and copies the message into the body in
// Cap'n Proto's standard stream framing.
//
// Every setter checks its input before writing anything to the message, and
// everything it checks is what the reader (frozen_read.cpp) checks again on
// the way out: a published object is always readable.
#include <algorithm>
#include <bit>
#include <memory>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include <capnp/serialize.h>

#include "frozen_key_hash.hpp"
#include "shoal/errors.hpp"
#include "shoal/freezer.hpp"

namespace shoal::heap {

using layout::BlockKind;

namespace {

static_assert(std::endian::native == std::endian::little,
              "the segment table is written with native stores; shoal targets little-endian machines");

std::span<const std::byte> as_bytes(std::string_view text) { return std::as_bytes(std::span(text)); }

void check_inline_size(std::size_t size, const char* what) {
  if (size > kMaxElements) {
    throw InvalidArgument(std::string(what) + " of " + std::to_string(size) + " bytes exceeds the limit of " +
                          std::to_string(kMaxElements));
  }
}

// The standard framing of a Cap'n Proto message ("stream" encoding): a
// table of 32-bit words — the segment count minus one, then each segment's
// size in words, padded to a whole word — then the segments in order.
void write_framed(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments, std::span<std::byte> out) {
  const std::size_t table_words = segments.size() / 2 + 1;
  std::vector<std::uint32_t> table(table_words * 2, 0);
  table[0] = static_cast<std::uint32_t>(segments.size() - 1);
  for (std::size_t i = 0; i < segments.size(); ++i) table[i + 1] = static_cast<std::uint32_t>(segments[i].size());
  std::size_t at = table.size() * sizeof(std::uint32_t);
  std::memcpy(out.data(), table.data(), at);
  for (const auto& segment : segments) {
    const std::size_t bytes = segment.size() * sizeof(capnp::word);
    std::memcpy(out.data() + at, segment.begin(), bytes);
    at += bytes;
  }
}

}  // namespace

// ------------------------------------------------------- scratch space -----
//
// A message spread over several segments reads slower: Cap'n Proto's reader
// takes a mutex each time it follows a pointer into a segment other than the
// first. A MallocMessageBuilder starts with a small first segment (8 KiB) and
// adds segments as the message grows, so a dict of a thousand items would
// span four. Instead, each thread keeps one 1 MiB first segment that its
// Freezers reuse (Cap'n Proto's own idiom for building many messages: the
// builder zeroes what it used when it is destroyed). calloc'd memory costs
// only the pages a message touches. Messages over 1 MiB still span segments
// and read about half as fast (a 100,000-item dict: 46 ns per item against
// 25); copying them into one segment at publish() doubled their freezing
// time when we tried, so we don't.

namespace {

constexpr std::size_t kScratchWords = std::size_t{1} << 17;  // 1 MiB

struct ThreadScratch {
  capnp::word* words = nullptr;  // zeroed, kScratchWords long; freed with the thread
  bool leased = false;
  ~ThreadScratch() { std::free(words); }
};

thread_local ThreadScratch t_scratch;

}  // namespace

Freezer::ScratchLease::ScratchLease() {
  if (t_scratch.leased) return;  // a second Freezer on this thread: Cap'n Proto allocates
  if (t_scratch.words == nullptr) {
    t_scratch.words = static_cast<capnp::word*>(std::calloc(kScratchWords, sizeof(capnp::word)));
    if (t_scratch.words == nullptr) return;
  }
  t_scratch.leased = true;
  words_ = kj::arrayPtr(t_scratch.words, kScratchWords);
}

Freezer::ScratchLease::~ScratchLease() {
  if (words_.size() != 0) t_scratch.leased = false;
}

// ------------------------------------------------------------ Freezer -----

Freezer::Freezer(Holder& holder, Indexing indexing) : holder_(holder), indexing_(indexing) {
  if (scratch_.words().size() != 0) {
    message_.emplace(scratch_.words());
  } else {
    message_.emplace();
  }
}

Freezer::~Freezer() = default;  // children_ releases this Freezer's references

void Freezer::check_usable() const {
  if (published_) throw InvalidArgument("this Freezer has published its object already");
}

ValueWriter Freezer::root() {
  check_usable();
  if (root_taken_) throw InvalidArgument("Freezer::root() called twice");
  root_taken_ = true;
  return ValueWriter(*this, message_->initRoot<schema::Frozen>().initValue(), 0);
}

BlobSlice Freezer::copy_to_blob(std::span<const std::byte> bytes) {
  check_usable();
  HeldBlock blob = holder_.allocate(bytes.size(), BlockKind::blob);
  if (!bytes.empty()) std::memcpy(blob.bytes().data(), bytes.data(), bytes.size());
  const std::uint32_t index = add_new_child(std::move(blob), BlockKind::blob);
  return BlobSlice{index, 0, bytes.size()};
}

BlobSlice Freezer::reference(const HeldBlock& blob) {
  if (!blob) throw InvalidArgument("cannot reference an empty HeldBlock");
  const std::uint32_t index = add_child(blob.handle(), BlockKind::blob);
  return BlobSlice{index, 0, children_[index].bytes};
}

namespace {

void check_range(const HeldBlock& blob, std::uint64_t offset, std::uint64_t length) {
  if (!blob) throw InvalidArgument("cannot reference an empty HeldBlock");
  const std::uint64_t size = blob.bytes().size();
  if (offset > size || length > size - offset) {  // checked first: a bad range adds no child
    throw InvalidArgument("range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                          ") is outside the blob of " + std::to_string(size) + " bytes");
  }
}

InvalidArgument wrong_kind(Handle h, BlockKind kind, BlockKind expected) {
  return InvalidArgument("block " + to_string(h) + " is of kind " + std::to_string(static_cast<int>(kind)) +
                         ", expected " + std::to_string(static_cast<int>(expected)));
}

}  // namespace

BlobSlice Freezer::reference(const HeldBlock& blob, std::uint64_t offset, std::uint64_t length) {
  check_range(blob, offset, length);
  return BlobSlice{add_child(blob.handle(), BlockKind::blob), offset, length};
}

BlobSlice Freezer::reference(HeldBlock&& blob, std::uint64_t offset, std::uint64_t length) {
  HeldBlock ours = std::move(blob);  // ours whatever happens: dropped on an error
  check_range(ours, offset, length);
  if (const auto known = check_held_child(ours, BlockKind::blob)) {
    // A borrowed child becomes one the Freezer holds.
    if (!children_[*known].block) children_[*known].block = std::move(ours);
    return BlobSlice{*known, offset, length};
  }
  return BlobSlice{add_new_child(std::move(ours), BlockKind::blob), offset, length};
}

BlobSlice Freezer::borrow(const HeldBlock& blob, std::uint64_t offset, std::uint64_t length) {
  check_range(blob, offset, length);
  if (const auto known = check_held_child(blob, BlockKind::blob)) return BlobSlice{*known, offset, length};
  if (children_.size() >= 0xFFFFFFFFu) throw InvalidArgument("too many children for one object");
  const auto index = static_cast<std::uint32_t>(children_.size());
  child_by_offset_[blob.handle().offset] = index;
  children_.push_back(Child{HeldBlock{}, blob.handle(), BlockKind::blob, blob.bytes().size()});
  return BlobSlice{index, offset, length};
}

std::optional<std::uint32_t> Freezer::known_child(Handle h, BlockKind expected) const {
  const auto found = child_by_offset_.find(h.offset);
  if (found == child_by_offset_.end() || children_[found->second].handle != h) return std::nullopt;
  const Child& known = children_[found->second];
  if (known.kind != expected) throw wrong_kind(h, known.kind, expected);
  return found->second;
}

std::uint32_t Freezer::add_child(Handle h, BlockKind expected) {
  check_usable();
  if (const auto known = known_child(h, expected)) {
    // A borrowed child becomes one the Freezer holds, as referencing promises.
    if (!children_[*known].block) children_[*known].block = holder_.retain(h);
    return *known;
  }
  const BlockInfo info = holder_.arena().block_info(h);  // InvalidHandle if not live
  if (info.kind != expected) throw wrong_kind(h, info.kind, expected);
  // Our own reference, so the child cannot go away before publish() even
  // if the caller lets go of theirs.
  return add_new_child(holder_.retain(h), expected);
}

// A child the caller holds a reference on is live, so its kind can be read
// without the lock. Its index if the object has it already.
std::optional<std::uint32_t> Freezer::check_held_child(const HeldBlock& blob, BlockKind expected) const {
  check_usable();
  if (&blob.holder()->arena() != &holder_.arena()) {
    throw InvalidArgument("block " + to_string(blob.handle()) + " is held in another arena");
  }
  if (const auto known = known_child(blob.handle(), expected)) return known;
  const BlockKind kind = blob.kind();
  if (kind != expected) throw wrong_kind(blob.handle(), kind, expected);
  return std::nullopt;
}

std::uint32_t Freezer::add_new_child(HeldBlock block, BlockKind kind) {
  if (children_.size() >= 0xFFFFFFFFu) throw InvalidArgument("too many children for one object");
  const auto index = static_cast<std::uint32_t>(children_.size());
  const std::uint64_t bytes = block.bytes().size();
  const Handle handle = block.handle();
  child_by_offset_[handle.offset] = index;
  children_.push_back(Child{std::move(block), handle, kind, bytes});
  return index;
}

const Freezer::Child& Freezer::child(std::uint32_t index) const {
  if (index >= children_.size()) {
    throw InvalidArgument("child " + std::to_string(index) + " does not exist (the object has " +
                          std::to_string(children_.size()) + ")");
  }
  return children_[index];
}

std::uint64_t Freezer::message_bytes() {
  return capnp::computeSerializedSizeInWords(*message_) * sizeof(capnp::word);
}

// Builds the hash index of every dict and set written (Indexing::hashed).
// Keys are complete by now, so each key's stable hash is read back from
// the message itself, by the walk the reader uses too (frozen_key_hash.hpp).
void Freezer::build_indexes() {
  auto blob_bytes = [&](schema::BlobRef::Reader ref) -> std::span<const std::byte> {
    const Child& c = child(ref.getChild());
    return c.block.bytes().subspan(ref.getOffset(), ref.getLength());  // checked when written
  };
  std::vector<std::optional<std::uint64_t>> hashes;
  auto index_of = [&](capnp::List<schema::Value>::Reader keys, std::uint32_t depth) {
    hashes.clear();
    hashes.reserve(keys.size());
    for (const auto key : keys) hashes.push_back(stable_hash_of(key, blob_bytes, kMaxDepth - depth));
    return build_hash_table(hashes);
  };
  auto write = [](const HashTable& table, auto index, auto unhashed) {
    for (std::size_t i = 0; i < table.slots.size(); ++i) index.set(static_cast<unsigned>(i), table.slots[i]);
    for (std::size_t i = 0; i < table.unhashed.size(); ++i) unhashed.set(static_cast<unsigned>(i), table.unhashed[i]);
  };
  for (auto& [dict, depth] : dicts_to_index_) {
    const HashTable table = index_of(dict.asReader().getKeys(), depth);
    write(table, dict.initIndex(static_cast<unsigned>(table.slots.size())),
          dict.initUnhashed(static_cast<unsigned>(table.unhashed.size())));
  }
  for (auto& [set, depth] : sets_to_index_) {
    const HashTable table = index_of(set.asReader().getItems(), depth);
    write(table, set.initIndex(static_cast<unsigned>(table.slots.size())),
          set.initUnhashed(static_cast<unsigned>(table.unhashed.size())));
  }
  dicts_to_index_.clear();
  sets_to_index_.clear();
}

// Cap'n Proto's reader takes a mutex to follow a pointer into any segment
// but the first, which a long-lived view pays on every lookup: an indexed
// object is copied into one segment (its freezing costs about twice as
// much; it is read far more often than it is made).
void Freezer::merge_segments() {
  if (message_->getSegmentsForOutput().size() <= 1) return;
  const std::uint64_t words = capnp::computeSerializedSizeInWords(*message_);
  auto single = std::make_unique<capnp::MallocMessageBuilder>(static_cast<unsigned>(std::min<std::uint64_t>(words + 8, 0xFFFFFFF0u)));
  single->setRoot(message_->getRoot<schema::Frozen>().asReader());
  merged_ = std::move(single);
}

HeldBlock Freezer::publish(std::uint32_t site, bool checksum) {
  check_usable();
  if (!root_taken_) throw InvalidArgument("Freezer::publish() before root() was set");
  if (indexing_ == Indexing::hashed) {
    build_indexes();
    merge_segments();
  }
  capnp::MessageBuilder& message = merged_ ? static_cast<capnp::MessageBuilder&>(*merged_) : *message_;
  const auto segments = message.getSegmentsForOutput();
  const std::uint64_t bytes = capnp::computeSerializedSizeInWords(segments) * sizeof(capnp::word);

  std::vector<Handle> handles;
  handles.reserve(children_.size());
  for (const Child& c : children_) handles.push_back(c.handle);
  HeldBlock object = holder_.allocate_object(handles, bytes, site);  // the object retains every child
  if (object.bytes().size() < bytes) throw InvalidArgument("object body smaller than asked for");
  write_framed(segments, object.bytes());
  if (checksum) holder_.arena().seal_checksum(object.handle());

  published_ = true;
  child_by_offset_.clear();
  children_.clear();  // our references go; the object keeps its own
  return object;
}

// -------------------------------------------------------- ValueWriter -----

void ValueWriter::set_none() { builder_.setNone(); }

void ValueWriter::set_bool(bool value) { builder_.setBoolean(value); }

void ValueWriter::set_int(std::int64_t value) { builder_.setInt64(value); }

void ValueWriter::set_big_int(bool negative, std::span<const std::uint8_t> magnitude) {
  std::size_t size = magnitude.size();
  while (size > 0 && magnitude[size - 1] == 0) --size;  // canonical: no trailing (most significant) zeros
  magnitude = magnitude.first(size);
  if (size <= 8) {
    std::uint64_t u = 0;
    for (std::size_t i = size; i-- > 0;) u = (u << 8) | magnitude[i];
    if (!negative && u <= static_cast<std::uint64_t>(INT64_MAX)) return set_int(static_cast<std::int64_t>(u));
    if (negative && u <= std::uint64_t{1} << 63) {
      return set_int(u == 0 ? 0 : -static_cast<std::int64_t>(u - 1) - 1);  // -u without overflow at 2^63
    }
  }
  check_inline_size(size, "a big int");
  auto big = builder_.initBigInt();
  big.setNegative(negative);
  auto bytes = big.initMagnitude(static_cast<unsigned>(size));
  std::memcpy(bytes.begin(), magnitude.data(), size);
}

void ValueWriter::set_float(double value) { builder_.setFloat64(value); }

void ValueWriter::set_text(std::string_view utf8) {
  if (!is_valid_utf8(utf8)) throw InvalidArgument("text is not valid UTF-8");
  if (utf8.size() > kInlineMax) {
    write_blob_ref(builder_.initTextBlob(), freezer_->copy_to_blob(as_bytes(utf8)));
    return;
  }
  auto text = builder_.initText(static_cast<unsigned>(utf8.size()));
  if (!utf8.empty()) std::memcpy(text.begin(), utf8.data(), utf8.size());
}

void ValueWriter::set_bytes(std::span<const std::byte> bytes) {
  if (bytes.size() > kInlineMax) {
    write_blob_ref(builder_.initBytesBlob(), freezer_->copy_to_blob(bytes));
    return;
  }
  auto data = builder_.initBytes(static_cast<unsigned>(bytes.size()));
  if (!bytes.empty()) std::memcpy(data.begin(), bytes.data(), bytes.size());
}

void ValueWriter::check_container_allowed(std::size_t size) const {
  freezer_->check_usable();
  if (depth_ >= kMaxDepth) {
    throw InvalidArgument("value nested deeper than " + std::to_string(kMaxDepth) + " containers");
  }
  if (size > kMaxElements) {
    throw InvalidArgument("container of " + std::to_string(size) + " elements exceeds the limit of " +
                          std::to_string(kMaxElements));
  }
}

capnp::List<schema::Value>::Builder ValueWriter::init_sequence(ValueKind kind, std::size_t size) {
  check_container_allowed(size);
  const auto n = static_cast<unsigned>(size);
  switch (kind) {
    case ValueKind::list: return builder_.initList(n);
    case ValueKind::tuple: return builder_.initTuple(n);
    case ValueKind::set: return builder_.initSet(n);
    case ValueKind::frozenset: return builder_.initFrozenset(n);
    default: throw InvalidArgument(std::string("not a sequence kind: ") + to_string(kind));
  }
}

SequenceWriter ValueWriter::set_list(std::size_t size) {
  return SequenceWriter(*freezer_, init_sequence(ValueKind::list, size), depth_ + 1);
}
SequenceWriter ValueWriter::set_tuple(std::size_t size) {
  return SequenceWriter(*freezer_, init_sequence(ValueKind::tuple, size), depth_ + 1);
}
SequenceWriter ValueWriter::set_set(std::size_t size) { return init_set(ValueKind::set, size); }
SequenceWriter ValueWriter::set_frozenset(std::size_t size) { return init_set(ValueKind::frozenset, size); }

SequenceWriter ValueWriter::init_set(ValueKind kind, std::size_t size) {
  check_container_allowed(size);
  auto set = kind == ValueKind::set ? builder_.initIndexedSet() : builder_.initIndexedFrozenset();
  auto items = set.initItems(static_cast<unsigned>(size));
  if (freezer_->indexing_ == Freezer::Indexing::hashed) freezer_->sets_to_index_.push_back({set, depth_ + 1});
  return SequenceWriter(*freezer_, items, depth_ + 1);
}

DictWriter ValueWriter::set_dict(std::size_t size) {
  check_container_allowed(size);
  auto dict = builder_.initDict();
  dict.initKeys(static_cast<unsigned>(size));
  dict.initValues(static_cast<unsigned>(size));
  if (freezer_->indexing_ == Freezer::Indexing::hashed) freezer_->dicts_to_index_.push_back({dict, depth_ + 1});
  return DictWriter(*freezer_, dict, depth_ + 1);
}

void ValueWriter::set_ndarray(const ArrayLayout& layout, const BlobSlice& data, std::uint64_t origin) {
  const std::optional<std::uint64_t> itemsize = dtype_itemsize(layout.dtype);
  if (!itemsize) throw InvalidArgument("dtype '" + std::string(layout.dtype) + "' is not one shoal freezes");
  const std::optional<ArrayExtent> extent = array_extent(*itemsize, layout.shape, layout.strides);
  if (!extent) {
    throw InvalidArgument("array shape and strides are inconsistent, overflow, or exceed " +
                          std::to_string(kMaxDims) + " dimensions");
  }
  const Freezer::Child& child = freezer_->child(data.child);
  if (child.kind != BlockKind::blob || data.offset > child.bytes || data.length > child.bytes - data.offset) {
    throw InvalidArgument("array data is not a range of a blob child");
  }
  // Element [0, ...] sits `origin` bytes into `data`; every element must too.
  if (!array_fits(*extent, origin, data.length)) throw InvalidArgument("array elements reach outside their data");

  auto array = builder_.initNdarray();
  auto dtype = array.initDtype(static_cast<unsigned>(layout.dtype.size()));
  std::memcpy(dtype.begin(), layout.dtype.data(), layout.dtype.size());
  auto shape = array.initShape(static_cast<unsigned>(layout.shape.size()));
  for (std::size_t d = 0; d < layout.shape.size(); ++d) shape.set(static_cast<unsigned>(d), layout.shape[d]);
  auto strides = array.initStrides(static_cast<unsigned>(layout.strides.size()));
  for (std::size_t d = 0; d < layout.strides.size(); ++d) strides.set(static_cast<unsigned>(d), layout.strides[d]);
  array.setChild(data.child);
  array.setOffset(data.offset + origin);
}

void ValueWriter::set_blob(const BlobSlice& data) { write_blob_ref(builder_.initBlob(), data); }

void ValueWriter::set_pickled(std::span<const std::byte> payload, std::span<const BlobSlice> buffers,
                              std::span<const Handle> channels) {
  check_inline_size(buffers.size(), "a list of pickle buffers");
  check_inline_size(channels.size(), "a list of pickled channels");
  // Blobs first: a failure (ArenaFull) then leaves the message untouched.
  std::optional<BlobSlice> payload_blob;
  if (payload.size() > kInlineMax) payload_blob = freezer_->copy_to_blob(payload);
  for (const BlobSlice& b : buffers) check_slice(b);

  auto pickled = builder_.initPickled();
  if (payload_blob) {
    write_blob_ref(pickled.getPayload().initBlob(), *payload_blob);
  } else {
    auto data = pickled.getPayload().initInline(static_cast<unsigned>(payload.size()));
    if (!payload.empty()) std::memcpy(data.begin(), payload.data(), payload.size());
  }
  auto list = pickled.initBuffers(static_cast<unsigned>(buffers.size()));
  for (std::size_t i = 0; i < buffers.size(); ++i) write_blob_ref(list[static_cast<unsigned>(i)], buffers[i]);
  if (!channels.empty()) {
    auto refs = pickled.initChannels(static_cast<unsigned>(channels.size()));
    for (std::size_t i = 0; i < channels.size(); ++i) {
      refs.set(static_cast<unsigned>(i), freezer_->add_child(channels[i], channel_kind(channels[i])));
    }
  }
}

void ValueWriter::set_view(Handle object, std::span<const std::uint32_t> path) {
  if (path.size() > kMaxDepth) {
    throw InvalidArgument("a view's path of " + std::to_string(path.size()) + " steps is deeper than " +
                          std::to_string(kMaxDepth));
  }
  const std::uint32_t index = freezer_->add_child(object, BlockKind::object);
  auto view = builder_.initView();
  view.setChild(index);
  auto steps = view.initPath(static_cast<unsigned>(path.size()));
  for (std::size_t i = 0; i < path.size(); ++i) steps.set(static_cast<unsigned>(i), path[i]);
}

// A channel reference names a channel or one of its ends.
BlockKind ValueWriter::channel_kind(Handle channel) const {
  const BlockKind kind = freezer_->holder_.arena().block_kind(channel);  // InvalidHandle if not live
  return kind == BlockKind::channel_end ? kind : BlockKind::channel;
}

void ValueWriter::set_channel(Handle channel) {
  const std::uint32_t index = freezer_->add_child(channel, channel_kind(channel));
  builder_.initChannel().setChild(index);
}

// `slice` must be a range of a blob child of this Freezer.
void ValueWriter::check_slice(const BlobSlice& slice) const {
  const Freezer::Child& child = freezer_->child(slice.child);
  if (child.kind != BlockKind::blob) {
    throw InvalidArgument("child " + std::to_string(slice.child) + " is not a blob");
  }
  if (slice.offset > child.bytes || slice.length > child.bytes - slice.offset) {
    throw InvalidArgument("blob range outside child " + std::to_string(slice.child));
  }
}

void ValueWriter::write_blob_ref(schema::BlobRef::Builder ref, const BlobSlice& slice) const {
  check_slice(slice);
  ref.setChild(slice.child);
  ref.setOffset(slice.offset);
  ref.setLength(slice.length);
}

// ----------------------------------------------- sequence and dict -----

ValueWriter SequenceWriter::operator[](std::size_t index) const {
  if (index >= list_.size()) {
    throw InvalidArgument("index " + std::to_string(index) + " out of range of " + std::to_string(list_.size()));
  }
  auto list = list_;  // a Builder is a cheap handle; indexing one is not const
  return ValueWriter(*freezer_, list[static_cast<unsigned>(index)], depth_);
}

ValueWriter DictWriter::key(std::size_t index) const {
  if (index >= keys_.size()) {
    throw InvalidArgument("entry " + std::to_string(index) + " out of range of " + std::to_string(keys_.size()));
  }
  auto keys = keys_;
  return ValueWriter(*freezer_, keys[static_cast<unsigned>(index)], depth_);
}

ValueWriter DictWriter::value(std::size_t index) const {
  if (index >= values_.size()) {
    throw InvalidArgument("entry " + std::to_string(index) + " out of range of " + std::to_string(values_.size()));
  }
  auto values = values_;
  return ValueWriter(*freezer_, values[static_cast<unsigned>(index)], depth_);
}

}  // namespace shoal::heap
