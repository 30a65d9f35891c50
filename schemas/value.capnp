# value.capnp — the Cap'n Proto schema of a frozen object.
#
# A frozen object is one arena block of kind `object`: a child table (the
# handles of the blocks it holds a reference on, see include/shoal/layout.hpp)
# followed by its body, which is one Cap'n Proto message in the standard
# stream framing (segment table, then segments) whose root is `Frozen`.
# Anything that reads that framing — pycapnp, `capnp decode`, another
# language's runtime — can decode the body with this file alone.
#
# Buffers live in two places:
#   * inline, inside the message (`text`, `bytes`, `bigInt`, pickle payloads),
#     when they are at most shoal::heap::kInlineMax bytes (4 KiB);
#   * in child blocks ("blobs"), named by their index in the object's child
#     table (`BlobRef.child`), never by arena offset: the message then holds
#     no address at all, reads the same in every process, and a reader checks
#     a blob reference with one comparison (index < child count) before the
#     core validates the handle itself.
#
# Evolving this schema (the Cap'n Proto way):
#   * never renumber, retype or reuse a field or union member; add new ones
#     with the next number (the next free ordinal is noted at each struct);
#   * a reader that meets a union member newer than itself reports it as
#     corrupt content naming the member number, rather than guessing;
#   * the file id below never changes.
#
# Names avoid C++ macros and keywords (`none`, not `null`; `boolean`, not
# `bool`), so the generated code compiles everywhere.

@0x9413c5ba5c73ab05;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("shoal::schema");

# The root of every frozen object's message. A struct around the value so
# that object-wide facts (a memo table for shared or cyclic references, say)
# can be added later without touching Value. Next ordinal: @1.
struct Frozen {
  value @0 :Value;
}

# One Python-like value. Next ordinal: @18.
struct Value {
  union {
    none @0 :Void;
    boolean @1 :Bool;
    int64 @2 :Int64;
    bigInt @3 :BigInt;        # an integer outside the Int64 range
    float64 @4 :Float64;      # IEEE 754 bits as they are: NaN payloads, -0.0, infinities kept
    text @5 :Text;            # UTF-8, at most kInlineMax bytes
    bytes @6 :Data;           # at most kInlineMax bytes
    list @7 :List(Value);
    tuple @8 :List(Value);
    dict @9 :Dict;
    set @10 :List(Value);
    frozenset @11 :List(Value);
    ndarray @12 :NdArray;
    blob @13 :BlobRef;        # a raw buffer (a shoal.Buffer): bytes of a child blob
    pickled @14 :Pickled;     # an object with no native encoding
    channel @15 :ChannelRef;
    textBlob @16 :BlobRef;    # UTF-8 text longer than kInlineMax, in a child blob
    bytesBlob @17 :BlobRef;   # bytes longer than kInlineMax, in a child blob
  }
}

# Sign and magnitude. The magnitude is little-endian (byte 0 is the least
# significant), without trailing zero bytes, and never empty: one value has
# one encoding, and readers reject any other. Next ordinal: @2.
struct BigInt {
  negative @0 :Bool;
  magnitude @1 :Data;
}

# Ordered key/value pairs as two parallel lists of the same length: entry i
# is (keys[i], values[i]). Parallel lists store each Value inline in its
# list, where a list of entry structs would add two pointers per entry (15%
# more bytes for a dict of small items, and one more pointer to follow per
# key and per value). Readers reject lists of different lengths.
# Next ordinal: @2.
struct Dict {
  keys @0 :List(Value);
  values @1 :List(Value);
}

# A byte range of a child blob: bytes [offset, offset + length) of the
# payload of the block at `child` in the object's child table.
# Next ordinal: @3.
struct BlobRef {
  child @0 :UInt32;
  offset @1 :UInt64;
  length @2 :UInt64;
}

# An N-dimensional array, laid out as NumPy describes one. Its data is
# always in a child blob (64-byte aligned, zero-copy for the reader), even
# when small. Next ordinal: @5.
struct NdArray {
  # NumPy's type string with an explicit byte order: "<f8", ">i4", "|u1",
  # "<c16", "|b1", "|S10", "<U3", "|V16", "<M8[ns]", "<m8[s]". Object
  # arrays ("|O") are not frozen as arrays (they are pickled).
  dtype @0 :Text;
  shape @1 :List(UInt64);
  # Bytes between consecutive elements along each dimension, as NumPy's
  # strides; negative and zero strides are allowed. One per dimension.
  strides @2 :List(Int64);
  child @3 :UInt32;   # the blob holding the data, by child-table index
  offset @4 :UInt64;  # byte offset of element [0, 0, ...] in the blob's payload
}

# A pickle (protocol 5) and its out-of-band buffers, in the order the
# pickle's PickleBuffer references expect them; and the channels it refers
# to by persistent id i (the i-th entry: a child-table index of a block of
# kind `channel`), so that the object holds a reference on each while it is
# in flight. Next ordinal: @4.
struct Pickled {
  payload :union {
    inline @0 :Data;    # at most kInlineMax bytes
    blob @1 :BlobRef;   # a larger pickle
  }
  buffers @2 :List(BlobRef);
  channels @3 :List(UInt32);
}

# A channel, named by the child-table index of its block (of kind
# `channel`); the object holds a reference on it. Next ordinal: @1.
struct ChannelRef {
  child @0 :UInt32;
}
