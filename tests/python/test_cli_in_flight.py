"""The `shoal` CLI and the arena's in-flight table (references the arena holds for pickles).

An in-flight entry owns one reference on its block until its deadline, like a
holder's ledger entry: `objects` shows it among a block's owners, `holders`
lists the entries after the holders, `stat` counts them, and `check` counts
them as owners, so a block held only by one is not a leak.

The entries are made without Python pickling: `arena_fixture
--in-flight-ms MS` (tools/testing/) issues one (InFlight::issue) on each block
it holds and prints "TICKET entry=.. number=.. block=OFF:GEN" before READY;
with --in-flight-only it drops its own references. Arenas come from
`shoal-broker`, whose every round also ends the entries past their deadline:
an hour apart unless a test wants expiry.

Programs are found as in test_cli.py: $SHOAL_CLI (e.g. build/tools/shoal) or
PATH; $SHOAL_BROKER or broker/ beside the CLI's build dir or PATH;
$SHOAL_ARENA_FIXTURE or beside the CLI or build/tools/ of this checkout.
"""

import json
import os
import pathlib
import random
import re
import shutil
import struct
import subprocess
import time
import uuid

import pytest

from cli_programs import LineReader, block_bytes, broker_path, cli_path, fixture_path  # noqa: F401 (fixtures)
from cli_programs import stop_process

SHM = pathlib.Path("/dev/shm")
REPO = pathlib.Path(__file__).resolve().parent.parent.parent
RUN_TIMEOUT = 30
HOUR_MS = 3_600_000

# include/shoal/layout.hpp, "in-flight table"
ALIGN = 64
IN_FLIGHT_OFFSET = 256 * 1024  # kInFlightOffset
IN_FLIGHT_HEADER = struct.Struct("<QQ")  # live extent (then 48 reserved bytes)
IN_FLIGHT_ENTRY = struct.Struct("<QQQQQQiIQ")  # offset generation ticket created_ns created_boot expires_boot pid
IN_FLIGHT_FIRST = IN_FLIGHT_OFFSET + 64

HOLDERS_DOC_KEYS = ["json_version", "arena", "holders", "in_flight", "read"]
ENTRY_KEYS = ["entry", "ticket", "handle", "offset", "generation", "kind", "size", "created_ns", "age_ns",
              "expires_ns", "left_ns", "pid"]
OWNER_KEYS = ["type", "entry", "ticket", "pid", "created_ns", "expires_ns"]
SECOND = 1_000_000_000


