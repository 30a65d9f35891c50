"""End-to-end tests of the `shoal` debug CLI (tools/), driving the real binary.

Arenas come from the standalone daemon `shoal-broker`, started with a sweep
interval of an hour so that the tests, not the broker, decide when dead
holders are reaped. Holders and blocks come from `arena_fixture`, a test
fixture built from tools/testing/ with -Dtests=true: it attaches, allocates
N blocks, prints READY, and waits to be killed. Nothing here needs the
Python extension.

Where the programs are found (an explicit variable wins over PATH, so that
a stale `pip install` in the active environment is never tested by mistake):
  shoal          $SHOAL_CLI (e.g. build/tools/shoal), else on PATH
  shoal-broker   $SHOAL_BROKER, else broker/ beside the CLI's build dir, else on PATH
  arena_fixture  $SHOAL_ARENA_FIXTURE, else beside the CLI, else build/tools/ of this checkout
A test skips, saying which, when one of them cannot be found.
"""

import json
import os
import pathlib
import random
import re
import shutil
import signal
import struct
import subprocess
import time

import pytest

from cli_programs import NOBODY, LineReader, block_bytes, broker_path, cli_path, fixture_path, shoal  # noqa: F401 (fixtures)
from cli_programs import unique_name as _unique
from cli_programs import stop_process as _stop

SHM = pathlib.Path("/dev/shm")
ARENA_SIZE = 16 * 1024 * 1024

# Layout facts the tests need to build expectations and to corrupt copies
# (include/shoal/layout.hpp).
ALIGN = 64
BLOCK_HEADER = struct.Struct("<QQQIIIIQQII")  # size prev_size generation tag state kind refcount requested created_ns creator_slot site
ARENA_HEADER_START = struct.Struct("<8sIIQQQQQ")  # magic layout_version ready arena_size bitmap_offset bitmap_bytes heap_begin heap_end
BLOCK_TAG = 0x4B4C4253
STATE_USED = 0x44455355
KIND_RAW = 1
SLOT_ACTIVE = 0x45564C41
LEDGER_PAYLOAD = 64 + 1020 * 16  # LedgerChunk + kLedgerChunkEntries entries
HEADER_BYTES = 512 * 1024


LS_ARENA_KEYS = ["name", "path", "size", "used_bytes", "holders", "creator", "reaper", "state", "created_ns", "read"]
READ_KEYS = ["consistent", "stability", "attempts", "lock_owner_pid", "note"]
STAT_KEYS = [
    "json_version", "arena", "path", "size", "heap_bytes", "used_bytes", "free_bytes",
    "largest_free_block", "fragmentation", "blocks", "holders", "repairs", "reaped_holders",
    "creator", "created_ns", "walk_error", "read",
]
KINDS = ["raw", "blob", "object", "channel", "ledger", "cached", "channel_end", "free", "unknown"]
HOLDER_KEYS = [
    "slot", "pid", "start_time", "interpreter_id", "alive", "refs_held", "bytes_held", "attached_ns",
]


LEDGER_BLOCK = block_bytes(LEDGER_PAYLOAD)


# ------------------------------------------------------------ programs ----


REPO = pathlib.Path(__file__).resolve().parent.parent.parent


# ---------------------------------------------------------- processes ----


class Arena:
    def __init__(self, name, broker):
        self.name = name
        self.path = SHM / f"shoal.{name}"
        self.broker = broker

    def header(self):
        with open(self.path, "rb") as f:
            return ARENA_HEADER_START.unpack(f.read(ARENA_HEADER_START.size))


class Holder:
    def __init__(self, proc, line):
        self.proc = proc
        fields = dict(part.split("=") for part in line.split()[1:])
        self.pid = int(fields["pid"])
        self.slot = int(fields["slot"])

    def kill9(self, reap_zombie=True):
        self.proc.send_signal(signal.SIGKILL)
        if reap_zombie:
            self.proc.wait()




