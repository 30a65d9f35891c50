"""shoal.freeze(): frozen values read in place, shared without copies.

A view behaves as the plain type it replaces (Mapping, Sequence, Set; equal
to it; hashes like it where the plain type does), finds keys through its
index whatever their type, keeps its block alive exactly as long as needed,
and arrives as a view of the same block through a channel, another
interpreter, a process, or a pickle.
"""

import collections.abc as abc
import decimal
import enum
import gc
import pickle

import numpy as np
import pytest

import interp_work
import pool_work
import shoal
from shoal import interpreters


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("64MiB", name=arena_name) as made:
        yield made


def used(arena):
    gc.collect()
    return arena.used


VALUE = {
    "word": 1,
    "nested": {"list": [1, 2.5, "three", None, (4, 5)], "set": {1, 2}, "frozen": frozenset({"x"})},
    "array": np.arange(6, dtype=np.float64),
    7: "seven",
}


# ------------------------------------------------------------- the types ----


def test_freeze_returns_views_that_are_the_abstract_types(arena):
    view = shoal.freeze(VALUE, arena=arena)
    assert type(view) is shoal.FrozenDict and isinstance(view, abc.Mapping)
    nested = view["nested"]
    assert isinstance(nested, shoal.FrozenDict)
    assert isinstance(nested["list"], shoal.FrozenList) and isinstance(nested["list"], abc.Sequence)
    assert isinstance(nested["list"][4], shoal.FrozenTuple)
    assert isinstance(nested["set"], shoal.FrozenSet) and isinstance(nested["set"], abc.Set)
    assert isinstance(nested["frozen"], shoal.FrozenSet)
    assert view.arena == arena.name


def test_a_dict_view_reads_as_the_dict(arena):
    view = shoal.freeze(VALUE, arena=arena)
    assert len(view) == 4 and list(view) == ["word", "nested", "array", 7]
    assert view["word"] == 1 and view[7] == "seven" and view.get("absent") is None and view.get("absent", 3) == 3
    assert "word" in view and "absent" not in view
    assert list(view.keys()) == list(VALUE) and [k for k, _ in view.items()] == list(VALUE)
    assert list(view.values())[0] == 1
    with pytest.raises(KeyError, match="absent"):
        view["absent"]
    with pytest.raises(TypeError, match="unhashable"):
        view[["a list"]]
    with pytest.raises(TypeError):
        view["word"] = 2  # read-only
    assert view["nested"] == VALUE["nested"] and view["nested"] != {"other": 1}


def test_arrays_inside_are_zero_copy_read_only_views(arena):
    view = shoal.freeze({"array": np.arange(1000, dtype=np.int32)}, arena=arena)
    first, second = view["array"], view["array"]
    assert isinstance(first, np.ndarray) and not first.flags.writeable
    assert first.__array_interface__["data"][0] == second.__array_interface__["data"][0]
    assert int(first.sum()) == sum(range(1000))


def test_equality_and_thaw_give_the_plain_value(arena):
    plain = {"a": [1, {"b": (2, 3)}], "s": {1, 2}}
    view = shoal.freeze(plain, arena=arena)
    assert view == plain and plain == view
    assert view.thaw() == plain and type(view.thaw()) is dict and type(view.thaw()["a"]) is list
    assert view.copy() == plain and type(view.copy()["a"][1]) is dict
    assert dict(view)["a"] == plain["a"]
    import copy

    assert copy.copy(view) is view and copy.deepcopy(view) is view
    assert repr(shoal.freeze([1, "a"], arena=arena)) == "shoal.FrozenList([1, 'a'])"


def test_sequences_index_slice_and_compare_like_theirs(arena):
    items = list(range(10))
    view = shoal.freeze(items, arena=arena)
    assert view[0] == 0 and view[-1] == 9 and view[2:5] == [2, 3, 4] and view[::-3] == [9, 6, 3, 0]
    assert type(view[2:5]) is list and list(reversed(view))[:2] == [9, 8]
    assert view.index(4) == 4 and view.count(3) == 1 and 4 in view and 42 not in view
    with pytest.raises(IndexError):
        view[10]
    assert view == items and view != tuple(items) and view != items[:-1]
    with pytest.raises(TypeError, match="unhashable"):
        hash(view)
    pair = shoal.freeze((1, "a", (2.5, None)), arena=arena)
    assert pair == (1, "a", (2.5, None)) and pair != [1, "a", (2.5, None)]
    assert type(pair[1:]) is tuple and hash(pair) == hash((1, "a", (2.5, None)))
    assert {pair: "found"}[(1, "a", (2.5, None))] == "found"


