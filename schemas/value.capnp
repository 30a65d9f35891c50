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

# One Python-like value. Next ordinal: @21.
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
    # Sets as shoal writes them now (set @10 and frozenset @11, written by
    # earlier versions, are still read): the elements and, in objects made
    # by shoal.freeze(), a hash index for membership tests.
    indexedSet @18 :Set;
    indexedFrozenset @19 :Set;
    view @20 :FrozenView;     # a value of another frozen object (a shoal.freeze() view)
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
#
# `index` and `unhashed` (written by shoal.freeze(), empty otherwise) let a
# reader find a key without a scan; see "The hash index" below.
# Next ordinal: @4.
struct Dict {
  keys @0 :List(Value);
  values @1 :List(Value);
  index @2 :List(UInt64);
  unhashed @3 :List(UInt32);
}

# The elements of a set or frozenset, with the same optional index as a
# Dict's (over `items`). Next ordinal: @3.
struct Set {
  items @0 :List(Value);
  index @1 :List(UInt64);
  unhashed @2 :List(UInt32);
}

# The hash index of a Dict (over its keys) or a Set (over its items).
#
# The stable hash. Python's hash() of str and bytes is randomized per
# process, so the index uses its own 64-bit hash of a value's canonical
# form, the same in every process and every version of shoal that writes
# this layout:
#   h(bytes of the form) = fmix64(FNV-1a-64(bytes))
# where FNV-1a-64 starts at 0xcbf29ce484222325 and multiplies by
# 0x100000001b3, and fmix64 is MurmurHash3's 64-bit finalizer. The forms
# (one tag byte, then the payload):
#   'i' + 8 bytes little-endian  an integer in the Int64 range: int64, bool
#                                (False 0, True 1), and a float64 holding an
#                                integer in that range (-0.0 is 0), as Python
#                                counts 1 == 1.0 == True equal;
#   'n' + sign byte (1 negative) + magnitude (little-endian, no trailing
#                                zero byte)  any other integer: bigInt, or a
#                                float64 holding one;
#   'f' + 8 bytes little-endian  any other float64 (its IEEE bits);
#   's' + UTF-8 bytes            text and textBlob;
#   'b' + bytes                  bytes and bytesBlob;
#   'z'                          none;
#   't' + the 8-byte hash of each element, in order        a tuple;
#   'S' + 8 bytes: the wrapping sum of fmix64(h) of every element
#                                (order-free)              a frozenset.
# Any other value (a pickled object, an array, a blob, a channel) has no
# stable hash: its entry is listed in `unhashed` instead of the index.
#
# The table. `index` has a power-of-two number of slots (at least 8 and at
# least 4/3 of the entries); a slot is 0 when empty, else
# (h >> 32) << 32 | (entry + 1), entry being the position of the key in
# `keys` (the item in `items`). An entry is in the slot h mod slots or in
# the first empty-or-matching slot after it, wrapping (linear probing). A
# reader compares the upper 32 bits of h, then the key itself; it rejects
# a table whose size is not a power of two or which names an entry that
# does not exist, and stops after visiting every slot once, so a hostile
# table costs one pass at most. An empty `index` means "no index": a
# reader scans.
#
# `unhashed` lists, in order, the entries whose key has no stable hash; a
# key looked up and not found in the index may still equal one of them
# (a pickled key's __eq__ decides), so a reader compares those too.

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

# A value inside another frozen object, named by the child-table index of
# that object's block (of kind `object`; this object holds a reference on
# it) and the path from its root: one step per container, an element's
# position in a list or tuple, or an entry's position in a dict (the step
# goes to that entry's value). A reader receives it as a view of the same
# block, in place. Next ordinal: @2.
struct FrozenView {
  child @0 :UInt32;
  path @1 :List(UInt32);
}
