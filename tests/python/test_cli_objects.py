"""End-to-end tests of the `shoal` CLI's views of what Python made: objects
and their sites, channels, dump, watch. A live arena made by this very
process through the Python package, so the sites the CLI reports are lines
of this file. Programs are found as test_cli.py says (cli_programs.py).
"""

import json
import os
import re
import signal
import struct
import subprocess
import threading
import time

import pytest

from cli_programs import cli_path, shoal  # noqa: F401 (fixtures)
from cli_programs import unique_name as _unique

OBJECT_KEYS = ["handle", "offset", "generation", "kind", "size", "requested", "refcount", "frozen", "created_ns",
               "age_ns", "creator_slot", "site", "held_by"]
CHANNEL_KEYS = ["handle", "name", "offset", "generation", "capacity", "state", "pending_items", "pending_bytes",
                "pending_inline", "blocked_senders", "blocked_receivers", "senders",
                "receivers", "closed_by", "sleepers", "refcount", "site", "sane"]


def this_line():
    """The line number of the caller's current line."""
    import inspect
    return inspect.currentframe().f_back.f_lineno


@pytest.fixture
def py_arena():
    shoal_py = pytest.importorskip("shoal")
    arena = shoal_py.Arena(size="16MiB", name=_unique("py"))
    yield shoal_py, arena
    if not arena.closed:
        arena.close()


@pytest.fixture
def produced(py_arena):
    """An arena holding a buffer and a channel with two pending values, and where each was made."""
    shoal_py, arena = py_arena
    lines = {}
    buf = arena.empty((64, 4), dtype="float32"); lines["empty"] = this_line()  # noqa: E702
    memoryview(buf).cast("B")[0:4] = struct.pack("<f", 1.0)
    ch = shoal_py.Channel(capacity=4, arena=arena); lines["channel"] = this_line()  # noqa: E702
    ch.send({"a": 1, "b": [1.5, "x", None], 3: (True, b"xy")}); lines["send_dict"] = this_line()  # noqa: E702
    ch.send(buf); lines["send_buf"] = this_line()  # noqa: E702
    return arena, ch, buf, lines


def site_of(obj):
    return None if obj["site"] is None else (obj["site"]["file"], obj["site"]["line"])


def test_objects_show_kind_size_holders_and_sites(shoal, produced):
    arena, ch, buf, lines = produced
    doc = shoal.json("objects", arena.name)
    assert doc["arena"] == arena.name and doc["sort"] == "size" and doc["top"] is None
    assert doc["walk_error"] is None and doc["sites_error"] is None
    objects = doc["objects"]
    for obj in objects:
        assert list(obj) == OBJECT_KEYS
    assert doc["total"]["count"] == len(objects) == 3  # blob, channel, the dict's object (ledgers are not listed)
    by_site = {site_of(o): o for o in objects if o["site"] is not None}
    assert (__file__, lines["send_buf"]) not in by_site  # a Buffer sent whole travels as itself: no object
    blob = by_site[(__file__, lines["empty"])]
    # The array's bytes after its header and shape (128 bytes for 2 dimensions).
    assert blob["kind"] == "blob" and blob["requested"] == 128 + 64 * 4 * 4 and blob["frozen"]
    # Held by this process's holder and by the channel slot it was sent in.
    holder = [h for h in blob["held_by"] if h["type"] == "holder"]
    assert holder and holder[0]["pid"] == os.getpid() and holder[0]["alive"]
    channel = next(o for o in objects if o["kind"] == "channel")
    assert {"type": "channel", "handle": channel["handle"]} in blob["held_by"]
    assert blob["refcount"] == len(blob["held_by"]) == 2
    for key in ("send_dict",):
        sent = by_site[(__file__, lines[key])]
        assert sent["kind"] == "object"
        assert sent["held_by"] == [{"type": "channel", "handle": channel["handle"]}]
    # Sizes sort largest first; --top cuts.
    sizes = [o["size"] for o in objects]
    assert sizes == sorted(sizes, reverse=True)
    assert len(shoal.json("objects", arena.name, "--top", "1")["objects"]) == 1
    refs = [o["refcount"] for o in shoal.json("objects", arena.name, "--sort", "refs")["objects"]]
    assert refs == sorted(refs, reverse=True)
    ages = [o["age_ns"] for o in shoal.json("objects", arena.name, "--sort", "age")["objects"]]
    assert ages == sorted(ages, reverse=True)

    # The table names the file and line, with units.
    text = shoal.run("objects", arena.name, expect=0).stdout
    assert f"test_cli_objects.py:{lines['empty']}" in text and re.search(r"\b1\.1 KiB\b", text)  # 1 KiB + its header
    assert re.search(r"^HANDLE\s+KIND\s+SIZE\s+REFS\s+AGE\s+SITE\s+HELD BY$", text, re.M)
    assert f"holder 0 (pid {os.getpid()})" in text


