"""shoal.Arena from Python: create, attach, close, sizes, errors, exhaustion,
and reclaiming what a process killed with SIGKILL held."""

import gc
import importlib.util
import os
import pathlib
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import shoal
from conftest import read_line

SHM = pathlib.Path("/dev/shm")
MiB = 1024 * 1024
STATS_KEYS = {
    "size", "heap", "used", "free", "cached", "cached_blocks", "largest_free", "blocks", "free_blocks",
    "holders", "repairs", "reaped_holders",
}


def segment_path(name):
    return SHM / f"shoal.{name}"


def settled_baseline(arena):
    """Stats once this Arena's holder has made (and dropped) one buffer,
    so that its ledger exists and later comparisons are exact."""
    arena.empty(64, "uint8")  # made and dropped at once
    return arena.stats()


# ------------------------------------------------------------ life cycle --


def test_create_reports_name_size_and_stats(arena_name):
    with shoal.Arena("64MiB", name=arena_name) as arena:
        assert arena.name == arena_name
        assert arena.size == 64 * MiB
        stats = arena.stats()
        assert STATS_KEYS <= stats.keys()
        assert stats["size"] == 64 * MiB
        assert stats["used"] + stats["free"] == stats["heap"]
        assert stats["holders"] == 1  # this Arena object's own holder
        assert stats["repairs"] == 0
        assert arena.used == stats["used"]
        assert arena.check() == []
        assert repr(arena) == f"<shoal.Arena '{arena_name}' 64.0 MiB>"


def test_segment_is_private_to_its_user(arena_name):
    with shoal.Arena("4MiB", name=arena_name):
        mode = segment_path(arena_name).stat().st_mode
        assert mode & 0o777 == 0o600


def test_generated_names_are_unique_and_name_the_process():
    first, second = shoal.Arena("4MiB"), shoal.Arena("4MiB")
    try:
        assert first.name != second.name
        for arena in (first, second):
            assert arena.name.startswith(f"py-{os.getpid()}-")
            assert segment_path(arena.name).exists()
    finally:
        first.close()
        second.close()
    assert not segment_path(first.name).exists()
    assert not segment_path(second.name).exists()


def test_attach_shares_the_same_memory(arena_name):
    with shoal.Arena("16MiB", name=arena_name) as creator:
        alone = creator.stats()
        with shoal.Arena.attach(arena_name) as attached:
            assert attached.name == arena_name
            assert attached.size == creator.size
            assert creator.stats()["holders"] == 2
            settled = settled_baseline(attached)
            block = attached.empty(100_000, "uint8")
            assert creator.used >= settled["used"] + 100_000
            del block
            assert creator.used == settled["used"]
        # Closing the attached object released its holder and its ledger.
        after = creator.stats()
        assert after["holders"] == 1
        assert after["used"] == alone["used"]


def test_closing_the_creator_leaves_the_name_to_the_last_attached_holder(arena_name):
    creator = shoal.Arena("16MiB", name=arena_name)
    attached = shoal.Arena.attach(arena_name)
    creator.close()
    # Never unlinked under a live holder: closing, so no second arena can
    # take the name while this one is in use, and no new holder joins.
    assert segment_path(arena_name).exists()
    with pytest.raises(shoal.ArenaExists):
        shoal.Arena("16MiB", name=arena_name)
    with pytest.raises(shoal.ArenaNotFound, match="being destroyed"):
        shoal.Arena.attach(arena_name)
    block = attached.empty(1000, "uint8")  # the attached holder keeps working
    del block
    assert attached.check() == []
    attached.close()  # the last holder leaves: unlinked
    assert not segment_path(arena_name).exists()


def test_context_manager_closes_and_unlinks(arena_name):
    with shoal.Arena("4MiB", name=arena_name) as arena:
        assert not arena.closed
        assert segment_path(arena_name).exists()
    assert arena.closed
    assert not segment_path(arena_name).exists()


def test_close_is_idempotent_and_a_closed_arena_refuses_everything(arena_name):
    arena = shoal.Arena("4MiB", name=arena_name)
    arena.close()
    arena.close()
    assert arena.closed
    assert arena.name == arena_name  # like a closed file's name
    assert repr(arena) == f"<shoal.Arena '{arena_name}' closed>"
    calls = {
        "stats": arena.stats,
        "check": arena.check,
        "reap": arena.reap,
        "size": lambda: arena.size,
        "used": lambda: arena.used,
        "empty": lambda: arena.empty(64, "uint8"),
        "__enter__": arena.__enter__,
    }
    for what, call in calls.items():
        with pytest.raises(ValueError, match="arena is closed"):
            call()
            pytest.fail(f"{what} worked on a closed arena")


