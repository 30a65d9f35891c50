"""The end of the process while threads and Tasks wait in shoal, and close() waking waits.

Each exit test runs a child program (subprocess, with a timeout) and looks
at how it ended: return code, stderr, and whether its default arena's file
is left in /dev/shm.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import shoal
from shoal import interpreters

import interp_work

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 60  # seconds: a child that takes this long has hung


def run_child(source, *args):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=HERE,
    )


def arena_file(name):
    return f"/dev/shm/shoal.{name}"


# ------------------------------------------------------ daemon threads ----

DAEMONS_AT_EXIT = """
    import threading, time
    import shoal

    a, b = shoal.Channel(), shoal.Channel()
    print(shoal.default_arena().name, flush=True)
    threading.Thread(target=a.recv, daemon=True).start()
    threading.Thread(target=shoal.select, args=(a, b), daemon=True).start()
    threading.Thread(target=lambda: [x for x in b], daemon=True).start()
    time.sleep(0.2)  # all three are waiting when the main thread ends
"""


def test_daemon_threads_blocked_at_exit_end_cleanly():
    # The abort was probabilistic (12 to 19 of 20 runs): run it ten times.
    for _ in range(10):
        done = run_child(DAEMONS_AT_EXIT)
        name = done.stdout.split()[0]
        left = os.path.exists(arena_file(name))
        if left:
            os.unlink(arena_file(name))
        assert "terminate" not in done.stderr
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""  # ProcessExiting ends a thread quietly
        assert not left, f"the default arena {name} was left in /dev/shm"


def test_a_daemon_thread_sending_in_a_loop_at_exit_ends_cleanly():
    # A thread that keeps entering and leaving shoal (no long wait) when
    # the process ends: it must never be ended inside shoal's frames.
    source = """
        import threading, time
        import shoal

        ch = shoal.Channel(capacity=4)
        print(shoal.default_arena().name, flush=True)
        def pump():
            while True:
                try:
                    ch.try_send(1)
                except shoal.Full:
                    ch.try_recv()
        for _ in range(3):
            threading.Thread(target=pump, daemon=True).start()
        time.sleep(0.2)
    """
    # Such a thread may be parked at exit still holding the default arena:
    # its file must go all the same.
    for _ in range(5):
        done = run_child(source)
        name = done.stdout.split()[0]
        left = os.path.exists(arena_file(name))
        if left:
            os.unlink(arena_file(name))
        assert "terminate" not in done.stderr
        assert done.returncode == 0, done.stderr
        assert not left, f"the default arena {name} was left in /dev/shm"


# --------------------------------------------------- Ctrl-C, twice ----

BLOCKED_THEN_CTRL_C = """
    import sys, threading
    import shoal
    from shoal import interpreters
    import interp_work

    ch = shoal.Channel()
    if sys.argv[1] == "task":
        waiter = interpreters.run(interp_work.recv_one, ch)
    elif sys.argv[1] == "spinning task":
        waiter = interpreters.run(interp_work.spin)
    else:
        waiter = threading.Thread(target=ch.recv)
        waiter.start()
    print("ready", flush=True)
    waiter.join()