def test_sites_name_each_line_of_a_long_function(shoal, py_arena):
    # Lines are cached per (code object, instruction): one call site seen
    # again must keep its line, a neighbouring one must get its own, and a
    # call 3,000 lines into a function must get the right one.
    shoal_py, arena = py_arena
    filler = "".join(f"    x{i} = {i}\n" for i in range(3000))
    src = ("def make(arena, out):\n"
           + filler
           + "    for i in range(3):\n"
           + "        out.append(arena.empty(100 + i, 'uint8'))\n"
           + "    out.append(arena.empty(200, 'uint8'))\n")
    code = compile(src, "<long function>", "exec")
    namespace = {}
    exec(code, namespace)
    out = []
    namespace["make"](arena, out)
    namespace["make"](arena, out)  # the same sites again, now from the cache
    loop_line, last_line = 3000 + 3, 3000 + 4
    objects = shoal.json("objects", arena.name)["objects"]
    header = 64  # each blob begins with its array's header and shape (one dimension)
    lines_by_size = {o["requested"] - header: site_of(o) for o in objects if o["kind"] == "blob"}
    assert lines_by_size[100] == lines_by_size[101] == lines_by_size[102] == ("<long function>", loop_line)
    assert lines_by_size[200] == ("<long function>", last_line)
    assert sum(1 for o in objects if o["kind"] == "blob") == 8


def test_objects_group_by(shoal, produced):
    arena, ch, buf, lines = produced
    groups = shoal.json("objects", arena.name, "--group-by", "site")
    assert groups["group_by"] == "site"
    keys = {g["key"]: g for g in groups["groups"]}
    assert keys[f"{__file__}:{lines['empty']}"]["count"] == 1
    assert keys[f"{__file__}:{lines['channel']}"]["count"] == 1  # the channel, where it was made
    assert "unknown" not in keys
    kinds = {g["key"]: g["count"] for g in shoal.json("objects", arena.name, "--group-by", "kind")["groups"]}
    assert kinds == {"blob": 1, "object": 1, "channel": 1}  # the Buffer was sent as itself
    holders = shoal.json("objects", arena.name, "--group-by", "holder")["groups"]
    assert any(g["key"].startswith("holder ") and f"pid {os.getpid()}" in g["key"] for g in holders)
    assert any(g["key"].startswith("channel ") and g["count"] == 2 for g in holders)
    text = shoal.run("objects", arena.name, "--group-by", "site", expect=0).stdout
    assert re.search(r"^SITE\s+BLOCKS\s+BYTES$", text, re.M) and f"test_cli_objects.py:{lines['send_dict']}" in text
    assert shoal.run("objects", arena.name, "--group-by", "colour").returncode == 2
    assert shoal.run("objects", arena.name, "--sort", "colour").returncode == 2


def test_channels_show_their_name_and_the_line_that_made_them(shoal, py_arena):
    shoal_py, arena = py_arena
    frames = shoal_py.Channel(capacity=4, arena=arena, name="frames"); made_at = this_line()  # noqa: E702
    unnamed = shoal_py.Channel(capacity=2, arena=arena)
    doc = shoal.json("channels", arena.name)["channels"]
    assert unnamed.name is None
    named = [c for c in doc if c["name"] == "frames"]
    assert len(named) == 1 and [c["name"] for c in doc].count(None) == 1
    assert named[0]["site"]["file"] == __file__ and named[0]["site"]["line"] == made_at
    table = shoal.run("channels", arena.name, expect=0).stdout
    assert "frames" in table and f"test_cli_objects.py:{made_at}" in table
    assert frames.name == "frames"