@pytest.fixture
def new_arena(broker_path):
    """Factory: a live arena made by shoal-broker; stopped (and unlinked) after the test."""
    brokers = []

    def make(size="16MiB"):
        name = _unique("arena")
        proc = subprocess.Popen(
            [broker_path, "--name", name, "--size", size, "--interval", "3600000"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        brokers.append((proc, name))
        LineReader(proc).wait_for("shoal-broker: serving")
        return Arena(name, proc)

    yield make
    for proc, name in brokers:
        _stop(proc)
        (SHM / f"shoal.{name}").unlink(missing_ok=True)


@pytest.fixture
def arena(new_arena):
    return new_arena()


@pytest.fixture
def hold(fixture_path):
    """Factory: an arena_fixture process holding blocks; killed after the test."""
    procs = []

    def make(arena, blocks=0, nbytes=4096, kind="raw", interpreter=None, churn_us=0, pause_in_lock=False):
        args = [fixture_path, "--name", arena.name, "--blocks", str(blocks), "--bytes", str(nbytes), "--kind", kind]
        if interpreter is not None:
            args += ["--interpreter", str(interpreter)]
        if churn_us:
            args += ["--churn-us", str(churn_us)]
        if pause_in_lock:
            args.append("--pause-in-lock")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        reader = LineReader(proc)
        holder = Holder(proc, reader.wait_for("READY"))
        if pause_in_lock:
            reader.wait_for("PAUSED")
        return holder

    yield make
    for proc in procs:
        _stop(proc)


@pytest.fixture
def shm_files():
    """Factory for extra /dev/shm/shoal.* files (copies, junk); removed after the test."""
    made = []

    def make(prefix):
        name = _unique(prefix)
        made.append(SHM / f"shoal.{name}")
        return name, made[-1]

    yield make
    for path in made:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- CLI ----


def copy_arena(arena, shm_files, prefix="copy"):
    name, path = shm_files(prefix)
    shutil.copyfile(arena.path, path)
    os.chmod(path, 0o600)
    return name, path


def walk_blocks(path):
    """(offset, BlockHeader fields) of every block of an arena file, in chain order."""
    data = path.read_bytes()
    heap_begin, heap_end = ARENA_HEADER_START.unpack_from(data)[6:8]
    at = heap_begin
    while at < heap_end:
        fields = BLOCK_HEADER.unpack_from(data, at)
        yield at, fields
        at += fields[0]


def patch(path, offset, fmt, value):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack(fmt, value))


def holder_slot_offset(path, pid):
    """Offset of the active holder slot of `pid`, found by its first bytes (state, pid)."""
    data = path.read_bytes()[:HEADER_BYTES]
    needle = struct.pack("<Ii", SLOT_ACTIVE, pid)
    at = data.find(needle)
    while at != -1 and at % ALIGN != 0:
        at = data.find(needle, at + 1)
    assert at != -1, f"no active holder slot for pid {pid}"
    return at


def process_start_time(pid):
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[19])  # field 22


def can_switch_user():
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


needs_root = pytest.mark.skipif(not can_switch_user(), reason="needs root and setpriv to run the CLI as 'nobody'")


# --------------------------------------------------------------- help ----

COMMANDS = ["ls", "stat", "holders", "check", "reap", "destroy"]


def test_help_lists_every_command_and_the_exit_status(shoal):
    out = shoal.run("--help", expect=0).stdout
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", out, re.M), command
    assert "Exit status: 0" in out and "2 usage error" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_json_and_exit_status(shoal, command):
    out = shoal.run(command, "--help", expect=0).stdout
    assert "--json" in out
    assert "Exit status: 0" in out
    if command == "destroy":
        assert "--force" in out


@pytest.mark.parametrize(
    "args",
    [[], ["frobnicate"], ["stat"], ["stat", "x", "--bogus"], ["ls", "extra"], ["destroy"]],
    ids=["nothing", "unknown-command", "missing-name", "unknown-option", "extra-argument", "destroy-no-name"],
)
def test_usage_errors_exit_2(shoal, args):
    shoal.run(*args, expect=2)


def project_version():
    """project()'s version in meson.build: the one place the version lives."""
    return re.search(r"version\s*:\s*'([^']+)'", (REPO / "meson.build").read_text()).group(1)