def test_close_while_other_threads_are_inside_calls(arena_name):
    # Calls release the GIL while they work in the arena; a close() meanwhile
    # must let them finish safely, and the last one out tears the arena down.
    for _ in range(10):
        arena = shoal.Arena("8MiB", name=arena_name)
        stopped_by = []

        def churn():
            try:
                while True:
                    arena.empty(1000, "uint8")  # made and dropped at once
            except ValueError as error:
                stopped_by.append(str(error))

        threads = [threading.Thread(target=churn) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.005)
        arena.close()
        for thread in threads:
            thread.join(timeout=30)
        assert stopped_by == ["arena is closed"] * 3
        assert not segment_path(arena_name).exists()


# ----------------------------------------------------------------- sizes --


def test_sizes_parse_and_format():
    assert shoal.parse_size("4096") == 4096
    assert shoal.parse_size("64KiB") == 64 * 1024
    assert shoal.parse_size("64MiB") == 64 * MiB
    assert shoal.parse_size("1.5G") == 3 * 512 * MiB
    assert shoal.parse_size("10MB") == 10_000_000
    assert shoal.format_size(512) == "512 B"
    assert shoal.format_size(64 * MiB) == "64.0 MiB"
    assert shoal.format_size(4 * 1024 * MiB) == "4.0 GiB"


def test_size_may_be_an_int_or_a_string(arena_name):
    with shoal.Arena(size=3 * MiB, name=arena_name) as arena:
        assert arena.size == 3 * MiB
    with shoal.Arena(size="3 MiB", name=arena_name) as arena:
        assert arena.size == 3 * MiB


@pytest.mark.parametrize("text", ["12 parsecs", "abc", "", "-5", "1.5.5MiB"])
def test_a_bad_size_string_is_a_value_error_naming_it(text, arena_name):
    with pytest.raises(ValueError, match=f"invalid size '{text}'"):
        shoal.parse_size(text)
    with pytest.raises(ValueError, match=f"invalid size '{text}'"):
        shoal.Arena(size=text, name=arena_name)
    assert not segment_path(arena_name).exists()


def test_bad_size_values(arena_name):
    with pytest.raises(ValueError, match="size must be >= 0, got -1"):
        shoal.Arena(size=-1, name=arena_name)
    with pytest.raises(TypeError, match="size must be an int of bytes or a str"):
        shoal.Arena(size=1.5, name=arena_name)
    with pytest.raises(ValueError, match=f"arena '{arena_name}': size 1.0 KiB is outside"):
        shoal.Arena(size="1KiB", name=arena_name)
    with pytest.raises(ValueError, match="nbytes must be >= 0"):
        shoal.format_size(-3)
    assert shoal.format_size(2**63) == "8192.0 PiB"  # above the signed range, still 64 bits
    with pytest.raises(ValueError, match="nbytes does not fit in 64 bits"):
        shoal.format_size(2**64)
    assert not segment_path(arena_name).exists()


def test_a_bad_name_is_a_value_error():
    with pytest.raises(ValueError, match="invalid arena name 'a/b'"):
        shoal.Arena("4MiB", name="a/b")


@pytest.mark.parametrize("name, shown", [("a\nb", "a\\nb"), ("tab\there", "tab\\there"), ("x\x7f", "x\\x7f")])
def test_a_name_with_a_control_character_is_refused(name, shown):
    for attempt in (lambda: shoal.Arena("4MiB", name=name), lambda: shoal.Arena.attach(name)):
        with pytest.raises(ValueError, match="control character") as caught:
            attempt()
        assert f"invalid arena name '{shown}'" in str(caught.value)  # escaped, not garbling the message
    assert not (SHM / f"shoal.{name}").exists()


def test_a_size_too_small_names_the_size_asked_for_and_the_minimum(arena_name):
    with pytest.raises(ValueError) as caught:
        shoal.Arena("1B", name=arena_name)
    assert f"arena '{arena_name}': size 1 B is outside 1.0 MiB" in str(caught.value)
    assert "the smallest arena is 1.0 MiB" in str(caught.value)


# ---------------------------------------------------- create or attach --


def test_exist_ok_creates_then_attaches_keeping_the_size(arena_name):
    with shoal.Arena("4MiB", name=arena_name, exist_ok=True) as first:
        assert first.created is True
        with shoal.Arena("16MiB", name=arena_name, exist_ok=True) as second:
            assert second.created is False
            assert second.size == 4 * MiB  # an existing arena keeps its size
        with pytest.raises(ValueError, match="is outside"):
            shoal.Arena("1KiB", name=arena_name, exist_ok=True)  # checked even so
        with pytest.raises(shoal.ArenaExists):
            shoal.Arena("4MiB", name=arena_name)  # exist_ok is off by default
    assert not segment_path(arena_name).exists()  # the creator unlinked it


def test_exist_ok_needs_a_keyword():
    with pytest.raises(TypeError):
        shoal.Arena("4MiB", "name", True)


