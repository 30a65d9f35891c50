"""shoal.interpreters: create, Interpreter, Task, run, running, errors crossing back."""

import gc
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import interp_work
import shoal
from shoal import interpreters
from shoal.interpreters import ExecutionFailed, InterpreterError, InterpreterNotFoundError


@pytest.fixture
def interp():
    made = interpreters.create()
    yield made
    made.close()


def default_used():
    gc.collect()
    return shoal.default_arena().used


# "Nothing left allocated" is `used <= before`, not `==`: a pickle's
# in-flight reference left in the default arena by an earlier test (Dask's,
# shared for its lifetime) may expire meanwhile, freeing its block, which can
# only lower `used`. A leak raises it by at least the block it kept.


# ------------------------------------------------------------ interpreters ----


def test_create_call_and_identity(interp):
    assert interp.isolated
    assert interp.id != interpreters.get_main().id
    assert interp.call(interp_work.add, 2, b=3) == 5
    assert interp.call(interp_work.current_interpreter_id) == interp.id
    assert interpreters.Interpreter(interp.id) is interp
    ids = [i.id for i in interpreters.list_all()]
    assert ids[0] == interpreters.get_main().id and interp.id in ids
    assert interpreters.get_current() == interpreters.get_main()


def test_values_of_every_kind_round_trip(interp):
    value = {"n": None, "t": (True, 2**100, 1.5, "é", b"x"), "l": [1, [2]], "s": {3}, "f": frozenset({4})}
    assert interp.call(interp_work.add, value["l"], [3]) == [1, [2], 3]
    interp.prepare_main(v=value)
    interp.exec("assert v['t'][1] == 2**100 and v['s'] == {3} and v['f'] == frozenset({4})")


def test_buffers_cross_without_a_copy(interp):
    buf = shoal.empty(1 << 20, dtype="uint8")
    view = memoryview(buf)
    view[:] = b"\x01" * len(view)
    view.release()  # a writable view alive would refuse the send
    assert interp.call(interp_work.byte_sum, buf) == 1 << 20
    # Same memory on both sides: the address the other interpreter sees is ours.
    assert interp.call(interp_work.data_address, buf) == buf.__array_interface__["data"][0]
    view.release()
    assert buf.readonly  # sent, so read-only from now on
    with pytest.raises(TypeError):
        memoryview(buf)[0] = 2


def test_results_with_buffers_come_back_as_views(interp):
    interp.exec("import shoal\nb = shoal.empty(4096, 'uint8')\nmemoryview(b)[:] = b'\\x07' * 4096")
    address = interp.call(interp_work.eval_in_main, "b.__array_interface__['data'][0]")
    back = interp.call(interp_work.eval_in_main, "b")
    assert bytes(memoryview(back)[:3]) == b"\x07\x07\x07"
    assert back.__array_interface__["data"][0] == address


def test_prepare_main_and_exec(interp):
    interp.prepare_main({"a": 1}, b=2)
    interp.exec("c = a + b")
    assert interp.call(interp_work.eval_in_main, "c") == 3
    with pytest.raises(ValueError, match="not a valid name"):
        interp.prepare_main({"not a name": 1})


def test_exec_failure_is_execution_failed(interp):
    with pytest.raises(ExecutionFailed) as info:
        interp.exec("raise KeyError('missing')")
    assert info.value.excinfo.type.__name__ == "KeyError"
    assert "missing" in info.value.excinfo.msg
    assert "raise KeyError" in info.value.excinfo.formatted or "KeyError" in info.value.excinfo.formatted
    interp.exec("x = 1")  # still usable


def test_exception_crosses_back_as_itself(interp):
    with pytest.raises(ValueError) as info:
        interp.call(interp_work.fail, "bad", 7)
    assert info.value.args == ("bad", 7)
    cause = info.value.__cause__
    assert isinstance(cause, ExecutionFailed)
    assert cause.excinfo.type.__qualname__ == "ValueError"
    assert "interp_work.py" in cause.excinfo.formatted and "in fail" in cause.excinfo.formatted
    assert interp.call(interp_work.add, 1, 1) == 2  # usable after


def test_exception_that_cannot_be_rebuilt_is_execution_failed(interp):
    with pytest.raises(ExecutionFailed) as info:
        interp.call(interp_work.fail_unpicklable)
    assert info.value.excinfo.type.__qualname__ == "Unpicklable"
    assert info.value.excinfo.msg == "1+2"
    # A class that only exists over there (defined by exec in its __main__).
    interp.exec("class OnlyHere(Exception):\n    pass\ndef raise_it():\n    raise OnlyHere('x')")
    with pytest.raises(ExecutionFailed, match="OnlyHere"):
        interp.exec("raise_it()")