def test_channels_count_inline_items_apart(shoal, py_arena):
    shoal_py, arena = py_arena
    ch = shoal_py.Channel(capacity=4, arena=arena)
    ch.send(3)  # an int travels in the slot itself
    ch.send("three")
    (c,) = shoal.json("channels", arena.name)["channels"]
    assert c["pending_items"] == 2 and c["pending_inline"] == 1
    objects = shoal.json("objects", arena.name)["objects"]
    assert c["pending_bytes"] == sum(o["size"] for o in objects if o["kind"] == "object")
    assert shoal.run("check", arena.name, expect=0)


def test_a_poisoned_channel_shows_nothing_pending_whatever_head_and_tail_say(shoal, py_arena):
    shoal_py, arena = py_arena
    ch = shoal_py.Channel(capacity=8, arena=arena)
    for i in range(6):
        ch.send(f"value {i}")
    ch.poison()
    (c,) = shoal.json("channels", arena.name)["channels"]
    offset = int(c["handle"].split(":")[0])
    # A poisoner killed before its last step leaves head behind tail; its
    # slots own nothing all the same (layout::channel_pending).
    header = offset + 64  # the ChannelHeader, after the block header
    with open(f"/dev/shm/shoal.{arena.name}", "r+b") as segment:
        segment.seek(header + 8)
        head, tail = struct.unpack("<QQ", segment.read(16))
        assert head == tail
        segment.seek(header + 8)
        segment.write(struct.pack("<Q", tail - 6))
    assert arena.check() == []
    (c,) = shoal.json("channels", arena.name)["channels"]
    assert c["state"] == "poisoned" and c["pending_items"] == 0 and c["pending_bytes"] == 0
    assert re.search(r"\bpoisoned\s+8\s+0\s", shoal.run("channels", arena.name, expect=0).stdout)


def test_channels_pending_closed_and_blocked_receivers(shoal, produced, py_arena):
    shoal_py, _ = py_arena
    arena, ch, buf, lines = produced
    doc = shoal.json("channels", arena.name)
    assert len(doc["channels"]) == 1
    c = doc["channels"][0]
    assert list(c) == CHANNEL_KEYS
    assert c["state"] == "open" and c["capacity"] == 4 and c["pending_items"] == 2 and c["sane"]
    objects = shoal.json("objects", arena.name)["objects"]
    in_channel = [o for o in objects if {"type": "channel", "handle": c["handle"]} in o["held_by"]]
    assert sorted(o["kind"] for o in in_channel) == ["blob", "object"]  # the dict, the Buffer sent as itself
    assert c["pending_bytes"] == sum(o["size"] for o in in_channel)
    assert c["blocked_senders"] == 0 and c["blocked_receivers"] == 0

    # A receiver waiting on an empty channel shows as blocked.
    empty = shoal_py.Channel(capacity=2, arena=arena)
    got = []
    waiter = threading.Thread(target=lambda: got.append(empty.recv()))
    waiter.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            rows = {r["handle"]: r for r in shoal.json("channels", arena.name)["channels"]}
            if any(r["blocked_receivers"] == 1 and r["pending_items"] == 0 for r in rows.values()):
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.02)
    finally:
        empty.send(7)
        waiter.join(10)
    assert got == [7]

    ch.close()
    text = shoal.run("channels", arena.name, expect=0).stdout
    assert re.search(r"^HANDLE\s+NAME\s+STATE\s+CAPACITY\s+PENDING\s+BYTES\s+BLOCKED SEND\s+BLOCKED RECV\s+ENDS\s+REFS\s+SITE", text, re.M)
    assert re.search(r"\bclosed\s+4\s+2\s+\d+(\.\d)? (B|KiB)", text), text
    states = sorted(r["state"] for r in shoal.json("channels", arena.name)["channels"])
    assert states == ["closed", "open"]