OPEN_OR_CREATE = """
import sys, shoal
arena = shoal.Arena("8MiB", name=sys.argv[1], exist_ok=True)
print("created" if arena.created else "attached", flush=True)
sys.stdin.read()  # hold it until the test has heard from everyone
"""


def test_exist_ok_from_several_processes_at_once(arena_name):
    """The everyday pattern: several processes start together, each creating
    the arena or attaching it. Exactly one creates; none fails."""
    for round_ in range(5):
        name = f"{arena_name}-{round_}"
        children = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_OR_CREATE, name],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(5)
        ]
        try:
            outcomes = sorted(read_line(child.stdout, 30).strip() for child in children)
        finally:
            for child in children:
                child.stdin.close()
            errors = [child.stderr.read() for child in children]
            for child in children:
                child.wait(timeout=30)
        assert outcomes == ["attached"] * 4 + ["created"], (round_, outcomes, errors)
        assert not segment_path(name).exists()


# ---------------------------------------------------------------- errors --


def test_exception_hierarchy():
    expected = {
        shoal.ArenaFull: MemoryError,
        shoal.ArenaNotFound: FileNotFoundError,
        shoal.ArenaExists: FileExistsError,
        shoal.ArenaPermissionError: PermissionError,
        shoal.NotAnArena: ValueError,
        shoal.InvalidHandle: ValueError,
        shoal.ShoalTimeout: TimeoutError,
        shoal.CorruptArena: shoal.ShoalError,
        shoal.TooManyHolders: shoal.ShoalError,
    }
    for error, builtin in expected.items():
        assert issubclass(error, shoal.ShoalError), error
        assert issubclass(error, builtin), error
        assert error.__module__ == "shoal"
    assert issubclass(shoal.ShoalError, Exception)


def test_attaching_a_missing_arena(arena_name):
    with pytest.raises(shoal.ArenaNotFound, match=arena_name) as caught:
        shoal.Arena.attach(arena_name)
    assert isinstance(caught.value, FileNotFoundError)


def test_creating_an_existing_arena(arena_name):
    with shoal.Arena("4MiB", name=arena_name):
        with pytest.raises(shoal.ArenaExists, match=arena_name) as caught:
            shoal.Arena("4MiB", name=arena_name)
        assert isinstance(caught.value, FileExistsError)
        assert segment_path(arena_name).exists()  # the failed create removed nothing


def write_segment(name, content):
    path = segment_path(name)
    path.write_bytes(content)
    path.chmod(0o600)


def test_junk_is_not_an_arena_and_the_error_says_what_was_found(arena_name):
    write_segment(arena_name, b"GARBAGE!" + bytes(512 * 1024))
    with pytest.raises(shoal.NotAnArena, match="starts with 'GARBAGE!'") as caught:
        shoal.Arena.attach(arena_name)
    assert isinstance(caught.value, ValueError)
    assert arena_name in str(caught.value)


def test_a_tiny_file_is_not_an_arena(arena_name):
    write_segment(arena_name, b"hello")
    with pytest.raises(shoal.NotAnArena, match="it is 5 bytes"):
        shoal.Arena.attach(arena_name)


def test_another_layout_version_is_refused_naming_the_version(arena_name):
    # The header starts with the magic, the layout version and `ready`.
    header = b"SHOALARN" + struct.pack("<II", 99, 1)
    write_segment(arena_name, header + bytes(1024 * 1024 - len(header)))
    with pytest.raises(shoal.NotAnArena, match="layout version 99"):
        shoal.Arena.attach(arena_name)


# ------------------------------------------------------------ exhaustion --


def fill(arena, nbytes):
    """Makes buffers of `nbytes` until the arena is full; returns them."""
    blocks = []
    with pytest.raises(shoal.ArenaFull) as caught:
        while True:
            blocks.append(arena.empty(nbytes, "uint8"))
    assert isinstance(caught.value, MemoryError)
    assert f"arena '{arena.name}'" in str(caught.value)
    return blocks


def test_arena_full_is_a_memory_error_and_the_arena_recovers(arena_name):
    with shoal.Arena("2MiB", name=arena_name) as arena:
        baseline = settled_baseline(arena)
        blocks = fill(arena, 64 * 1024)
        assert len(blocks) >= 10  # 2 MiB minus the header is room for many
        # Still usable right after: free one block, its space is allocatable.
        blocks.pop()
        blocks.append(arena.empty(64 * 1024, "uint8"))
        count = len(blocks)
        blocks.clear()
        after = arena.stats()
        assert after["used"] == baseline["used"]
        assert after["blocks"] == baseline["blocks"]
        assert arena.check() == []
        # And it fills to exactly the same count again.
        again = fill(arena, 64 * 1024)
        assert len(again) == count
        again.clear()
        assert arena.used == baseline["used"]
        assert arena.check() == []