def test_sets_test_membership_through_the_index_and_combine_as_sets(arena):
    view = shoal.freeze({1, "two", (3, 4), 5.5}, arena=arena)
    assert 1 in view and 1.0 in view and True in view and "two" in view and (3, 4) in view and 5.5 in view
    assert "three" not in view and 2 not in view
    assert view == {1, "two", (3, 4), 5.5} and view == frozenset(view)
    assert view | {9} == frozenset({1, "two", (3, 4), 5.5, 9}) and view & {1, 9} == frozenset({1})
    assert hash(view) == hash(frozenset({1, "two", (3, 4), 5.5}))
    with pytest.raises(TypeError, match="unhashable"):
        [1] in view


# ------------------------------------------------------ keys of any type ----


class Color(enum.IntEnum):
    RED = 1


def test_keys_are_found_by_equality_whatever_their_type(arena):
    keys = {0: "zero", 1: "one", 2**70: "big", -(2**80): "negative big", 2.5: "float", "text": "str",
            b"text": "bytes", (1, "a"): "tuple", frozenset({1, 2}): "frozenset", None: "none",
            "k" * 5000: "long str", b"b" * 5000: "long bytes"}
    view = shoal.freeze(keys, arena=arena)
    for key, value in keys.items():
        assert view[key] == value, key
    # Equal numbers of other types, as a dict finds them.
    assert view[True] == "one" and view[1.0] == "one" and view[False] == "zero" and view[-0.0] == "zero"
    assert view[float(2**70)] == "big" and view[np.int64(1)] == "one" and view[decimal.Decimal(1)] == "one"
    assert view[Color.RED] == "one" and view[(1.0, "a")] == "tuple" and view[frozenset({2.0, 1})] == "frozenset"
    assert view[shoal.freeze((1, "a"), arena=arena)] == "tuple"
    # str and bytes are different keys; so are near misses.
    assert "k" * 4999 not in view and b"text" in view and b"textx" not in view and 2.25 not in view


def test_pickled_keys_are_found_by_comparison(arena):
    keys = {Color.RED: "enum", decimal.Decimal("2.5"): "decimal", "plain": "str"}
    view = shoal.freeze(keys, arena=arena)
    assert view[Color.RED] == "enum" and view[1] == "enum"  # an IntEnum equals its int
    assert view[decimal.Decimal("2.5")] == "decimal" and view[2.5] == "decimal"
    assert view["plain"] == "str" and "other" not in view


def test_freeze_takes_containers_only_and_an_open_arena(arena):
    with pytest.raises(TypeError, match="freeze\\(\\) takes a dict, list, tuple, set or frozenset, not int"):
        shoal.freeze(5, arena=arena)
    with pytest.raises(TypeError, match="arena must be a shoal.Arena"):
        shoal.freeze({}, arena="name")
    view = shoal.freeze({"a": 1}, arena=arena)
    assert shoal.freeze(view, arena=arena) is view  # frozen already
    assert shoal.freeze({"a": 1})["a"] == 1  # the default arena
    with pytest.raises(TypeError, match="cannot send 'generator'"):
        shoal.freeze({"a": (x for x in [])}, arena=arena)


# --------------------------------------------------------------- lifetime ----


def test_a_view_keeps_its_block_until_the_last_view_goes(arena):
    baseline = used(arena)
    view = shoal.freeze({"inner": {"deep": list(range(1000))}}, arena=arena)
    assert used(arena) > baseline
    inner = view["inner"]["deep"]
    del view
    assert used(arena) > baseline and inner[999] == 999  # the nested view holds the block
    it = iter(inner)
    del inner
    assert next(it) == 0  # so does an iterator
    del it
    assert used(arena) == baseline


def test_a_failed_freeze_leaves_nothing_allocated(arena):
    baseline = used(arena)
    with pytest.raises(TypeError):
        shoal.freeze({"big": b"x" * 100_000, "bad": lambda: None}, arena=arena)
    assert used(arena) == baseline


# ------------------------------------------------------------- crossing ----


def test_a_view_sent_through_a_channel_arrives_as_a_view_of_the_same_block(arena):
    view = shoal.freeze({f"w{i}": i for i in range(10_000)}, arena=arena)
    ch = shoal.Channel(4, arena=arena)
    before = used(arena)
    ch.send(view)
    ch.send({"vocab": view["w5"], "table": view})
    got = ch.recv()
    assert isinstance(got, shoal.FrozenDict) and got._same_value(view) and got["w9999"] == 9999
    wrapped = ch.recv()
    assert wrapped["vocab"] == 5 and wrapped["table"]._same_value(view)
    del got, wrapped
    assert used(arena) == before, "nothing was copied, and the carriers are freed"