def test_version_of_both_executables(shoal, broker_path):
    assert shoal.run("--version", expect=0).stdout.strip() == f"shoal {project_version()}"
    result = subprocess.run([broker_path, "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"shoal-broker {project_version()}"


def test_help_names_the_choices_without_enum_values(shoal):
    out = shoal.run("objects", "--help", expect=0).stdout
    assert "->" not in out, out
    assert re.search(r"--sort.*size.*refs.*age", out), out
    assert re.search(r"--group-by.*kind.*holder.*site", out), out
    refused = shoal.run("objects", "x", "--sort", "colour", expect=2)
    assert "->" not in refused.stderr and "size" in refused.stderr, refused.stderr
    shoal.run("objects", "x", "--sort", "2", expect=2)  # the enum's numbers are not names
    shoal.run("objects", "x", "--group-by", "1", expect=2)


def test_invalid_arena_name_is_a_usage_error(shoal):
    result = shoal.run("stat", "a/b", expect=2)
    assert "shoal: invalid arena name 'a/b'" in result.stderr
    assert shoal.json("stat", "a/b", expect=2)["error"]["code"] == "invalid_argument"


# ----------------------------------------------------------------- ls ----


def test_ls_shows_arena_holders_and_creator(shoal, arena, hold):
    hold(arena, blocks=3, nbytes=100_000)
    expected_used = 3 * block_bytes(100_000) + LEDGER_BLOCK

    doc = shoal.json("ls")
    assert doc["directory"] == "/dev/shm"
    [entry] = [a for a in doc["arenas"] if a["name"] == arena.name]
    assert list(entry) == LS_ARENA_KEYS
    assert entry["path"] == str(arena.path)
    assert entry["size"] == ARENA_SIZE
    assert entry["used_bytes"] == expected_used
    assert entry["holders"] == {"alive": 1, "dead": 0}
    assert entry["creator"] == {"pid": arena.broker.pid, "alive": True}
    assert list(entry["read"]) == READ_KEYS and entry["read"]["consistent"] is True

    out = shoal.run("ls", expect=0).stdout
    assert out.splitlines()[0].split() == ["NAME", "SIZE", "USED", "HOLDERS", "DEAD", "CREATOR", "STATE", "NOTE"]
    row = re.compile(
        rf"^{re.escape(arena.name)}\s+16\.0 MiB\s+\d+\.\d KiB\s+1\s+0\s+{arena.broker.pid} \(alive\)\s+open$", re.M)
    assert row.search(out), out


def test_bytes_shows_exact_sizes_in_the_tables(shoal, arena, hold):
    held = hold(arena, blocks=2, nbytes=100_000)
    used = shoal.json("stat", arena.name)["used_bytes"]

    ls = shoal.run("ls", "--bytes", expect=0).stdout
    assert re.search(rf"^{re.escape(arena.name)}\s+{ARENA_SIZE}\s+{used}\s+1\s+0\s", ls, re.M), ls
    stat = shoal.run("stat", arena.name, "--bytes", expect=0).stdout
    assert re.search(rf"^size\s+{ARENA_SIZE}$", stat, re.M) and re.search(rf"^used\s+{used}\s", stat, re.M), stat
    assert re.search(rf"^raw\s+2\s+{2 * block_bytes(100_000)}$", stat, re.M), stat
    holders = shoal.run("holders", arena.name, "--bytes", expect=0).stdout
    assert re.search(rf"^\s*{held.slot}\s+{held.pid}\s+-\s+alive\s+2\s+{2 * block_bytes(100_000)}\s", holders,
                     re.M), holders
    objects = shoal.run("objects", arena.name, "--bytes", expect=0).stdout
    assert re.search(r"\sraw\s+100000\s", objects), objects
    grouped = shoal.run("objects", arena.name, "--group-by", "kind", "--bytes", expect=0).stdout
    assert re.search(rf"^raw\s+2\s+{2 * block_bytes(100_000)}$", grouped, re.M), grouped
    watch = shoal.run("watch", arena.name, "--count", "1", "--bytes", expect=0).stdout
    assert f"used {used} of " in watch, watch
    # Without --bytes: units, as before.
    assert "16.0 MiB" in shoal.run("stat", arena.name, expect=0).stdout
    for command in ("ls", "stat", "holders", "objects", "channels", "watch"):
        assert "--bytes" in shoal.run(command, "--help", expect=0).stdout, command


def test_ls_counts_dead_holders(shoal, arena, hold):
    hold(arena, blocks=1).kill9()
    hold(arena, blocks=1)
    [entry] = [a for a in shoal.json("ls")["arenas"] if a["name"] == arena.name]
    assert entry["holders"] == {"alive": 1, "dead": 1}


def test_ls_and_stat_tell_a_dead_creator(shoal, arena):
    arena.broker.send_signal(signal.SIGKILL)  # the arena outlives its creator
    arena.broker.wait()
    [entry] = [a for a in shoal.json("ls")["arenas"] if a["name"] == arena.name]
    assert entry["creator"] == {"pid": arena.broker.pid, "alive": False}
    assert shoal.json("stat", arena.name)["creator"] == {"pid": arena.broker.pid, "alive": False}
    # Nobody is left to clean it up: no holder, no reaper, its creator gone.
    assert re.search(rf"^{re.escape(arena.name)}\s.*\s{arena.broker.pid} \(dead\)\s+abandoned$", shoal.run("ls").stdout,
                     re.M)


def test_ls_lists_files_that_are_not_arenas_with_the_reason(shoal, shm_files):
    big_name, big = shm_files("junk-big")
    big.write_bytes(b"x" * (HEADER_BYTES + 4096))
    tiny_name, tiny = shm_files("junk-tiny")
    tiny.write_bytes(b"hello")

    doc = shoal.json("ls")
    unreadable = {u["name"]: u for u in doc["unreadable"]}
    assert unreadable[big_name]["path"] == str(big)
    assert unreadable[big_name]["error"]["code"] == "not_an_arena"
    assert "starts with 'xxxxxxxx'" in unreadable[big_name]["error"]["message"]
    assert unreadable[tiny_name]["error"]["code"] == "not_an_arena"
    assert all(a["name"] not in (big_name, tiny_name) for a in doc["arenas"])

    out = shoal.run("ls", expect=0).stdout
    assert re.search(rf"^{re.escape(big_name)}\s+-\s+-\s+-\s+-\s+-\s+.*is not a shoal arena", out, re.M), out


# --------------------------------------------------------------- stat ----


def test_stat_counts_blocks_by_kind_exactly(shoal, arena, hold):
    hold(arena, blocks=5, nbytes=100_000)
    hold(arena, blocks=2, nbytes=1 << 20, kind="blob")
    heap_begin = arena.header()[6]
    raw, blob = 5 * block_bytes(100_000), 2 * block_bytes(1 << 20)
    used = raw + blob + 2 * LEDGER_BLOCK
    heap = ARENA_SIZE - heap_begin

    doc = shoal.json("stat", arena.name)
    assert list(doc) == STAT_KEYS
    assert doc["arena"] == arena.name and doc["path"] == str(arena.path)
    assert doc["size"] == ARENA_SIZE
    assert doc["heap_bytes"] == heap
    assert doc["used_bytes"] == used
    assert doc["free_bytes"] == heap - used
    assert list(doc["blocks"]) == KINDS
    assert doc["blocks"]["raw"] == {"count": 5, "bytes": raw}
    assert doc["blocks"]["blob"] == {"count": 2, "bytes": blob}
    assert doc["blocks"]["ledger"] == {"count": 2, "bytes": 2 * LEDGER_BLOCK}
    assert doc["blocks"]["object"] == doc["blocks"]["channel"] == doc["blocks"]["unknown"] == {"count": 0, "bytes": 0}
    # Allocation carves blocks off the front of one free block: the rest is one piece.
    assert doc["blocks"]["free"] == {"count": 1, "bytes": heap - used}
    assert doc["largest_free_block"] == heap - used
    assert doc["fragmentation"] == 0.0
    assert doc["holders"] == {"alive": 2, "dead": 0}
    assert doc["repairs"] == 0 and doc["reaped_holders"] == 0
    assert doc["creator"] == {"pid": arena.broker.pid, "alive": True}
    assert doc["walk_error"] is None
    assert doc["read"]["consistent"] is True

    out = shoal.run("stat", arena.name, expect=0).stdout
    assert re.search(r"^size\s+16\.0 MiB$", out, re.M), out
    assert re.search(r"^fragmentation\s+0\.0%$", out, re.M), out
    assert re.search(r"^holders\s+2 alive, 0 dead$", out, re.M), out
    assert re.search(r"^raw\s+5\s+488\.8 KiB$", out, re.M), out
    assert re.search(r"^blob\s+2\s+2\.0 MiB$", out, re.M), out
    assert re.search(r"^ledger\s+2\s+32\.1 KiB$", out, re.M), out
    assert out.splitlines()[0].startswith(f"arena ") and arena.name in out.splitlines()[0]


def test_stat_fragmentation_after_holes(shoal, arena, hold):
    """Blocks freed between live ones leave holes: free space in several pieces."""
    first = hold(arena, blocks=4, nbytes=1 << 20)
    hold(arena, blocks=1, nbytes=1 << 20)
    _stop(first.proc)  # releases its 4 MiB (and its ledger): a hole before the second holder's blocks
    doc = shoal.json("stat", arena.name)
    free = doc["free_bytes"]
    assert doc["blocks"]["free"]["count"] == 2
    assert doc["blocks"]["free"]["bytes"] == free
    assert doc["fragmentation"] == pytest.approx(1 - doc["largest_free_block"] / free)
    assert 0 < doc["fragmentation"] < 1


# ------------------------------------------------------------ holders ----


def test_holders_shows_each_holder_alive_then_dead(shoal, arena, hold):
    h = hold(arena, blocks=2, nbytes=10_000, interpreter=7)

    doc = shoal.json("holders", arena.name)
    [view] = doc["holders"]
    assert list(view) == HOLDER_KEYS
    assert view["slot"] == h.slot and view["pid"] == h.pid
    assert view["start_time"] == process_start_time(h.pid)
    assert view["interpreter_id"] == 7
    assert view["alive"] is True
    assert view["refs_held"] == 2 and view["bytes_held"] == 2 * block_bytes(10_000)
    assert abs(view["attached_ns"] / 1e9 - time.time()) < 60
    assert doc["read"]["consistent"] is True

    out = shoal.run("holders", arena.name, expect=0).stdout
    assert out.splitlines()[0].split() == ["SLOT", "PID", "INTERP", "STATE", "REFS", "HELD", "ATTACHED"]
    assert re.search(rf"^\s*{h.slot}\s+{h.pid}\s+7\s+alive\s+2\s+19\.8 KiB\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d$", out, re.M), out

    h.kill9()
    [view] = shoal.json("holders", arena.name)["holders"]
    assert view["alive"] is False and view["refs_held"] == 2
    out = shoal.run("holders", arena.name, expect=0).stdout
    assert re.search(rf"^\s*{h.slot}\s+{h.pid}\s+7\s+dead\s", out, re.M), out
    assert f"shoal reap {arena.name}" in out


def test_holders_without_interpreter_and_empty_arena(shoal, arena, hold):
    assert shoal.json("holders", arena.name)["holders"] == []
    assert f"arena '{arena.name}' has no holders" in shoal.run("holders", arena.name, expect=0).stdout
    hold(arena)
    [view] = shoal.json("holders", arena.name)["holders"]
    assert view["interpreter_id"] is None


def test_a_zombie_holder_is_dead(shoal, arena, hold):
    h = hold(arena, blocks=1)
    h.kill9(reap_zombie=False)  # our child: a zombie until we wait() for it
    deadline = time.monotonic() + 5
    while pathlib.Path(f"/proc/{h.pid}/stat").read_text().split(")")[-1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the fixture did not become a zombie"
        time.sleep(0.01)
    [view] = shoal.json("holders", arena.name)["holders"]
    assert view["pid"] == h.pid and view["alive"] is False
    h.proc.wait()


def test_a_reused_pid_does_not_look_alive(shoal, arena, hold, shm_files):
    """A slot whose pid runs but whose start time differs names another, dead process."""
    h = hold(arena, blocks=1)
    name, path = copy_arena(arena, shm_files)
    slot = holder_slot_offset(path, h.pid)
    patch(path, slot + 8, "<Q", process_start_time(h.pid) - 1)  # HolderSlot::start_time
    [view] = shoal.json("holders", name)["holders"]
    assert view["pid"] == h.pid and view["alive"] is False
    [view] = shoal.json("holders", arena.name)["holders"]  # the original is untouched
    assert view["alive"] is True


# -------------------------------------------------------------- check ----


def test_check_passes_on_a_healthy_arena(shoal, arena, hold):
    hold(arena, blocks=10, nbytes=5000)
    hold(arena, blocks=3, nbytes=1 << 20, kind="blob")
    assert shoal.run("check", arena.name, expect=0).stdout == f"arena '{arena.name}' is sound\n"
    doc = shoal.json("check", arena.name)
    assert list(doc) == ["json_version", "arena", "sound", "problems", "read"]
    assert doc["sound"] is True and doc["problems"] == [] and doc["read"]["consistent"] is True


def test_check_fails_on_a_corrupted_copy(shoal, arena, hold, shm_files):
    hold(arena, blocks=4, nbytes=5000)
    name, path = copy_arena(arena, shm_files)
    shoal.run("check", name, expect=0)  # the copy is an arena in its own right

    first_block = arena.header()[6]
    patch(path, first_block + 24, "<B", path.read_bytes()[first_block + 24] ^ 0xFF)  # a byte of its tag
    out = shoal.run("check", name, expect=1).stdout
    assert out.startswith(f"arena '{name}' has ")
    assert re.search(rf"^  - chain: block {first_block} has no block tag", out, re.M), out
    doc = shoal.json("check", name, expect=1)
    assert doc["sound"] is False
    assert any("no block tag" in p for p in doc["problems"])

    shoal.run("check", arena.name, expect=0)  # the original is untouched


def test_check_finds_a_wrong_refcount(shoal, arena, hold, shm_files):
    hold(arena, blocks=4, nbytes=5000)
    name, path = copy_arena(arena, shm_files)
    offset, fields = next((at, f) for at, f in walk_blocks(path) if f[4] == STATE_USED and f[5] == KIND_RAW)
    patch(path, offset + 36, "<I", fields[6] + 1)  # BlockHeader::refcount
    doc = shoal.json("check", name, expect=1)
    assert doc["problems"] == [f"ownership: block {offset} ({fields[0]} bytes) has refcount 2 but 1 owners"]


def test_stat_reports_a_broken_chain(shoal, arena, hold, shm_files):
    hold(arena, blocks=2)
    name, path = copy_arena(arena, shm_files)
    blocks = list(walk_blocks(path))
    second = blocks[1][0]
    patch(path, second, "<Q", 7)  # an impossible size
    doc = shoal.json("stat", name, expect=1)
    assert doc["walk_error"] == f"block at offset {second} has impossible size 7"
    assert "the block walk stopped early" in shoal.run("stat", name, expect=1).stdout


# --------------------------------------------------------------- reap ----


@pytest.mark.parametrize("form", ["human", "json"])
def test_reap_after_kill9_returns_used_bytes_to_baseline(shoal, arena, hold, form):
    hold(arena, blocks=2, nbytes=3000)  # a live holder, untouched by the reap
    baseline = shoal.json("stat", arena.name)["used_bytes"]
    victim = hold(arena, blocks=4, nbytes=1 << 20)
    held = 4 * block_bytes(1 << 20) + LEDGER_BLOCK
    assert shoal.json("stat", arena.name)["used_bytes"] == baseline + held
    victim.kill9()
    assert shoal.json("stat", arena.name)["holders"] == {"alive": 1, "dead": 1}

    if form == "json":
        doc = shoal.json("reap", arena.name)
        assert doc == {"json_version": 1, "arena": arena.name, "reaped": 1, "expired_in_flight": 0,
                       "used_before": baseline + held, "used_after": baseline}
    else:
        out = shoal.run("reap", arena.name, expect=0).stdout
        assert out.startswith(f"arena '{arena.name}': reaped 1 dead holder, ended 0 expired in-flight references; used 4.0 MiB before, ")

    stat = shoal.json("stat", arena.name)
    assert stat["used_bytes"] == baseline
    assert stat["holders"] == {"alive": 1, "dead": 0}
    assert stat["reaped_holders"] == 1
    shoal.run("check", arena.name, expect=0)
    assert shoal.json("reap", arena.name)["reaped"] == 0  # nothing left to reap


# ------------------------------------------------------------ destroy ----


def test_destroy_refuses_while_a_holder_lives_then_force_closes_it(shoal, arena, hold):
    h = hold(arena, blocks=1)
    result = shoal.run("destroy", arena.name, expect=1)
    assert f"pid {h.pid} (slot {h.slot})" in result.stderr and "refusing" in result.stderr
    doc = shoal.json("destroy", arena.name, expect=1)
    assert doc["destroyed"] is False and doc["forced"] is False
    assert doc["live_holders"] == [{"slot": h.slot, "pid": h.pid}]
    assert arena.path.exists()

    # --force never unlinks under a live holder: the arena is closing, and
    # the name stays taken until the last holder has left.
    out = shoal.run("destroy", arena.name, "--force", expect=0).stdout
    assert out.startswith(f"arena '{arena.name}' is closing")
    assert f"pid {h.pid}" in out  # it names who keeps it
    assert arena.path.exists()
    [entry] = [a for a in shoal.json("ls")["arenas"] if a["name"] == arena.name]
    assert entry["state"] == "closing"
    assert "closing" in shoal.run("ls").stdout
    shoal_py = pytest.importorskip("shoal")
    with pytest.raises(shoal_py.ArenaNotFound, match="being destroyed"):
        shoal_py.Arena.attach(arena.name)  # no new holders
    with pytest.raises(shoal_py.ArenaExists):
        shoal_py.Arena(name=arena.name, size="16MiB")  # and no second arena of the name
    again = shoal.json("destroy", arena.name, "--force")
    assert again["destroyed"] is False and again["closing"] is True
    _stop(h.proc)  # the last holder leaves, and unlinks it
    assert not arena.path.exists()
    shoal.run("stat", arena.name, expect=1)


def test_destroy_force_of_a_closing_arena_whose_last_holder_died(shoal, arena, hold):
    h = hold(arena, blocks=1)
    shoal.run("destroy", arena.name, "--force", expect=0)
    h.kill9()  # it never leaves cleanly; the reaper of its slot unlinks the arena
    shoal.json("reap", arena.name)
    assert not arena.path.exists()


def test_destroy_json_with_only_dead_holders(shoal, arena, hold):
    hold(arena, blocks=1).kill9()  # a dead holder does not block destroy
    doc = shoal.json("destroy", arena.name)
    assert doc == {
        "json_version": 1, "arena": arena.name, "path": str(arena.path), "destroyed": True, "closing": False,
        "forced": False,
        "live_holders": [], "creator": {"pid": arena.broker.pid, "alive": True}, "unread_reason": None,
    }
    assert not arena.path.exists()


def test_destroy_never_unlinks_a_file_that_is_not_an_arena(shoal, shm_files):
    name, path = shm_files("junk")
    path.write_bytes(b"\x01" * (HEADER_BYTES + 64))
    for args in (["destroy", name], ["destroy", name, "--force"]):
        assert shoal.json(*args, expect=1)["error"]["code"] == "not_an_arena"
    assert path.exists()


def test_destroy_force_removes_an_arena_of_another_layout_version(shoal, arena, shm_files):
    name, path = copy_arena(arena, shm_files)
    patch(path, 8, "<I", 99)
    shoal.run("destroy", name, expect=1)
    doc = shoal.json("destroy", name, "--force")
    assert doc["destroyed"] is True and "layout version 99" in doc["unread_reason"]
    assert not path.exists()


# ------------------------------------------------------------- errors ----

NAMED_COMMANDS = ["stat", "holders", "check", "reap", "destroy"]


@pytest.mark.parametrize("command", NAMED_COMMANDS)
def test_missing_arena(shoal, command):
    name = _unique("missing")
    result = shoal.run(command, name, expect=1)
    assert result.stderr == f"shoal: no arena '{name}' (/dev/shm/shoal.{name}): nothing of that name exists\n"
    assert shoal.json(command, name, expect=1)["error"]["code"] == "arena_not_found"


@pytest.mark.parametrize("command", NAMED_COMMANDS)
def test_not_an_arena(shoal, shm_files, command):
    name, path = shm_files("junk")
    path.write_bytes(b"GARBAGE!" * (HEADER_BYTES // 8 + 8))
    result = shoal.run(command, name, expect=1)
    assert result.stderr.startswith(f"shoal: {path} is not a shoal arena: it starts with 'GARBAGE!'")
    assert shoal.json(command, name, expect=1)["error"]["code"] == "not_an_arena"


@pytest.mark.parametrize("command", ["stat", "holders", "check", "reap"])
def test_other_layout_version(shoal, arena, shm_files, command):
    name, path = copy_arena(arena, shm_files)
    patch(path, 8, "<I", 99)  # ArenaHeader::layout_version
    result = shoal.run(command, name, expect=1)
    assert f"arena '{name}' has layout version 99" in result.stderr
    assert shoal.json(command, name, expect=1)["error"]["code"] == "layout_mismatch"


@needs_root
@pytest.mark.parametrize("command", NAMED_COMMANDS)
def test_permission_denied(shoal, arena, command):
    result = shoal.run(command, arena.name, expect=1, as_nobody=True)
    assert f"permission denied opening arena '{arena.name}'" in result.stderr
    assert shoal.json(command, arena.name, expect=1, as_nobody=True)["error"]["code"] == "permission_denied"
    [entry] = [u for u in shoal.json("ls", as_nobody=True)["unreadable"] if u["name"] == arena.name]
    assert entry["error"]["code"] == "permission_denied"


@needs_root
def test_inspecting_needs_only_read_permission(shoal, arena, hold, shm_files):
    """The read-only commands work on an arena its user may read but not write: they map it PROT_READ."""
    hold(arena, blocks=3)
    name, path = copy_arena(arena, shm_files)
    os.chown(path, NOBODY, NOBODY)
    os.chmod(path, 0o400)
    shoal.run("check", name, expect=0, as_nobody=True)
    assert shoal.json("stat", name, as_nobody=True)["blocks"]["raw"]["count"] == 3
    assert len(shoal.json("holders", name, as_nobody=True)["holders"]) == 1
    assert any(a["name"] == name for a in shoal.json("ls", as_nobody=True)["arenas"])
    # reap needs to write: the same user is refused.
    assert shoal.json("reap", name, expect=1, as_nobody=True)["error"]["code"] == "permission_denied"


# ------------------------------------------- a changing or damaged arena ----


def test_a_locked_then_abandoned_arena_is_read_without_waiting(shoal, arena, hold):
    """A holder stopped inside the arena lock, then killed there: the CLI neither hangs nor trusts blindly."""
    h = hold(arena, blocks=2, pause_in_lock=True)
    started = time.monotonic()
    doc = shoal.json("stat", arena.name)
    assert time.monotonic() - started < 5
    assert doc["read"]["stability"] == "held" and doc["read"]["lock_owner_pid"] == h.pid
    assert "stayed locked by live process" in shoal.run("holders", arena.name, expect=0).stdout

    h.kill9()
    doc = shoal.json("stat", arena.name)
    assert doc["read"]["stability"] == "abandoned" and doc["read"]["consistent"] is False
    assert f"locked by process {h.pid}, which has died" in doc["read"]["note"]
    check = shoal.json("check", arena.name, expect=None)
    assert check["read"]["stability"] == "abandoned"

    # The next process to lock it (here `reap`) repairs, and all is sound again.
    assert shoal.json("reap", arena.name)["reaped"] == 1
    doc = shoal.json("stat", arena.name)
    assert doc["read"]["stability"] == "stable" and doc["repairs"] == 1 and doc["used_bytes"] == 0
    shoal.run("check", arena.name, expect=0)


def test_commands_tolerate_an_arena_changing_underneath(shoal, arena, hold):
    hold(arena, blocks=20, nbytes=3000)
    hold(arena, blocks=10, nbytes=2000, churn_us=100)  # allocates and frees all the time
    stabilities = []
    for _ in range(15):
        stat = shoal.json("stat", arena.name)
        assert stat["walk_error"] is None
        check = shoal.json("check", arena.name, expect=None)
        stabilities += [stat["read"]["stability"], check["read"]["stability"]]
        if check["read"]["consistent"]:
            assert check["sound"] is True, check["problems"]
        holders = shoal.json("holders", arena.name)
        assert [h["alive"] for h in holders["holders"]] == [True, True]
    assert set(stabilities) <= {"stable", "changing"}
    assert stabilities.count("stable") > len(stabilities) // 2, stabilities


FUZZ_ROUNDS = int(os.environ.get("SHOAL_CLI_FUZZ_ROUNDS", "40"))


def test_corrupted_arenas_never_crash_the_cli(shoal, new_arena, hold, shm_files):
    """Random damage to header, holder slots, bitmap and block headers: always exit 0 or 1, with JSON."""
    arena = new_arena("4MiB")
    for size in (100, 5000, 70_000, 300_000):
        hold(arena, blocks=3, nbytes=size)
    pristine = arena.path.read_bytes()
    heap_begin = arena.header()[6]
    block_offsets = [at for at, _ in walk_blocks(arena.path)]
    seed = int(os.environ.get("SHOAL_CLI_FUZZ_SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    name, path = shm_files("fuzz")

    def damage_offset():
        # Damage to the first 64 bytes makes attach refuse the arena, which is
        # quickly covered: aim most damage past it, where the walkers work.
        region = rng.choices(["geometry", "counters", "slots", "bitmap", "block", "heap"], [1, 3, 3, 2, 8, 2])[0]
        if region == "geometry":
            return rng.randrange(0, 64)
        if region == "counters":
            return rng.randrange(64, 4096)
        if region == "slots":
            return rng.randrange(4096, HEADER_BYTES)
        if region == "bitmap":
            return rng.randrange(HEADER_BYTES, heap_begin)
        if region == "block":
            return rng.choice(block_offsets) + rng.randrange(0, 64)
        return rng.randrange(heap_begin, len(pristine))

    for round_ in range(FUZZ_ROUNDS):
        data = bytearray(pristine)
        for _ in range(rng.randint(1, 8)):
            data[damage_offset()] ^= 1 << rng.randrange(8)
        path.write_bytes(data)
        for command in ("stat", "holders", "check", "objects", "channels"):
            result = shoal.run(command, name, "--json")
            assert result.returncode in (0, 1), f"seed {seed} round {round_}: {command} exited {result.returncode}"
            json.loads(result.stdout)  # always one JSON document


# ------------------------------------------------------------ abandoned ----


def test_ls_shows_an_abandoned_arena_and_reap_abandoned_removes_only_it(shoal, new_arena, hold):
    live = new_arena()
    hold(live, blocks=1)
    gone = new_arena()
    hold(gone, blocks=2).kill9()  # every process of it killed
    gone.broker.send_signal(signal.SIGKILL)
    gone.broker.wait()

    states = {a["name"]: a["state"] for a in shoal.json("ls")["arenas"]}
    assert states[gone.name] == "abandoned" and states[live.name] == "open"
    assert re.search(rf"^{re.escape(gone.name)}\s.*\sabandoned$", shoal.run("ls").stdout, re.M)

    # (By name: other test runs on this machine may have abandoned arenas of
    # their own in the middle of a test.)
    assert shoal.json("reap", "--abandoned", live.name)["removed"] == []
    assert live.path.exists()
    assert shoal.json("reap", "--abandoned", gone.name)["removed"] == [gone.name]
    assert not gone.path.exists()
    assert "removed 0 abandoned arenas" in shoal.run("reap", "--abandoned", live.name).stdout
    shoal.run("reap", expect=2)  # neither NAME nor --abandoned