# ------------------------------------------------------------ reclaiming --


def test_a_killed_holder_is_reaped_back_to_baseline(arena_name, holder_process):
    with shoal.Arena("64MiB", name=arena_name) as arena:
        baseline = arena.stats()
        child = holder_process(arena_name, blocks=8, nbytes=100_000)
        during = arena.stats()
        assert during["used"] >= baseline["used"] + 8 * 100_000
        assert during["holders"] == baseline["holders"] + 1

        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        reaped_here = arena.reap()
        # The embedded broker sweeps every 100 ms and may have got there
        # first; either way exactly one holder was reaped, in full.
        assert reaped_here in (0, 1)
        after = arena.stats()
        assert after["reaped_holders"] == baseline["reaped_holders"] + 1
        assert after["used"] == baseline["used"]
        assert after["blocks"] == baseline["blocks"]
        assert after["holders"] == baseline["holders"]
        assert arena.check() == []
        assert arena.reap() == 0  # nothing left to reap


def test_a_process_that_exits_releases_its_own_holder(arena_name):
    code = textwrap.dedent(
        """
        import sys, shoal
        arena = shoal.Arena.attach(sys.argv[1])
        kept = [arena.empty(50_000, "uint8") for _ in range(5)]
        """
    )
    with shoal.Arena("16MiB", name=arena_name) as arena:
        baseline = arena.stats()
        subprocess.run([sys.executable, "-c", code, arena_name], check=True, timeout=60)
        after = arena.stats()
        assert after["used"] == baseline["used"]
        assert after["holders"] == baseline["holders"]
        # Released by the child itself on the way out, not reaped.
        assert after["reaped_holders"] == baseline["reaped_holders"]


def test_an_arena_in_a_cycle_with_its_module_is_collected(arena_name):
    # A second instance of the extension module (multi-phase init allows
    # it), holding an Arena that refers back to it through its type: a
    # reference cycle only the garbage collector can free.
    # The automatic collector is off meanwhile: it could free the cycle
    # before the first check (it did, on 3.12, when earlier tests had left
    # generation 0 nearly full).
    spec = importlib.util.find_spec("shoal._shoal")
    gc.disable()
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.Arena is not shoal.Arena  # its own state and types
        module.kept = module.Arena("4MiB", name=arena_name)
        module.kept_buffer = module.kept.empty(1000, "uint8")
        del module
        assert segment_path(arena_name).exists()
    finally:
        gc.enable()
    gc.collect()
    assert not segment_path(arena_name).exists()  # closed, so unlinked


def test_a_fork_child_leaves_the_parents_arena_alone(arena_name):
    # The child inherits a copy of the creating Arena (its broker thread is
    # not copied) and tears it down at exit: it must neither hang joining
    # that thread, nor unlink the segment, nor release the parent's blocks.
    code = textwrap.dedent(
        """
        import os, sys, shoal
        name = sys.argv[1]
        arena = shoal.Arena("4MiB", name=name)
        block = arena.empty(1000, "uint8")
        before = arena.stats()
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # a normal exit: the interpreter finalizes its objects
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert os.path.exists("/dev/shm/shoal." + name), "the child unlinked the arena"
        after = arena.stats()
        assert (after["used"], after["holders"]) == (before["used"], before["holders"]), (before, after)
        del block
        assert arena.check() == []
        print("parent ok")
        """
    )
    # fork() in a process with threads (the broker's) draws a DeprecationWarning.
    result = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code, arena_name],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "parent ok\n"
    assert not segment_path(arena_name).exists()  # the parent's close unlinked it


# ------------------------------------------- orphaned default arenas ----


def _default_arena_of_a_process_ending_with_os_exit():
    code = "import os, shoal; print(shoal.default_arena().name, flush=True); os._exit(0)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    name = out.stdout.strip()
    assert segment_path(name).exists()  # os._exit skipped the unlink
    return name


def _create_a_default_arena_in_a_new_process():
    subprocess.run([sys.executable, "-c", "import shoal; shoal.default_arena()"], check=True, timeout=60)


def test_orphaned_default_arena_is_swept_by_the_next_creator():
    name = _default_arena_of_a_process_ending_with_os_exit()
    _create_a_default_arena_in_a_new_process()
    assert not segment_path(name).exists()


def test_orphaned_default_arena_still_held_is_kept():
    name = _default_arena_of_a_process_ending_with_os_exit()
    holder_code = "import sys, shoal; a = shoal.Arena.attach(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", holder_code, name], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        _create_a_default_arena_in_a_new_process()
        assert segment_path(name).exists()  # a live process holds it
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    _create_a_default_arena_in_a_new_process()
    assert not segment_path(name).exists()