def test_result_that_cannot_be_sent_names_the_problem(interp):
    with pytest.raises(TypeError, match="generator"):
        interp.call(interp_work.return_generator)


def test_lambdas_and_closures_are_refused_with_a_fix(interp):
    with pytest.raises(TypeError, match="lambda.*top level of a module"):
        interp.call(lambda: 1)

    def nested():
        return 1

    with pytest.raises(TypeError, match="inside another function"):
        interpreters.Task(target=nested)
    with pytest.raises(TypeError, match="function or a source string"):
        interpreters.Task(target=42)
    with pytest.raises(TypeError, match="source string takes no arguments"):
        interpreters.run("x = 1", 5)


def test_unsendable_argument_names_its_place(interp):
    before = default_used()
    with pytest.raises(TypeError, match=r"\[2\].*generator"):
        interp.call(interp_work.add, 1, (i for i in range(2)))
    assert default_used() <= before


def test_close_rules():
    interp = interpreters.create()
    task = interp.run(interp_work.sleep_then, 0.5, "done")
    time.sleep(0.1)
    with pytest.raises(InterpreterError, match="running"):
        interp.close()
    assert interp.is_running()
    assert task.result(timeout=30) == "done"
    interp.close()
    interp.close()  # twice is harmless
    with pytest.raises(InterpreterNotFoundError):
        interp.call(interp_work.noop)
    assert interp.id not in [i.id for i in interpreters.list_all()]
    with pytest.raises(InterpreterError):
        interpreters.get_main().close()


def test_calling_the_main_interpreter_is_refused():
    with pytest.raises((InterpreterError, RuntimeError)):
        interpreters.get_main().call(interp_work.noop)


def test_context_manager_closes():
    with interpreters.create() as interp:
        assert interp.call(interp_work.square, 4) == 16
    assert interp.id not in [i.id for i in interpreters.list_all()]


def open_ids():
    return {i.id for i in interpreters.list_all()}


def test_an_interpreter_is_closed_when_its_last_reference_goes():
    interp = interpreters.create()
    interp_id = interp.id
    assert interp.call(interp_work.square, 3) == 9
    del interp
    gc.collect()
    assert interp_id not in open_ids()
    assert interp_id not in shoal._shoal._interp_list()


def test_a_loop_that_forgets_close_leaks_no_interpreters():
    before = open_ids()
    for i in range(5):
        assert interpreters.create().call(interp_work.square, i) == i * i
    gc.collect()
    assert open_ids() == before


def test_an_interpreter_running_a_task_stays_open_until_the_task_is_done():
    task = interpreters.create().run(interp_work.sleep_then, 0.3, "done")
    interp_id = task.interpreter.id
    gc.collect()
    assert interp_id in open_ids()
    assert task.result(timeout=30) == "done"
    del task
    gc.collect()
    assert interp_id not in open_ids()


def test_interpreter_objects_not_made_by_create_close_nothing(interp):
    interpreters.Interpreter(interpreters.get_main().id)  # dropped at once: nothing happens
    other = interpreters.Interpreter(interp.id)
    assert other is interp
    del other
    assert interp.call(interp_work.square, 2) == 4


def test_whence_as_3_14_spells_it(interp):
    assert interpreters.get_main().whence == "runtime init"
    assert interp.whence == "C-API"  # made through Py_NewInterpreterFromConfig


def test_list_all_lists_interpreters_shoal_did_not_make():
    try:
        import _interpreters as low_level
    except ImportError:
        import _xxsubinterpreters as low_level
    handle = low_level.create()  # 3.12: an InterpreterID, whose last reference destroys it
    made = int(handle)
    try:
        listed = {i.id: i for i in interpreters.list_all()}
        assert made in listed
        if sys.version_info >= (3, 13):
            assert listed[made].whence == "_interpreters module"
        else:
            assert listed[made].whence == "unknown"
        del listed
    finally:
        low_level.destroy(handle)
    assert made not in open_ids()


def test_is_shareable():
    buf = shoal.empty(8, "uint8")
    channel = shoal.Channel()
    try:
        shareable = [None, True, 3, 2**100, 1.5, "text", b"bytes", memoryview(b"ab"), (1, "a"), [1, [2, (3,)]],
                     {"a": {1, 2}}, frozenset({b"x"}), buf, channel, shoal.freeze({"k": [1, 2]}), [buf, buf]]
        for value in shareable:
            assert interpreters.is_shareable(value), value

        class Int(int):
            pass

        looped = [1]
        looped.append(looped)
        not_shareable = [object(), Int(3), interp_work.Box(1), [1, object()], {"a": Int(1)}, {Int(1): 1}, looped,
                         interp_work.square, ...]
        for value in not_shareable:
            assert not interpreters.is_shareable(value), value
    finally:
        channel.close()


