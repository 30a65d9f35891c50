"""Files in /dev/shm that are not what shoal expects: a FIFO or a symbolic
link under an arena's name, another user's arena, a dead creator's leftover
temporary. shoal refuses each at once with a typed error (never waits on
it), and never uses another user's arena unless asked to (other_user=True,
--other-user).

Whatever could hang runs in a child process with a timeout, so that a hang
fails the test instead of stalling the suite. The tests that give a file to
another user (uid 65534, 'nobody') need root, and skip without it.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

import shoal
from cli_programs import cli_path  # noqa: F401 (fixture)
from conftest import segment_path

NOBODY = 65534
TIMEOUT = 30  # seconds: far beyond any honest answer, short of a stuck suite
SHM = pathlib.Path("/dev/shm")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user (chown)")


def run_python(code, env=None):
    """Runs `code` in a fresh interpreter; raises TimeoutExpired if it hangs."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=TIMEOUT, env=env
    )


def dead_pid():
    """The pid of a process that has just ended (reused only after the pid space wraps)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


@pytest.fixture
def fifo(arena_name):
    os.mkfifo(segment_path(arena_name), 0o600)
    return arena_name


# ---------------------------------------------------------- FIFO, link ----


def test_attaching_a_fifo_fails_at_once(fifo):
    result = run_python(f"""
        import shoal
        try:
            shoal.Arena.attach({fifo!r})
        except shoal.NotAnArena as e:
            print("NotAnArena:", e)
        """)
    assert f"NotAnArena: {segment_path(fifo)} is not a shoal arena: it is a FIFO" in result.stdout, result


def test_a_symbolic_link_is_refused_even_to_a_real_arena(arena_name):
    link = f"{arena_name}-link"
    with shoal.Arena("4MiB", name=arena_name):
        os.symlink(segment_path(arena_name), segment_path(link))
        try:
            with pytest.raises(shoal.NotAnArena, match="it is a symbolic link"):
                shoal.Arena.attach(link)
        finally:
            segment_path(link).unlink()


CLI_RUNS = {
    "stat": [],
    "holders": [],
    "check": [],
    "objects": [],
    "channels": [],
    "dump": ["0"],
    "watch": ["--count", "1"],
    "reap": [],
    "destroy": [],
}


@pytest.mark.parametrize("command", sorted(CLI_RUNS))
def test_every_cli_command_refuses_a_fifo_at_once(cli_path, fifo, command):
    result = subprocess.run(
        [cli_path, command, fifo, *CLI_RUNS[command]], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 1, result
    assert f"{segment_path(fifo)} is not a shoal arena: it is a FIFO" in result.stderr
    assert segment_path(fifo).exists()  # destroy, too, leaves what is not an arena


def test_cli_ls_lists_a_fifo_as_not_an_arena(cli_path, fifo):
    result = subprocess.run([cli_path, "ls", "--json"], capture_output=True, text=True, timeout=TIMEOUT)
    [entry] = [u for u in json.loads(result.stdout)["unreadable"] if u["name"] == fifo]
    assert entry["error"]["code"] == "not_an_arena"


# ------------------------------------------------------ another user's ----


@pytest.fixture
def nobodys_arena(arena_name):
    """A live arena whose file now belongs to 'nobody' (its creator, this process, still maps it)."""
    with shoal.Arena("4MiB", name=arena_name) as arena:
        os.chown(segment_path(arena_name), NOBODY, NOBODY)
        yield arena


@needs_root
def test_another_users_arena_needs_other_user(nobodys_arena):
    with pytest.raises(shoal.ArenaPermissionError, match=f"belongs to .*uid {NOBODY}") as caught:
        shoal.Arena.attach(nobodys_arena.name)
    assert "other_user=True" in str(caught.value)
    with shoal.Arena.attach(nobodys_arena.name, other_user=True) as attached:
        assert attached.size == nobodys_arena.size
        assert attached.created is False


@needs_root
@pytest.mark.parametrize("command", ["stat", "holders", "check", "objects", "channels"])
def test_cli_opens_another_users_arena_only_with_other_user(cli_path, nobodys_arena, command):
    name = nobodys_arena.name
    refused = subprocess.run([cli_path, command, name, "--json"], capture_output=True, text=True, timeout=TIMEOUT)
    assert refused.returncode == 1, refused
    assert json.loads(refused.stdout)["error"]["code"] == "permission_denied"
    allowed = subprocess.run([cli_path, command, name, "--other-user"], capture_output=True, text=True, timeout=TIMEOUT)
    assert allowed.returncode == 0, allowed


@needs_root
def test_cli_ls_reads_another_users_arena_only_with_other_user(cli_path, nobodys_arena):
    name = nobodys_arena.name

    def ls(*flags):
        result = subprocess.run([cli_path, "ls", "--json", *flags], capture_output=True, text=True, timeout=TIMEOUT)
        return json.loads(result.stdout)

    [entry] = [u for u in ls()["unreadable"] if u["name"] == name]
    assert entry["error"]["code"] == "permission_denied"
    assert any(a["name"] == name for a in ls("--other-user")["arenas"])


# ------------------------------------------------ the default-arena sweep ----


def plant_orphaned_default(owner):
    """A default arena left by a dead process (its creator and only holder),
    its file given to `owner`. Returns its path."""
    result = run_python("""
        import os, shoal
        arena = shoal.Arena("4MiB", name=f"py-{os.getpid()}-d1")
        print(arena.name, flush=True)
        os._exit(0)  # as multiprocessing's workers end: the segment stays
        """)
    path = SHM / f"shoal.{result.stdout.strip()}"
    assert path.exists(), result
    os.chown(path, owner, owner)
    return path


def open_default_arena_in_a_child():
    env = {k: v for k, v in os.environ.items() if k != "SHOAL_ARENA"}
    result = run_python("""
        import shoal
        print(shoal.default_arena().name)
        """, env=env)
    assert result.returncode == 0, result


@needs_root
@pytest.mark.parametrize("owner, swept", [(0, True), (NOBODY, False)], ids=["ours", "another-users"])
def test_the_sweep_removes_our_orphans_and_leaves_other_users_files(owner, swept):
    path = plant_orphaned_default(owner)
    try:
        open_default_arena_in_a_child()
        assert path.exists() is not swept
    finally:
        path.unlink(missing_ok=True)


def test_the_sweep_skips_a_fifo_named_like_an_orphan():
    path = SHM / f"shoal.py-{dead_pid()}-d1"
    os.mkfifo(path, 0o600)
    try:
        open_default_arena_in_a_child()
        assert path.exists()
    finally:
        path.unlink(missing_ok=True)


# ----------------------------------------------------------- temporaries ----


def test_creating_removes_only_abandoned_temporaries(arena_name):
    """A creator builds its arena under a hidden temporary name; one that
    died meanwhile left it behind. The next create removes it, if its
    creator is gone and it is old: a live creator's, or a fresh one, stays."""
    me = os.getpid()
    start = int(pathlib.Path(f"/proc/{me}/stat").read_text().rsplit(")", 1)[1].split()[19])
    hour_ago = time.time() - 3600
    abandoned = SHM / f".shoal-new.{dead_pid()}.1.0123456789abcdef"
    fresh = SHM / f".shoal-new.{dead_pid()}.1.fedcba9876543210"
    live = SHM / f".shoal-new.{me}.{start}.00112233aabbccdd"
    planted = [abandoned, fresh, live]
    try:
        for path in planted:
            path.write_bytes(b"half-built")
        os.utime(abandoned, (hour_ago, hour_ago))
        os.utime(live, (hour_ago, hour_ago))
        with shoal.Arena("4MiB", name=arena_name):
            pass
        assert not abandoned.exists()
        assert fresh.exists()
        assert live.exists()
    finally:
        for path in planted:
            path.unlink(missing_ok=True)


def test_no_temporary_stays_after_create_or_a_lost_race(arena_name):
    def temporaries():
        return {p.name for p in SHM.glob(f".shoal-new.{os.getpid()}.*")}

    with shoal.Arena("4MiB", name=arena_name):
        with pytest.raises(shoal.ArenaExists):
            shoal.Arena("4MiB", name=arena_name)
    assert temporaries() == set()
