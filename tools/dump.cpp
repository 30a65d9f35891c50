// dump.cpp — `shoal dump NAME HANDLE`: one block, decoded.
//
// A frozen object is read in place with the core's FrozenObject (frozen.hpp)
// on the read-only mapping: every reference is bounds-checked, any damage
// becomes CorruptObject, never a crash (the reader is fuzzed). Values are
// rendered Python-style for humans and as typed JSON nodes for scripts;
// buffers (bytes, arrays, blobs, pickles) are summarised — size, dtype,
// shape, the first bytes — never printed whole, and containers stop after
// --max-items elements. With --json the Cap'n Proto message itself is added
// as Cap'n Proto's own JSON codec writes it (capnp/compat/json.h), when the
// build has that codec.
#include <capnp/serialize.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

#include "commands.hpp"
#include "views.hpp"
#include "shoal/array_blob.hpp"
#include "shoal/errors.hpp"
#include "shoal/frozen.hpp"
#include "shoal/size.hpp"
#if SHOAL_HAVE_CAPNP_JSON
#include <capnp/compat/json.h>
#endif

namespace shoal::cli {
namespace {

using heap::FrozenObject;
using heap::ValueReader;
using heap::ValueKind;

constexpr std::size_t kFirstBytes = 16;

std::string hex_bytes(std::span<const std::byte> bytes) {
  std::string text;
  char cell[4];
  for (std::size_t i = 0; i < bytes.size() && i < kFirstBytes; ++i) {
    std::snprintf(cell, sizeof cell, "%02x", std::to_integer<unsigned>(bytes[i]));
    if (!text.empty()) text += ' ';
    text += cell;
  }
  return text;
}

std::string first_bytes_note(std::span<const std::byte> bytes) {
  std::string text = hex_bytes(bytes);
  if (bytes.size() > kFirstBytes) text += " ...";
  return text;
}

// Decimal digits of a little-endian magnitude (schoolbook division by 10);
// very large numbers are shown by size instead.
std::string big_int_text(const heap::BigIntView& v) {
  if (v.magnitude.size() > 512) return std::string(v.negative ? "-" : "") + "<integer of " + std::to_string(v.magnitude.size()) + " bytes>";
  std::vector<std::uint8_t> n(v.magnitude.begin(), v.magnitude.end());
  std::string digits;
  while (!n.empty()) {
    unsigned remainder = 0;
    for (std::size_t i = n.size(); i-- > 0;) {
      const unsigned value = remainder * 256 + n[i];
      n[i] = static_cast<std::uint8_t>(value / 10);
      remainder = value % 10;
    }
    digits.push_back(static_cast<char>('0' + remainder));
    while (!n.empty() && n.back() == 0) n.pop_back();
  }
  if (digits.empty()) digits = "0";
  if (v.negative) digits.push_back('-');
  return {digits.rbegin(), digits.rend()};
}

std::string quote(std::string_view text, std::size_t limit) {
  std::string out = "'";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown++ == limit) {
      out += "...";
      break;
    }
    switch (c) {
      case '\'': out += "\\'"; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned char>(c));
          out += esc;
        } else {
          out += c;
        }
    }
  }
  return out + "'";
}

std::string float_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

std::uint64_t array_nbytes(const heap::ArrayView& a) {
  std::uint64_t n = a.itemsize;
  for (std::uint64_t d : a.shape) n = d == 0 ? 0 : (n > ~std::uint64_t{0} / d ? ~std::uint64_t{0} : n * d);
  return n;
}

// The array's first bytes from element 0, inside its blob.
std::span<const std::byte> array_first_bytes(const heap::ArrayView& a) {
  if (a.offset >= a.blob.bytes.size()) return {};
  return a.blob.bytes.subspan(a.offset, std::min<std::uint64_t>(kFirstBytes, a.blob.bytes.size() - a.offset));
}

// The array `block` describes, if it is a blob flagged as describing its own
// (array_blob.hpp) with a header that checks out against `payload` (the
// block's, read once by the caller, who must read the array from it); a
// malformed one is shown as the plain bytes it is.
std::optional<heap::ArrayBlob> array_blob_in(std::span<const std::byte> payload, const BlockEntry& block) {
  if (block.kind != static_cast<std::uint32_t>(layout::BlockKind::blob) || (block.flags & layout::kArrayBlob) == 0) {
    return std::nullopt;
  }
  return heap::parse_array_blob(payload);
}