@pytest.fixture
def new_arena(broker_path):
    """Factory: an arena served by shoal-broker, whose rounds (reaping, expiring) are `interval_ms` apart."""
    made = []

    def make(interval_ms=HOUR_MS):
        name = f"cli-test-inflight-{uuid.uuid4().hex[:8]}"
        proc = subprocess.Popen([broker_path, "--name", name, "--size", "16MiB", "--interval", str(interval_ms)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        made.append((proc, name))
        lines = LineReader(proc)
        while not lines.next().startswith("shoal-broker: serving"):
            pass
        return name

    yield make
    for proc, name in made:
        stop_process(proc)
        (SHM / f"shoal.{name}").unlink(missing_ok=True)


class Pickler:
    """An arena_fixture holding blocks, with an in-flight reference on each."""

    def __init__(self, proc, tickets, ready):
        self.proc = proc
        self.tickets = tickets  # [{"entry", "number", "block"}], in issue order
        fields = dict(part.split("=") for part in ready.split()[1:])
        self.pid = int(fields["pid"])
        self.slot = int(fields["slot"])

    def stop(self):
        stop_process(self.proc)
        assert self.proc.returncode == 0


@pytest.fixture
def pickle_blocks(fixture_path):
    """Factory: an arena_fixture that holds `blocks` blocks and issues an in-flight reference on each."""
    procs = []

    def make(arena, lifetime_ms, blocks=1, nbytes=5000, only=False):
        args = [fixture_path, "--name", arena, "--blocks", str(blocks), "--bytes", str(nbytes),
                "--in-flight-ms", str(lifetime_ms)]
        if only:
            args.append("--in-flight-only")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        lines = LineReader(proc)
        tickets = []
        while (line := lines.next()).startswith("TICKET"):
            tickets.append({k: v if k == "block" else int(v)
                            for k, v in (part.split("=") for part in line.split()[1:])})
        assert line.startswith("READY"), line
        assert len(tickets) == blocks
        return Pickler(proc, tickets, line)

    yield make
    for proc in procs:
        stop_process(proc)


@pytest.fixture
def shm_copy():
    """Factory: a copy of an arena's file under a new name; removed after the test."""
    made = []

    def make(arena):
        name = f"cli-test-inflight-copy-{uuid.uuid4().hex[:8]}"
        path = SHM / f"shoal.{name}"
        made.append(path)
        shutil.copyfile(SHM / f"shoal.{arena}", path)
        os.chmod(path, 0o600)
        return name, path

    yield make
    for path in made:
        path.unlink(missing_ok=True)


class Shoal:
    def __init__(self, path):
        self.path = path

    def run(self, *args, expect=0):
        result = subprocess.run([self.path, *args], capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert result.returncode >= 0, f"{args} died of signal {-result.returncode}: {result.stderr}"
        for sign in ("internal error", "runtime error:", "Sanitizer"):
            assert sign not in result.stderr, result.stderr
        if expect is not None:
            assert result.returncode == expect, (
                f"shoal {' '.join(args)} exited {result.returncode}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def json(self, *args, expect=0):
        doc = json.loads(self.run(*args, "--json", expect=expect).stdout)
        assert doc["json_version"] == 1
        return doc


@pytest.fixture
def shoal(cli_path):
    return Shoal(cli_path)


def objects_by_handle(shoal, arena):
    return {o["handle"]: o for o in shoal.json("objects", arena)["objects"]}


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.05)


# --------------------------------------------------------------- tests ----


def test_objects_show_an_in_flight_owner(shoal, new_arena, pickle_blocks):
    arena = new_arena()
    before = time.time_ns()
    p = pickle_blocks(arena, lifetime_ms=60_000, blocks=2)
    first, second = p.tickets
    assert first["entry"] != second["entry"]

    objects = objects_by_handle(shoal, arena)
    for ticket in p.tickets:
        obj = objects[ticket["block"]]
        assert obj["refcount"] == 2
        holder, in_flight = obj["held_by"]
        assert holder == {"type": "holder", "slot": p.slot, "pid": p.pid, "alive": True}
        assert list(in_flight) == OWNER_KEYS
        assert in_flight["type"] == "in_flight"
        assert in_flight["entry"] == ticket["entry"] and in_flight["ticket"] == ticket["number"]
        assert in_flight["pid"] == p.pid
        assert before <= in_flight["created_ns"] <= time.time_ns()
        assert abs(in_flight["expires_ns"] - in_flight["created_ns"] - 60 * SECOND) < SECOND

    out = shoal.run("objects", arena).stdout
    for ticket in p.tickets:
        row = next(line for line in out.splitlines() if line.startswith(ticket["block"] + " "))
        assert row.endswith(f"holder {p.slot} (pid {p.pid}), in-flight #{ticket['entry']}"), out

    # Grouped by owner, the pickles' references are one group.
    groups = {g["key"]: g for g in shoal.json("objects", arena, "--group-by", "holder")["groups"]}
    assert groups["in-flight"] == {"key": "in-flight", "count": 2, "bytes": 2 * block_bytes(5000)}
    assert "nobody" not in groups

    # watch shows the same rows.
    frame = json.loads(shoal.run("watch", arena, "--count", "1", "--json").stdout.splitlines()[0])
    assert {o["handle"]: [h["type"] for h in o["held_by"]] for o in frame["objects"]} == {
        t["block"]: ["holder", "in_flight"] for t in p.tickets}


def test_holders_list_in_flight_references(shoal, new_arena, pickle_blocks):
    arena = new_arena()
    doc = shoal.json("holders", arena)
    assert list(doc) == HOLDERS_DOC_KEYS and doc["in_flight"] == []
    p = pickle_blocks(arena, lifetime_ms=60_000)
    [ticket] = p.tickets

    doc = shoal.json("holders", arena)
    assert list(doc) == HOLDERS_DOC_KEYS
    [holder] = doc["holders"]
    assert holder["pid"] == p.pid and holder["refs_held"] == 1
    [entry] = doc["in_flight"]
    assert list(entry) == ENTRY_KEYS
    offset, generation = map(int, ticket["block"].split(":"))
    assert entry["entry"] == ticket["entry"] and entry["ticket"] == ticket["number"]
    assert (entry["handle"], entry["offset"], entry["generation"]) == (ticket["block"], offset, generation)
    assert entry["kind"] == "raw" and entry["size"] == block_bytes(5000)
    assert abs(entry["created_ns"] / SECOND - time.time()) < 30
    assert 0 <= entry["age_ns"] < 30 * SECOND
    assert abs(entry["expires_ns"] - entry["created_ns"] - 60 * SECOND) < SECOND
    assert 30 * SECOND < entry["left_ns"] <= 60 * SECOND
    assert entry["pid"] == p.pid

    out = shoal.run("holders", arena).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["SLOT", "PID", "INTERP", "STATE", "REFS", "HELD", "ATTACHED"]
    at = next(i for i, line in enumerate(lines) if line.startswith("ENTRY"))
    assert lines[at - 2] == "" and lines[at - 1].startswith("in-flight references"), out
    assert lines[at].split() == ["ENTRY", "BLOCK", "KIND", "SIZE", "AGE", "LEFT", "PID"]
    assert re.fullmatch(rf"\s*{ticket['entry']}\s+{ticket['block']}\s+raw\s+4\.9 KiB\s+\d+\.\d s\s+[56]\d\.\d s"
                        rf"\s+{p.pid}", lines[at + 1]), out
    assert "due" not in out

    # stat counts them (text only: its JSON keys are pinned by test_cli.py).
    assert re.search(r"^in-flight refs\s+1 \(held for pickles\)$", shoal.run("stat", arena).stdout, re.M)


def test_no_in_flight_references_add_nothing(shoal, new_arena):
    arena = new_arena()
    assert shoal.run("holders", arena).stdout == f"arena '{arena}' has no holders\n"
    assert "in-flight" not in shoal.run("stat", arena).stdout


def test_a_block_owned_only_by_an_in_flight_entry_is_sound(shoal, new_arena, pickle_blocks):
    arena = new_arena()
    p = pickle_blocks(arena, lifetime_ms=60_000, nbytes=100, only=True)  # small: a recyclable ledger entry
    [ticket] = p.tickets

    def only_in_flight():
        obj = objects_by_handle(shoal, arena)[ticket["block"]]
        assert obj["refcount"] == 1
        assert [(h["type"], h["entry"]) for h in obj["held_by"]] == [("in_flight", ticket["entry"])]

    only_in_flight()
    assert shoal.run("check", arena).stdout == f"arena '{arena}' is sound\n"
    assert "nobody" not in {g["key"] for g in shoal.json("objects", arena, "--group-by", "holder")["groups"]}

    # The sender goes away: the entry belongs to the arena and keeps the block.
    p.stop()
    only_in_flight()
    shoal.run("check", arena)
    doc = shoal.json("holders", arena)
    assert doc["holders"] == [] and [e["handle"] for e in doc["in_flight"]] == [ticket["block"]]
    out = shoal.run("holders", arena).stdout
    assert out.startswith(f"arena '{arena}' has no holders\n\nin-flight references"), out
    assert re.search(rf"^\s*{ticket['entry']}\s+{ticket['block']}\s+raw\s+100 B\s", out, re.M), out


def test_a_due_entry_still_owns_its_block_until_expired(shoal, new_arena, pickle_blocks):
    arena = new_arena()  # the broker's rounds are an hour apart: nobody ends the entry
    p = pickle_blocks(arena, lifetime_ms=100, only=True)
    [ticket] = p.tickets
    time.sleep(0.3)

    [entry] = shoal.json("holders", arena)["in_flight"]
    assert entry["left_ns"] < 0 and entry["expires_ns"] < time.time_ns()
    out = shoal.run("holders", arena).stdout
    assert re.search(rf"^\s*{ticket['entry']}\s+{ticket['block']}\s.*\sdue\s+{p.pid}$", out, re.M), out
    assert "past its deadline" in out
    assert [h["type"] for h in objects_by_handle(shoal, arena)[ticket["block"]]["held_by"]] == ["in_flight"]
    shoal.run("check", arena)


def test_the_broker_ends_an_entry_after_its_lifetime(shoal, new_arena, pickle_blocks):
    arena = new_arena(interval_ms=50)
    p = pickle_blocks(arena, lifetime_ms=1000, only=True)
    [ticket] = p.tickets
    # The fixture's holder keeps only its ledger block.
    baseline = shoal.json("stat", arena)["blocks"]["ledger"]["bytes"]

    assert [e["entry"] for e in shoal.json("holders", arena)["in_flight"]] == [ticket["entry"]]
    assert ticket["block"] in objects_by_handle(shoal, arena)

    wait_until(lambda: shoal.json("holders", arena)["in_flight"] == [], 4.0, "the broker ended no entry")
    assert objects_by_handle(shoal, arena) == {}  # its only reference went with it: freed
    assert shoal.json("stat", arena)["used_bytes"] == baseline
    assert "in-flight" not in shoal.run("holders", arena).stdout
    shoal.run("check", arena)


def test_a_damaged_in_flight_table_is_read_safely(shoal, new_arena, pickle_blocks, shm_copy):
    arena = new_arena()
    p = pickle_blocks(arena, lifetime_ms=60_000)
    [ticket] = p.tickets
    name, path = shm_copy(arena)
    # An entry past the real ones naming nothing, and an extent far beyond the table.
    garbage = IN_FLIGHT_ENTRY.pack(123_456_789, 42, 7, 1, 2, 2**64 - 1, -5, 0, 0)
    with open(path, "r+b") as f:
        f.seek(IN_FLIGHT_FIRST + 9 * IN_FLIGHT_ENTRY.size)
        f.write(garbage)
        f.seek(IN_FLIGHT_OFFSET)
        f.write(IN_FLIGHT_HEADER.pack(1, 2**64 - 1))

    doc = shoal.json("holders", name)
    assert [e["entry"] for e in doc["in_flight"]] == [ticket["entry"], 9]
    bad = doc["in_flight"][1]
    assert bad["handle"] == "123456789:42" and bad["kind"] is None and bad["size"] is None and bad["pid"] == -5
    out = shoal.run("holders", name).stdout
    assert re.search(r"^\s*9\s+123456789:42\s+-\s+-\s.*names no live block$", out, re.M), out
    # The real entry still owns its block; the bad one owns nothing.
    obj = objects_by_handle(shoal, name)[ticket["block"]]
    assert [h["type"] for h in obj["held_by"]] == ["holder", "in_flight"]
    problems = shoal.json("check", name, expect=1)["problems"]
    assert any("in-flight entry 9 names no live block" in text for text in problems), problems
    for command in ("stat", "objects", "watch"):
        shoal.run(command, name, *(["--count", "1"] if command == "watch" else []))


def test_random_damage_to_the_in_flight_table_never_crashes(shoal, new_arena, pickle_blocks, shm_copy):
    arena = new_arena()
    pickle_blocks(arena, lifetime_ms=60_000, blocks=3)
    pickle_blocks(arena, lifetime_ms=60_000, blocks=2, nbytes=100, only=True)
    name, path = shm_copy(arena)
    pristine = path.read_bytes()
    seed = int(os.environ.get("SHOAL_CLI_FUZZ_SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    for round_ in range(int(os.environ.get("SHOAL_CLI_FUZZ_ROUNDS", "25"))):
        data = bytearray(pristine)
        for _ in range(rng.randint(1, 8)):  # the table header and the first entries, where the live ones are
            data[IN_FLIGHT_OFFSET + rng.randrange(64 + 8 * IN_FLIGHT_ENTRY.size)] ^= 1 << rng.randrange(8)
        path.write_bytes(data)
        for command in ("stat", "holders", "objects", "check"):
            result = shoal.run(command, name, "--json", expect=None)
            assert result.returncode in (0, 1), f"seed {seed} round {round_}: {command} exited {result.returncode}"
            json.loads(result.stdout)
