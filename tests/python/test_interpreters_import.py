"""shoal._shoal in isolated subinterpreters (PEP 684: each with its own GIL).

These use CPython's low-level interpreter module (`_interpreters` on 3.13,
`_xxsubinterpreters` on 3.12); the public interpreters API is a later issue.
An isolated interpreter refuses extension modules that do not declare
per-interpreter-GIL support, so importing shoal there at all is the first
test.
"""

import pathlib
import sys
import textwrap
import threading

import pytest

import shoal

SHM = pathlib.Path("/dev/shm")

if sys.version_info >= (3, 13):
    import _interpreters as lowlevel

    def create_isolated():
        interp = lowlevel.create("isolated")
        assert lowlevel.get_config(interp).gil == "own"
        return interp

    def run(interp, code):
        failure = lowlevel.exec(interp, textwrap.dedent(code))
        if failure is not None:
            raise AssertionError(f"in subinterpreter {interp}:\n{failure.errdisplay}")

else:
    import _xxsubinterpreters as lowlevel

    def create_isolated():
        return lowlevel.create(isolated=True)

    def run(interp, code):
        try:
            lowlevel.run_string(interp, textwrap.dedent(code))
        except lowlevel.RunFailedError as error:
            raise AssertionError(f"in subinterpreter {interp}: {error}") from None


class Interpreters:
    """The isolated interpreters a test made; the fixture destroys those the
    test did not destroy itself."""

    def __init__(self):
        self.alive = []

    def new(self):
        interp = create_isolated()
        self.alive.append(interp)
        return interp

    def destroy(self, interp):
        self.alive.remove(interp)
        lowlevel.destroy(interp)


@pytest.fixture
def interpreters():
    made = Interpreters()
    yield made
    for interp in list(made.alive):
        made.destroy(interp)


def test_imports_in_an_isolated_interpreter(interpreters):
    run(
        interpreters.new(),
        """
        import shoal, shoal._shoal
        assert shoal.Arena.__module__ == "shoal"
        assert issubclass(shoal.ArenaFull, MemoryError)
        assert shoal.parse_size("64MiB") == 64 << 20
        """,
    )


def test_errors_are_raised_with_the_interpreters_own_classes(interpreters, arena_name):
    run(
        interpreters.new(),
        f"""
        import shoal
        try:
            shoal.Arena.attach({arena_name!r})
        except shoal.ArenaNotFound as error:
            assert isinstance(error, FileNotFoundError)
            assert {arena_name!r} in str(error)
        else:
            raise AssertionError("attach to a missing arena succeeded")
        """,
    )


def test_an_interpreter_attaches_and_destroying_it_releases_its_holder(interpreters, arena_name):
    with shoal.Arena("64MiB", name=arena_name) as arena:
        baseline = arena.stats()
        interp = interpreters.new()
        # The Arena stays open in the interpreter's __main__ after the run.
        run(
            interp,
            f"""
            import shoal
            arena = shoal.Arena.attach({arena_name!r})
            blocks = [arena.empty(100_000, "uint8") for _ in range(3)]
            """,
        )
        held = arena.stats()
        assert held["holders"] == baseline["holders"] + 1
        assert held["used"] >= baseline["used"] + 3 * 100_000

        interpreters.destroy(interp)  # without closing that Arena
        after = arena.stats()
        assert after["used"] == baseline["used"]
        assert after["holders"] == baseline["holders"]
        # Released by the interpreter's teardown, not reaped as dead.
        assert after["reaped_holders"] == baseline["reaped_holders"]
        assert arena.check() == []


def test_an_arena_created_in_an_interpreter_is_unlinked_when_it_is_destroyed(interpreters, arena_name):
    interp = interpreters.new()
    run(
        interp,
        f"""
        import shoal
        arena = shoal.Arena("16MiB", name={arena_name!r})
        """,
    )
    assert (SHM / f"shoal.{arena_name}").exists()
    with shoal.Arena.attach(arena_name) as attached:
        assert attached.stats()["holders"] == 2
        interpreters.destroy(interp)
        # Closing, not unlinked under our live holder: the last to leave unlinks it.
        assert (SHM / f"shoal.{arena_name}").exists()
        attached.empty(1000, "uint8")  # made and dropped: the holder works
        assert attached.stats()["holders"] == 1
        assert attached.check() == []
    assert not (SHM / f"shoal.{arena_name}").exists()


def test_interpreters_allocate_in_parallel(interpreters, arena_name):
    rounds = 2000
    with shoal.Arena("64MiB", name=arena_name) as arena:
        baseline = arena.stats()
        workers = [interpreters.new() for _ in range(2)]
        for interp in workers:
            run(interp, f"import shoal; arena = shoal.Arena.attach({arena_name!r})")
        failures = []

        def work(interp):
            try:
                run(
                    interp,
                    f"""
                    for size in range({rounds}):
                        arena.empty(64 + size, "uint8")  # made and dropped
                    arena.close()
                    """,
                )
            except AssertionError as error:
                failures.append(error)

        threads = [threading.Thread(target=work, args=(interp,)) for interp in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        after = arena.stats()
        assert after["used"] == baseline["used"]
        assert after["holders"] == baseline["holders"]
        assert arena.check() == []