def test_float16_arrives_in_an_interpreter_as_an_array(interp):
    # An isolated interpreter cannot import NumPy: a pickled array could not
    # be rebuilt there, an array arrives as a shoal.Buffer.
    np = pytest.importorskip("numpy")
    got = interp.call(interp_work.describe_array, np.array([[1.5, 2.5]], dtype="float16"))
    assert got == ("Buffer", "<f2", "e", [[1.5, 2.5]])


def test_legacy_interpreter_imports_single_phase_extensions():
    # The stdlib's _curses has single-phase init: refused by isolated
    # interpreters, accepted by legacy ones, which share the main GIL.
    # (NumPy 2 refuses every subinterpreter itself: "cannot load module more
    # than once per process"; arrays arrive there as shoal.Buffer.)
    import importlib.util

    if importlib.util.find_spec("_curses") is None:
        pytest.skip("this Python was built without _curses, the single-phase extension used here")
    with interpreters.create(isolated=False) as legacy:
        assert not legacy.isolated
        assert legacy.call(interp_work.import_module, "_curses") == "_curses"
    with interpreters.create() as isolated:
        with pytest.raises(ImportError, match="subinterpreters"):
            isolated.call(interp_work.import_module, "_curses")


def test_closing_releases_what_the_interpreter_held():
    before = default_used()
    interp = interpreters.create()
    interp.exec("import shoal\nkept = [shoal.empty(1 << 20, 'uint8') for _ in range(4)]")
    buf = shoal.empty(1 << 20, "uint8")
    interp.prepare_main(also=buf)
    del buf
    assert default_used() >= before + (5 << 20)
    interp.close()
    assert default_used() <= before


# ------------------------------------------------------------------- tasks ----


def test_task_is_a_thread_with_a_result():
    task = interpreters.Task(target=interp_work.add, args=(1,), kwargs={"b": 2}, name="adder")
    assert isinstance(task, threading.Thread)
    assert task.name == "adder" and not task.done() and task.ident is None
    with pytest.raises(RuntimeError, match="not been started"):
        task.result()
    task.start()
    task.join(timeout=60)
    assert not task.is_alive() and task.done()
    assert task.result() == 3 and task.exception() is None
    assert task.ident is not None


def test_task_exception_and_timeout(interp):
    task = interp.run(interp_work.fail, "x")
    assert isinstance(task.exception(timeout=60), ValueError)
    with pytest.raises(ValueError) as info:
        task.result()
    assert isinstance(info.value.__cause__, ExecutionFailed)

    slow = interp.run(interp_work.sleep_then, 0.5, 1)
    with pytest.raises(TimeoutError):
        slow.result(timeout=0.01)
    assert slow.result(timeout=30) == 1


def test_an_exception_nobody_retrieves_is_reported_once_as_threading_does(monkeypatch):
    reported = []
    monkeypatch.setattr(threading, "excepthook", reported.append)
    task = interpreters.Task(target=interp_work.fail, args=("lost",))
    task.start()
    task.join()
    name = task.name
    del task
    gc.collect()
    assert len(reported) == 1
    args = reported[0]
    assert args.exc_type is ValueError and args.exc_value.args == ("lost",) and args.thread.name == name

    retrieved = interpreters.Task(target=interp_work.fail, args=("seen",))
    retrieved.start()
    assert isinstance(retrieved.exception(), ValueError)
    del retrieved
    gc.collect()
    assert len(reported) == 1, "an exception someone asked for is not reported again"


def test_a_task_closes_its_channels_when_it_ends_even_failing():
    ch = shoal.Channel(8, name="stage-out")
    task = interpreters.Task(target=interp_work.send_then_fail, args=(ch, [1, 2, 3]), closes=[ch])
    task.start()
    received = list(ch)  # ends at ChannelClosed, once drained
    assert received == [1, 2, 3]
    assert isinstance(task.exception(5), ValueError)
    assert ch.closed
    with pytest.raises(TypeError, match="closes takes shoal.Channel objects"):
        interpreters.Task(target=interp_work.noop, closes=["not a channel"])


def test_running_inside_a_task_and_outside(interp):
    assert interpreters.running() is None
    task = interpreters.Task(target=interp_work.running_task, name="who", interpreter=interp)
    task.start()
    name, interp_id, ident, alive = task.result(timeout=60)
    assert (name, interp_id, alive) == ("who", interp.id, True)
    assert ident == task.ident  # the same OS thread, switched into the interpreter


def test_source_string_task():
    task = interpreters.run("import sys\nassert sys.version_info >= (3, 12)")
    assert task.result(timeout=60) is None
    failing = interpreters.run("raise ValueError('from source')")
    with pytest.raises(ValueError, match="from source") as info:
        failing.result(timeout=60)
    assert isinstance(info.value.__cause__, ExecutionFailed)