def test_channels_show_their_ends_and_why_they_closed(shoal, py_arena):
    shoal_py, arena = py_arena
    ch = shoal_py.Channel(capacity=2, arena=arena, name="with-ends")
    tx, spare, rx = ch.sender(), ch.sender(), ch.receiver()
    (c,) = shoal.json("channels", arena.name)["channels"]
    assert (c["senders"], c["receivers"], c["closed_by"]) == (2, 1, None)
    held = [o["held_by"] for o in shoal.json("objects", arena.name)["objects"] if o["handle"] == c["handle"]][0]
    assert sum(owner["type"] == "channel_end" for owner in held) == 3
    assert re.search(r"with-ends\s+open\s.*\b2 send, 1 recv\b", shoal.run("channels", arena.name, expect=0).stdout)
    tx.close()
    spare.close()
    (c,) = shoal.json("channels", arena.name)["channels"]
    assert (c["state"], c["senders"], c["closed_by"]) == ("closed", 0, "senders gone")
    assert "closed (senders gone)" in shoal.run("channels", arena.name, expect=0).stdout
    assert arena.check() == []
    rx.close()


def test_dump_text_and_json(shoal, produced, py_arena):
    shoal_py, _ = py_arena
    arena, ch, buf, lines = produced
    in_dict = shoal_py.Channel(capacity=1, arena=arena)
    in_dict.send({"array": buf}); lines["send_in_dict"] = this_line()  # noqa: E702
    objects = shoal.json("objects", arena.name)["objects"]
    by_site = {site_of(o): o for o in objects if o["site"] is not None}
    sent_dict = by_site[(__file__, lines["send_dict"])]
    sent_buf = by_site[(__file__, lines["send_in_dict"])]

    text = shoal.run("dump", arena.name, sent_dict["handle"], expect=0).stdout
    assert "{'a': 1, 'b': [1.5, 'x', None], 3: (True, bytes(2 B: 78 79))}" in text
    assert f"test_cli_objects.py:{lines['send_dict']}" in text
    # OFFSET alone names the same block.
    assert shoal.run("dump", arena.name, str(sent_dict["offset"]), expect=0).stdout == text

    doc = shoal.json("dump", arena.name, sent_dict["handle"])
    assert doc["kind"] == "object" and doc["site"]["line"] == lines["send_dict"]
    value = doc["value"]
    assert value["type"] == "dict" and value["length"] == 3
    assert value["items"][0] == {"key": {"type": "str", "length": 1, "value": "a", "truncated": False},
                                 "value": {"type": "int", "value": 1}}
    assert value["items"][2]["value"]["items"][1] == {"type": "bytes", "nbytes": 2, "first_bytes": "78 79"}
    # The Cap'n Proto message as its own JSON codec writes it (value.capnp's field names).
    if doc["message_error"] is None:
        assert doc["message"]["value"]["dict"]["keys"][0] == {"text": "a"}

    # An array is summarised, never printed whole: dtype, shape, first bytes.
    array = shoal.json("dump", arena.name, sent_buf["handle"])["value"]["items"][0]["value"]
    assert array["type"] == "ndarray" and array["dtype"] == "<f4" and array["shape"] == [64, 4]
    assert array["nbytes"] == 1024 and array["first_bytes"].startswith("00 00 80 3f")  # 1.0f
    assert len(array["first_bytes"].split()) == 16
    text = shoal.run("dump", arena.name, sent_buf["handle"], expect=0).stdout
    assert "ndarray(dtype='<f4', shape=(64, 4), nbytes=1024" in text and len(text) < 1000
    # The blob itself describes its array (it was also sent whole): the same summary.
    blob = shoal.json("dump", arena.name, array["blob"])["value"]
    assert blob == {"type": "ndarray", "dtype": "<f4", "shape": [64, 4], "nbytes": 1024, "offset": 128,
                    "first_bytes": array["first_bytes"]}
    text = shoal.run("dump", arena.name, array["blob"], expect=0).stdout
    assert "ndarray(dtype='<f4', shape=(64, 4), nbytes=1024, first bytes: 00 00 80 3f" in text
    # A blob nobody described is shown as bytes.
    pickled = shoal_py.Channel(capacity=1, arena=arena)
    pickled.send(bytes(8192))  # large bytes get a blob of their own
    raw = next(o for o in shoal.json("objects", arena.name)["objects"]
               if o["kind"] == "blob" and o["requested"] == 8192)
    assert shoal.json("dump", arena.name, raw["handle"])["value"]["type"] == "buffer"

    # Bad handles: a malformed one is a usage error; a stale one names the arena.
    assert shoal.run("dump", arena.name, "12x").returncode == 2
    stale = shoal.run("dump", arena.name, f"{sent_dict['offset']}:999999", expect=1)
    assert arena.name in stale.stderr and "names no live block" in stale.stderr
    err = shoal.json("dump", arena.name, f"{sent_dict['offset']}:999999", expect=1)
    assert err["error"]["code"] == "invalid_handle"