"""


def interrupt_twice(kind):
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(BLOCKED_THEN_CTRL_C), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    try:
        assert child.stdout.readline() == "ready\n"
        time.sleep(0.3)  # into the wait
        child.send_signal(signal.SIGINT)
        # The first Ctrl-C behaves like the stdlib's: shutdown waits for the
        # non-daemon thread or Task, which still waits in recv. (3.12 itself
        # stops waiting for a thread after a Ctrl-C in join(); never for a Task.)
        try:
            child.wait(timeout=1.0)
            assert kind == "thread" and sys.version_info < (3, 13), "the first Ctrl-C did not wait"
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return child.returncode, err


@pytest.mark.parametrize("kind", ["task", "thread"])
def test_ctrl_c_twice_while_blocked_in_recv_exits(kind):
    returncode, err = interrupt_twice(kind)
    assert "Fatal Python error" not in err
    assert "terminate" not in err
    assert returncode != -signal.SIGABRT, err
    assert "KeyboardInterrupt" in err


def test_ctrl_c_twice_with_a_task_that_never_waits_in_shoal_exits_saying_why():
    # It cannot be interrupted, and CPython must not end its interpreter
    # under it: the process exits without finalising it, and says so.
    returncode, err = interrupt_twice("spinning task")
    assert "Fatal Python error" not in err
    assert returncode == 1, err
    assert "still run code that does not wait in shoal" in err


def test_a_task_join_interrupted_by_ctrl_c_leaves_the_task_running_and_joinable():
    # CPython 3.12's Thread.join, interrupted, marks the joined thread
    # stopped while it still runs; a Task must not believe it, or shutdown
    # would not wait for it and its interpreter would outlive finalisation.
    ch = shoal.Channel()
    task = interpreters.run(interp_work.recv_one, ch)
    main = threading.main_thread().ident
    threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        task.join(TIMEOUT)
    assert task.is_alive()
    task.join(0.2)
    assert task.is_alive() and not task.done()
    ch.send("last")
    task.join(TIMEOUT)
    assert not task.is_alive()
    assert task.result() == "last"


def test_a_task_woken_at_exit_reports_process_exiting():
    # Once the process exits, a waiting call in a Task raises ProcessExiting
    # (a SystemExit, so `except Exception` in the Task does not hold it).
    source = """
        import shoal
        from shoal import interpreters
        import interp_work

        ch = shoal.Channel()
        task = interpreters.run(interp_work.receive_swallowing_exceptions, ch)
        shoal._shoal._begin_exit()  # what shutdown does
        error = task.exception(timeout=30)
        print(type(error).__name__, isinstance(error, SystemExit))
    """
    done = run_child(source)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ProcessExiting", "True"]


# ---------------------------------------------------- close() wakes ----


def blocked(target, *args):
    """Runs target(*args) on a thread; the thread and a box for what it raised."""
    box = []

    def run():
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - examined by the test
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.2)  # into the wait
    return thread, box


def test_close_wakes_a_recv_blocked_in_another_thread():
    ch = shoal.Channel()
    thread, box = blocked(ch.recv)
    ch.close()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert len(box) == 1 and isinstance(box[0], shoal.ChannelClosed)


def test_close_wakes_a_send_blocked_in_another_thread():
    ch = shoal.Channel(capacity=1)
    ch.send("fills it")
    thread, box = blocked(ch.send, "waits")
    ch.close()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert len(box) == 1 and isinstance(box[0], shoal.ChannelClosed)


def test_close_wakes_a_select_blocked_in_another_thread():
    a, b = shoal.Channel(), shoal.Channel()
    thread, box = blocked(shoal.select, a, b)
    b.close()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert len(box) == 1 and isinstance(box[0], shoal.ChannelClosed) and box[0].channel is b


def test_close_wakes_a_recv_blocked_in_a_task():
    ch = shoal.Channel()
    task = interpreters.run(interp_work.recv_one, ch)
    time.sleep(0.3)
    ch.close()
    assert isinstance(task.exception(timeout=TIMEOUT), shoal.ChannelClosed)


def test_close_wakes_a_recv_blocked_in_another_process():
    ch = shoal.Channel()
    import pickle

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pickle, sys, shoal\n"
            "ch = pickle.loads(bytes.fromhex(sys.argv[1]))\n"
            "print('ready', flush=True)\n"
            "try:\n    ch.recv()\nexcept shoal.ChannelClosed:\n    print('closed')\n",
            pickle.dumps(ch).hex(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    try:
        assert child.stdout.readline() == "ready\n"
        time.sleep(0.3)
        ch.close()
        out, err = child.communicate(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert out == "closed\n", err


def test_a_thread_ended_by_process_exiting_prints_nothing():
    # threading's excepthook silences SystemExit by exact type: without
    # shoal's wrapper, a daemon thread woken at exit printed "Exception in
    # thread ..." whenever it ran before the process was gone.
    source = """
        import threading
        import shoal
        from shoal import _exit

        _exit.quiet_process_exiting()
        def ended():
            raise shoal.ProcessExiting("the process is exiting")
        def failed():
            raise ValueError("still reported")
        for target in (ended, failed):
            t = threading.Thread(target=target)
            t.start()
            t.join()
    """
    done = run_child(source)
    assert done.returncode == 0, done.stderr
    assert "ProcessExiting" not in done.stderr
    assert "ValueError: still reported" in done.stderr