def test_run_uses_a_fresh_interpreter_closed_afterwards():
    before = {i.id for i in interpreters.list_all()}
    task = interpreters.run(interp_work.current_interpreter_id)
    interp_id = task.result(timeout=60)
    assert interp_id not in before
    assert interp_id not in {i.id for i in interpreters.list_all()}
    assert task.interpreter.id == interp_id


def test_call_in_thread_and_parallel_tasks(interp):
    other = interpreters.create()
    try:
        tasks = [i.call_in_thread(interp_work.sleep_then, 0.2, i.id) for i in (interp, other)]
        assert [t.result(timeout=60) for t in tasks] == [interp.id, other.id]
    finally:
        other.close()


def test_channels_pass_as_arguments(interp):
    requests = shoal.Channel(4)
    replies = shoal.Channel(4)
    task = interp.run(interp_work.echo_through_pair, requests, replies, 3)
    for value in ("a", b"b", {"c": [1]}):
        requests.send(value)
        assert replies.recv(timeout=30) == value
    assert task.result(timeout=60) == 3


def test_buffer_sent_back_through_a_channel_is_the_same_memory(interp):
    np = pytest.importorskip("numpy")
    ch = shoal.Channel(2)
    buf = shoal.empty(4096, dtype="uint8")
    task = interp.run(interp_work.echo_through, ch, 1)
    ch.send(buf)
    task.result(timeout=60)
    back = ch.recv(timeout=30)
    assert np.shares_memory(np.asarray(back), np.asarray(buf))


# ------------------------------------------------------- scripts' __main__ ----


def test_functions_of_the_main_script_resolve(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            from shoal import interpreters, SubinterpreterExecutor

            def triple(x):
                return 3 * x

            class Point:
                def __init__(self, x):
                    self.x = x

            def make_point(x):
                return Point(x)

            if __name__ == "__main__":
                with interpreters.create() as interp:
                    print(interp.call(triple, 5))
                    print(type(interp.call(make_point, 2)).__name__)
                with SubinterpreterExecutor(2) as pool:
                    print(sum(pool.map(triple, range(10))))
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["15", "Point", "135"]


def test_interpreters_left_open_are_closed_at_exit(tmp_path):
    script = tmp_path / "leave_open.py"
    script.write_text(
        textwrap.dedent(
            """
            import shoal
            from shoal import interpreters
            interp = interpreters.create()
            interp.exec("import shoal\\nb = shoal.empty(1 << 20, 'uint8')")
            print("ok")
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "Fatal" not in result.stderr


def test_a_script_that_imports_numpy_at_top_level_gets_a_hint(tmp_path):
    pytest.importorskip("numpy")
    script = tmp_path / "uses_numpy.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy
            from shoal import interpreters

            def work():
                return 1

            if __name__ == "__main__":
                with interpreters.create() as interp:
                    try:
                        interp.call(work)
                    except ImportError as exc:
                        print("hint" if "move the function to a module" in str(exc) else str(exc))
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hint"


# ------------------------------------------------ lifecycle corner cases ----


def test_an_interpreter_can_create_its_own(interp):
    # Inside an isolated interpreter (no daemon threads allowed there).
    where, total = interp.call(interp_work.nested_create_and_call, 2, 3)
    assert (where, total) == (interp.id, 5)


def test_a_lookup_error_while_sending_is_not_a_closed_interpreter(interp):
    with pytest.raises(TypeError, match="cannot be pickled") as info:
        interp.call(interp_work.add, interp_work.RaisesKeyErrorWhenPickled(), 1)
    assert not isinstance(info.value, InterpreterNotFoundError)


def test_tasks_are_never_daemons():
    with pytest.raises(ValueError, match="daemon"):
        interpreters.Task(target=interp_work.noop, daemon=True)
    assert not interpreters.Task(target=interp_work.noop).daemon


def test_a_channel_as_args_is_refused_not_drained():
    # A Channel is iterable: tuple(channel) would receive until it closes.
    channel = shoal.Channel()
    with pytest.raises(TypeError, match=r"args=\(channel,\)"):
        interpreters.Task(interp_work.noop, channel)
    assert interpreters.Task(interp_work.noop, (channel,))._task_args == (channel,)


def _run_script(tmp_path, source):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)


def test_a_task_still_running_at_exit_is_waited_for_and_closed(tmp_path):
    result = _run_script(
        tmp_path,
        """
        import sys
        sys.path.insert(0, %r)
        import interp_work
        from shoal import interpreters
        task = interpreters.run(interp_work.sleep_then, 0.5, "late")
        pool_interp = interpreters.create()
        print("leaving", flush=True)
        """
        % str(pathlib.Path(__file__).parent),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "leaving"
    assert "Fatal" not in result.stderr and "Traceback" not in result.stderr