// Renders one value as text and as JSON; containers stop after max_items.
class Renderer {
 public:
  explicit Renderer(std::size_t max_items) : max_items_(max_items) {}

  std::string text(const ValueReader& v) {
    switch (v.kind()) {
      case ValueKind::none: return "None";
      case ValueKind::boolean: return v.as_bool() ? "True" : "False";
      case ValueKind::int64: return std::to_string(v.as_int64());
      case ValueKind::big_int: return big_int_text(v.as_big_int());
      case ValueKind::float64: return float_text(v.as_float64());
      case ValueKind::text: return quote(v.as_text(), 200);
      case ValueKind::bytes: {
        const auto b = v.as_bytes();
        return "bytes(" + std::to_string(b.size()) + " B: " + first_bytes_note(b) + ")";
      }
      case ValueKind::list: return sequence_text(v, "[", "]");
      case ValueKind::tuple: return sequence_text(v, "(", v.as_sequence().size() == 1 ? ",)" : ")");
      case ValueKind::set: return v.as_sequence().size() == 0 ? "set()" : sequence_text(v, "{", "}");
      case ValueKind::frozenset: return "frozenset(" + sequence_text(v, "{", "}") + ")";
      case ValueKind::dict: {
        const auto d = v.as_dict();
        std::string out = "{";
        for (std::size_t i = 0; i < d.size(); ++i) {
          if (i == max_items_) {
            out += ", ... (" + std::to_string(d.size() - i) + " more)";
            break;
          }
          out += (i ? ", " : "") + text(d.key(i)) + ": " + text(d.value(i));
        }
        return out + "}";
      }
      case ValueKind::ndarray: {
        const auto a = v.as_ndarray();
        return "ndarray(dtype='" + std::string(a.dtype) + "', shape=" + shape_text(a.shape) +
               ", nbytes=" + std::to_string(array_nbytes(a)) + ", blob " + to_string(a.blob.block) +
               ", first bytes: " + hex_bytes(array_first_bytes(a)) + ")";
      }
      case ValueKind::blob: {
        const auto b = v.as_blob();
        return "buffer(" + std::to_string(b.bytes.size()) + " B, blob " + to_string(b.block) +
               ", first bytes: " + first_bytes_note(b.bytes) + ")";
      }
      case ValueKind::pickled: {
        const auto p = v.as_pickled();
        return "pickled(" + std::to_string(p.payload.size()) + " B payload, " + std::to_string(p.buffers.size()) +
               " out-of-band buffers, first bytes: " + first_bytes_note(p.payload) + ")";
      }
      case ValueKind::channel: return "channel(" + to_string(v.as_channel()) + ")";
      case ValueKind::view: return "frozen view(object " + to_string(v.as_view().object) + ", path " + path_text(v.as_view().path) + ")";
    }
    return "?";
  }