def test_objects_and_dump_show_a_frozen_value_and_where_it_was_frozen(shoal, py_arena):
    shoal_py, arena = py_arena
    view = shoal_py.freeze({f"k{i}": i for i in range(50)}, arena=arena); frozen_at = this_line()  # noqa: E702
    ch = shoal_py.Channel(capacity=1, arena=arena)
    ch.send({"table": view}); sent_at = this_line()  # noqa: E702
    objects = shoal.json("objects", arena.name)["objects"]
    by_site = {site_of(o): o for o in objects if o["site"] is not None}
    frozen = by_site[(__file__, frozen_at)]
    carrier = by_site[(__file__, sent_at)]
    assert frozen["kind"] == "object" and carrier["kind"] == "object"
    # Held by this process (the view) and by the carrier that names it.
    assert {"type": "object", "handle": carrier["handle"]} in frozen["held_by"]
    value = shoal.json("dump", arena.name, frozen["handle"])["value"]
    assert value["type"] == "dict" and value["length"] == 50 and value["indexed"]
    text = shoal.run("dump", arena.name, carrier["handle"], expect=0).stdout
    assert f"'table': frozen view(object {frozen['handle']}, path [])" in text
    sent = shoal.json("dump", arena.name, carrier["handle"])["value"]["items"][0]["value"]
    assert sent == {"type": "frozen view", "object": frozen["handle"], "path": []}


def test_dump_truncates_large_containers(shoal, py_arena):
    shoal_py, arena = py_arena
    ch = shoal_py.Channel(capacity=2, arena=arena)
    ch.send(list(range(1000)))
    handle = next(o["handle"] for o in shoal.json("objects", arena.name)["objects"] if o["kind"] == "object")
    text = shoal.run("dump", arena.name, handle, "--max-items", "5", expect=0).stdout
    assert "[0, 1, 2, 3, 4, ... (995 more)]" in text
    value = shoal.json("dump", arena.name, handle)["value"]
    assert value["length"] == 1000 and len(value["items"]) == 100 and value["truncated"]


def test_watch_count_and_arena_gone(shoal, produced):
    arena, ch, buf, lines = produced
    result = shoal.run("watch", arena.name, "--count", "2", "--interval", "0.1", expect=0)
    assert result.stdout.count(f"shoal watch {arena.name}") == 2
    assert "largest blocks" in result.stdout and "holders" in result.stdout and "channels" in result.stdout
    assert f"test_cli_objects.py:{lines['empty']}" in result.stdout
    frames = [json.loads(line) for line in shoal.run("watch", arena.name, "--count", "2", "--interval", "0.1",
                                                      "--json", expect=0).stdout.splitlines()]
    assert [f["frame"] for f in frames] == [1, 2]
    for f in frames:
        assert f["json_version"] == 1 and not f["gone"]
        assert list(f) == ["json_version", "arena", "frame", "time_ns", "gone", "stat", "objects", "holders",
                           "channels", "read"]
        assert f["channels"][0]["pending_items"] == 2

    # Ctrl-C ends it cleanly.
    proc = subprocess.Popen([shoal.path, "watch", arena.name, "--interval", "0.1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0

    # The arena disappearing ends it too.
    shoal_py = pytest.importorskip("shoal")
    arena = shoal_py.Arena(size="16MiB", name=_unique("py"))
    proc = subprocess.Popen([shoal.path, "watch", arena.name, "--interval", "0.1", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    shoal.run("destroy", arena.name, "--force", expect=0)  # closing: its holder, this process, still uses it
    arena.close()  # the last holder leaves: unlinked
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["gone"] is True


@pytest.mark.parametrize("command", ["objects", "channels", "dump", "watch"])
def test_new_commands_help_and_missing_arena(shoal, command):
    help_text = shoal.run(command, "--help", expect=0).stdout
    assert "Exit status" in help_text and "--json" in help_text
    args = [command, "no-such-arena-here"] + (["1:1"] if command == "dump" else [])
    result = shoal.run(*args, expect=1)
    assert "no-such-arena-here" in result.stderr and "nothing of that name exists" in result.stderr