def test_a_view_inside_a_frozen_value_is_a_view_of_its_own_block(arena):
    vocab = shoal.freeze({"a": 1}, arena=arena)
    outer = shoal.freeze({"vocab": vocab, "n": 2}, arena=arena)
    assert outer["vocab"]._same_value(vocab) and outer == {"vocab": {"a": 1}, "n": 2}
    assert outer.thaw() == {"vocab": {"a": 1}, "n": 2} and type(outer.thaw()["vocab"]) is dict
    del vocab
    gc.collect()
    assert outer["vocab"]["a"] == 1  # the outer object holds the inner one


def test_a_view_sent_through_another_arena_goes_by_reference(arena, arena_name):
    view = shoal.freeze({"a": [1, 2]}, arena=arena)
    with shoal.Arena("16MiB", name=arena_name + "-b") as other:
        ch = shoal.Channel(2, arena=other)
        ch.send(view)
        got = ch.recv()
        assert isinstance(got, shoal.FrozenDict) and got._same_value(view) and got == {"a": [1, 2]}


def test_a_pickled_view_is_the_same_block(arena):
    view = shoal.freeze({"k": [1, 2, 3]}, arena=arena)
    back = pickle.loads(pickle.dumps(view["k"]))
    assert isinstance(back, shoal.FrozenList) and back._same_value(view["k"]) and back == [1, 2, 3]


def test_a_view_crosses_to_another_interpreter_in_place(arena):
    view = shoal.freeze({"w": 42, "nested": {"x": 7}}, arena=arena)
    interp = interpreters.create()
    try:
        assert interp.call(interp_work.frozen_lookup, view, "w") == ("FrozenDict", 42, ())
        assert interp.call(interp_work.frozen_lookup, view["nested"], "x") == ("FrozenDict", 7, (1,))
        interp.prepare_main(vocab=view)
        assert interp.call(interp_work.eval_in_main, "(type(vocab).__name__, vocab['w'])") == ("FrozenDict", 42)
    finally:
        interp.close()
    with shoal.SubinterpreterExecutor(max_workers=1) as pool:
        assert pool.submit(interp_work.frozen_lookup, view, "w").result() == ("FrozenDict", 42, ())


def test_a_view_crosses_to_a_process_in_place(arena):
    view = shoal.freeze({"w": 42, "nested": {"x": 7}}, arena=arena)
    with shoal.ProcessPoolExecutor(max_workers=1) as pool:
        name, value, pid = pool.submit(pool_work.frozen_lookup, view["nested"], "x").result()
    assert (name, value) == ("FrozenDict", 7)


# A child that unpickles a view (by reference), takes nested views, freezes
# a value of its own holding the view, reports, and waits to be killed.
_VIEW_HOLDER = """
import pickle, sys, time
import shoal
view = pickle.loads(sys.stdin.buffer.read())
arena = shoal.Arena.attach(view.arena)
inner = view["inner"]
mine = shoal.freeze({"theirs": view, "list": list(range(10_000))}, arena=arena)
print("ready", inner[2], mine["theirs"]["inner"][0], flush=True)
time.sleep(600)
"""


def test_a_process_killed_holding_views_leaks_nothing(arena):
    import signal
    import subprocess
    import sys

    from conftest import read_line
    from shoal import _pickling

    baseline = used(arena)
    view = shoal.freeze({"inner": [7, 8, 9], "big": list(range(50_000))}, arena=arena)
    with _pickling.collecting_tickets() as tickets:
        pickled = pickle.dumps(view)
    child = subprocess.Popen([sys.executable, "-c", _VIEW_HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        child.stdin.write(pickled)
        child.stdin.close()
        line = read_line(child.stdout, timeout=60).decode()
        assert line.split() == ["ready", "9", "7"], child.stderr.read().decode()
        assert arena.stats()["holders"] >= 2
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
    arena.reap()  # (or the embedded broker got there first)
    _pickling.release(tickets)  # the pickle's in-flight reference, ended by its maker
    assert view["inner"] == [7, 8, 9]  # ours still reads
    del view
    assert used(arena) == baseline, "the child's views, its own frozen value and ours: all freed"
    assert arena.check() == []