  Json json(const ValueReader& v) {
    switch (v.kind()) {
      case ValueKind::none: return {{"type", "none"}};
      case ValueKind::boolean: return {{"type", "bool"}, {"value", v.as_bool()}};
      case ValueKind::int64: return {{"type", "int"}, {"value", v.as_int64()}};
      case ValueKind::big_int: return {{"type", "int"}, {"value", big_int_text(v.as_big_int())}};
      case ValueKind::float64: {
        const double f = v.as_float64();
        return {{"type", "float"}, {"value", std::isfinite(f) ? Json(f) : Json(float_text(f))}};
      }
      case ValueKind::text: {
        const auto t = v.as_text();  // UTF-8, checked by the reader
        const bool cut = t.size() > 4096;
        return {{"type", "str"}, {"length", t.size()}, {"value", cut ? std::string(cut_utf8(t, 4096)) : std::string(t)},
                {"truncated", cut}};
      }
      case ValueKind::bytes: {
        const auto b = v.as_bytes();
        return {{"type", "bytes"}, {"nbytes", b.size()}, {"first_bytes", hex_bytes(b)}};
      }
      case ValueKind::list:
      case ValueKind::tuple:
      case ValueKind::set:
      case ValueKind::frozenset: {
        const auto s = v.as_sequence();
        Json items = Json::array();
        for (std::size_t i = 0; i < s.size() && i < max_items_; ++i) items.push_back(json(s[i]));
        return {{"type", heap::to_string(v.kind())}, {"length", s.size()}, {"items", items},
                {"truncated", s.size() > max_items_}, {"indexed", !s.index().empty()}};
      }
      case ValueKind::dict: {
        const auto d = v.as_dict();
        Json items = Json::array();
        for (std::size_t i = 0; i < d.size() && i < max_items_; ++i) {
          items.push_back({{"key", json(d.key(i))}, {"value", json(d.value(i))}});
        }
        return {{"type", "dict"}, {"length", d.size()}, {"items", items}, {"truncated", d.size() > max_items_},
                {"indexed", !d.index().empty()}};
      }
      case ValueKind::ndarray: {
        const auto a = v.as_ndarray();
        return {{"type", "ndarray"},  {"dtype", std::string(a.dtype)}, {"shape", a.shape},
                {"strides", a.strides}, {"nbytes", array_nbytes(a)},     {"blob", to_string(a.blob.block)},
                {"offset", a.offset},   {"first_bytes", hex_bytes(array_first_bytes(a))}};
      }
      case ValueKind::blob: {
        const auto b = v.as_blob();
        return {{"type", "buffer"}, {"nbytes", b.bytes.size()}, {"blob", to_string(b.block)},
                {"first_bytes", hex_bytes(b.bytes)}};
      }
      case ValueKind::pickled: {
        const auto p = v.as_pickled();
        Json buffers = Json::array();
        for (const auto& b : p.buffers) buffers.push_back({{"nbytes", b.bytes.size()}, {"blob", to_string(b.block)}});
        return {{"type", "pickled"}, {"payload_bytes", p.payload.size()}, {"first_bytes", hex_bytes(p.payload)},
                {"buffers", buffers}};
      }
      case ValueKind::channel: return {{"type", "channel"}, {"handle", to_string(v.as_channel())}};
      case ValueKind::view: {
        const auto view = v.as_view();
        return {{"type", "frozen view"}, {"object", to_string(view.object)}, {"path", view.path}};
      }
    }
    return nullptr;
  }

 private:
  static std::string path_text(const std::vector<std::uint32_t>& path) {
    std::string out = "[";
    for (std::size_t i = 0; i < path.size(); ++i) out += (i ? ", " : "") + std::to_string(path[i]);
    return out + "]";
  }

  static std::string_view cut_utf8(std::string_view t, std::size_t limit) {
    std::size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(t[end]) & 0xC0) == 0x80) --end;  // not inside a character
    return t.substr(0, end);
  }

  std::string sequence_text(const ValueReader& v, const char* open, const char* close) {
    const auto s = v.as_sequence();
    std::string out = open;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (i == max_items_) {
        out += ", ... (" + std::to_string(s.size() - i) + " more)";
        break;
      }
      out += (i ? ", " : "") + text(s[i]);
    }
    return out + close;
  }

  std::size_t max_items_;
};

// The message as Cap'n Proto's JSON codec writes it (or why not).
Json capnp_message_json(const FrozenObject& object, std::string& error) {
#if SHOAL_HAVE_CAPNP_JSON
  try {
    const auto body = object.body();
    kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(body.data()),
                                          body.size() / sizeof(capnp::word));
    capnp::ReaderOptions options;
    options.traversalLimitInWords = std::max<std::uint64_t>(words.size() * 4, 1024);  // as FrozenObject
    options.nestingLimit = 1100;
    capnp::FlatArrayMessageReader reader(words, options);
    capnp::JsonCodec codec;
    codec.setMaxNestingDepth(2200);
    const kj::String text = codec.encode(reader.getRoot<schema::Frozen>());
    return Json::parse(text.cStr());
  } catch (const kj::Exception& e) {
    error = std::string("Cap'n Proto: ") + e.getDescription().cStr();
  } catch (const std::exception& e) {
    error = e.what();
  }
  return nullptr;
#else
  (void)object;
  error = "this build has no Cap'n Proto JSON codec (capnp-json)";
  return nullptr;
#endif
}

Handle parse_handle(const std::string& text, const Census& census, const std::string& arena) {
  const auto colon = text.find(':');
  auto number = [&](const std::string& part) {
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 19) {
      throw InvalidArgument("'" + text + "' is not a handle: use OFFSET:GENERATION or OFFSET, as `shoal objects` prints");
    }
    return std::stoull(part);
  };
  if (colon != std::string::npos) return {number(text.substr(0, colon)), number(text.substr(colon + 1))};
  const std::uint64_t offset = number(text);
  const BlockEntry* b = census.find(offset);
  if (b == nullptr) throw InvalidHandle("arena '" + arena + "': no live block at offset " + text);
  return b->handle;
}

}  // namespace

int run_dump(const std::string& name, const std::string& handle_text, std::size_t max_items, const ArenaOptions& open,
             bool as_json) {
  const auto arena = Arena::attach(name, Access::read_only, open);
  const Census census = take_census(*arena);
  const Handle handle = parse_handle(handle_text, census, name);
  const BlockEntry* block = census.find(handle.offset);
  if (block == nullptr || block->handle.generation != handle.generation) {
    throw InvalidHandle("arena '" + name + "': handle " + to_string(handle) + " names no live block (freed, or never was)");
  }
  const std::string site = census.sites.describe(block->site);
  const char* kind = block_kind_name(block->kind);
  Renderer render(max_items);
  Json doc = json_document();
  doc["arena"] = name;
  doc["handle"] = to_string(handle);
  doc["kind"] = kind;
  doc["size"] = block->requested;
  doc["refcount"] = block->refcount;
  doc["site"] = site_json(census, block->site);
  std::string text;
  Json message = nullptr;
  std::string message_error;

  if (block->kind == static_cast<std::uint32_t>(layout::BlockKind::object)) {
    const FrozenObject object(*arena, handle);  // InvalidHandle, CorruptObject
    const ValueReader root = object.root();
    if (as_json) {
      doc["value"] = render.json(root);
      message = capnp_message_json(object, message_error);
    } else {
      text = render.text(root);
    }
  } else if (block->kind == static_cast<std::uint32_t>(layout::BlockKind::channel)) {
    for (const ChannelEntry& c : census.channels) {
      if (c.handle == handle) {
        doc["value"] = {{"type", "channel"}, {"channel", channel_json(c, census)}};
        text = "channel: " + channel_state_name(c.state) + ", " + std::to_string(c.pending_items()) + " of " +
               std::to_string(c.capacity) + " slots pending (" + format_size(c.pending_bytes) + ", " +
               std::to_string(c.pending_inline) + " inline)";
      }
    }
  } else if (const auto payload = arena->payload(handle);  // bounds-checked by resolve
             const std::optional<heap::ArrayBlob> array = array_blob_in(payload, *block)) {
    // A blob describing its own array (an array sent whole): summarised as
    // an array in an object is.
    const auto first = payload.subspan(array->data_offset, std::min<std::uint64_t>(kFirstBytes, array->nbytes));
    doc["value"] = {{"type", "ndarray"},     {"dtype", array->dtype},        {"shape", array->shape},
                    {"nbytes", array->nbytes}, {"offset", array->data_offset}, {"first_bytes", hex_bytes(first)}};
    text = "ndarray(dtype='" + array->dtype + "', shape=" + shape_text(array->shape) +
           ", nbytes=" + std::to_string(array->nbytes) + ", first bytes: " + hex_bytes(first) + ")";
  } else {
    // raw or blob: bytes nobody has described; the first few, in hex.
    const auto bytes = arena->payload(handle);  // bounds-checked by resolve
    doc["value"] = {{"type", "buffer"}, {"nbytes", bytes.size()}, {"first_bytes", hex_bytes(bytes)}};
    text = std::string(kind) + " buffer, " + format_size(bytes.size()) + ": " + first_bytes_note(bytes);
  }

  if (as_json) {
    doc["message"] = message;
    doc["message_error"] = message_error.empty() ? Json(nullptr) : Json(message_error);
    doc["read"] = read_json(census.read, name);
    print_json(doc);
  } else {
    std::cout << to_string(handle) << "  " << kind << ", " << format_size(block->requested) << ", "
              << block->refcount << (block->refcount == 1 ? " ref" : " refs") << ", made at "
              << (site.empty() ? "unknown site" : site) << '\n'
              << text << '\n';
    print_read_note(std::cout, census.read, name);
  }
  return kExitOk;
}

}  // namespace shoal::cli
